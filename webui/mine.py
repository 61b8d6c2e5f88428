""""Mine saker": the cases I started, took part in or follow, and following a case."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from .auth import engine

bp = Blueprint("mine", __name__)


@bp.get("/mine")
@login_required
def my_cases():
    return render_template("mine.html", cases=engine().my_cases(current_user.name),
                           process_names=engine().process_names())


@bp.post("/instances/<instance_id>/follow")
@login_required
def follow(instance_id: str):
    following = request.form.get("follow") != "0"
    engine().follow(instance_id, actor=current_user.name, following=following)
    flash(_("You follow the case: it is listed under “My cases”.") if following
          else _("You no longer follow the case."), "info")
    return redirect(url_for("instances.show", instance_id=instance_id))
