""""Mine saker": the cases I started, took part in or follow, following a case, and
finding any case I may see by its title, business key, process or status."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.queries.search import STATUSES

from .auth import engine

bp = Blueprint("mine", __name__)


@bp.get("/mine")
@login_required
def my_cases():
    return render_template("mine.html", cases=engine().history.my_cases(current_user.name),
                           process_names=engine().repository.process_names())


@bp.get("/cases")
@login_required
def search():
    """The caseworkers' search, within the cases the user may open (the case page's rule)."""
    text = request.args.get("q", "").strip()[:200]
    process_key = request.args.get("process", "")
    status = request.args.get("status", "")
    asked = bool(text or process_key or status)
    found, total = engine().history.search_cases(current_user.name, text=text,
                                                 process_key=process_key, status=status) \
        if asked else ([], 0)
    return render_template("case_search.html", found=found, total=total, asked=asked,
                           text=text, process_key=process_key, status=status,
                           process_names=engine().repository.process_names(), statuses=STATUSES)


@bp.post("/instances/<instance_id>/follow")
@login_required
def follow(instance_id: str):
    following = request.form.get("follow") != "0"
    engine().history.follow(instance_id, actor=current_user.name, following=following)
    flash(_("You follow the case: it is listed under “My cases”.") if following
          else _("You no longer follow the case."), "info")
    return redirect(url_for("instances.show", instance_id=instance_id))
