"""Starting a case: the processes the user may start, each with its start form."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import InvalidInput, PermissionDenied

from .auth import engine
from .form_input import from_post
from .forms_view import form_view, start_form
from .messages import problems, said

bp = Blueprint("start", __name__)


@bp.get("/start")
@login_required
def choose():
    return render_template("start_list.html",
                           definitions=engine().repository.startable(current_user.name))


@bp.route("/start/<process_key>", methods=["GET", "POST"])
@login_required
def start_page(process_key: str):
    definition = engine().repository.latest(process_key)
    if not engine().roles.may_start(current_user.name, current_user.groups,
                                    definition.starter_groups):
        raise PermissionDenied(_("You may not start this process.")).coded(
            "may_not_start", name=definition.name or definition.key,
            groups=list(definition.starter_groups))
    context = engine().context_variables()
    errors: dict[str, str] = {}
    data: dict = {}
    business_key = ""
    if request.method == "POST":
        form = start_form(engine(), definition)
        data = from_post(form.fields, request.form) if form else {}
        business_key = (request.form.get("business_key") or "").strip()[:200]
        try:
            instance = engine().runtime.start(process_key, actor=current_user.name, data=data,
                                              business_key=business_key or None)
        except InvalidInput as err:
            errors = problems(err)
        else:
            reporter = instance.started_by  # `anonym` when the reporter asked for it
            for upload in request.files.getlist("file"):
                if upload and upload.filename:
                    try:
                        engine().runtime.attach(instance.id, actor=reporter,
                                                filename=upload.filename, content=upload.read(),
                                                field="dokumentasjon")
                    except InvalidInput as err:
                        flash(_("The case was started, but a file was refused: %(why)s",
                                why=said(err)), "error")
            code = getattr(instance, "receipt_code", None)
            if code:
                # shown in this response only: the code is the one link between the
                # reporter and an anonymous report, so it goes in no cookie, URL or log
                response = make_response(render_template("receipt_issued.html", code=code),
                                         201)
                response.headers["Cache-Control"] = "no-store"
                return response
            flash(_("The case was started."), "success")
            return redirect(url_for("instances.show", instance_id=instance.id))
    view = form_view(lambda: start_form(engine(), definition), context, data, errors)
    if view.problem:
        abort(500)
    return render_template("start.html", definition=definition, view=view,
                           business_key=business_key), 422 if errors else 200
