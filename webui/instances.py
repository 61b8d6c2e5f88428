"""The instance page: diagram with done and active steps, tasks, data, history, documents."""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, render_template
from flask_login import current_user, login_required

from engine.errors import NotFound, PermissionDenied

from .auth import engine
from .case_data import use_case

bp = Blueprint("instances", __name__)


def _may_view(instance_id: str) -> None:
    if not engine().history.may_view(current_user.name, instance_id):
        raise PermissionDenied("you may not see this case").coded("may_not_see_case",
                                                                  case=instance_id)


@bp.get("/instances/<instance_id>")
@login_required
def show(instance_id: str):
    _may_view(instance_id)
    engine().history.record_read(instance_id, actor=current_user.name, what="case")
    shown = engine().history.show(instance_id)
    diagrams = engine().history.progress(instance_id)
    events = engine().history.events(instance_id)
    use_case(instance_id)
    return render_template("instance.html", instance=shown, diagrams=diagrams, events=events,
                           attachments=engine().history.attachments(instance_id),
                           title=engine().history.case_titles([instance_id]).get(instance_id),
                           following=engine().history.follows(instance_id, actor=current_user.name),
                           suspended=bool(engine().suspension.suspended_among([instance_id])),
                           may_hold=engine().roles.may_deploy(current_user.name,
                                                              current_user.groups))


@bp.get("/instances/<instance_id>/diagram/<int:definition_id>.bpmn")
@login_required
def diagram(instance_id: str, definition_id: int):
    _may_view(instance_id)
    row = engine().history.instance(instance_id)
    if definition_id != row.definition_id and definition_id not in row.bindings.values():
        raise NotFound("this diagram does not belong to the case")
    return Response(engine().repository.definition_xml(definition_id), mimetype="application/xml")


@bp.get("/attachments/<int:attachment_id>")
@login_required
def download(attachment_id: int):
    attachment = engine().history.attachment(attachment_id)
    _may_view(attachment.instance_id)
    engine().history.record_read(attachment.instance_id, actor=current_user.name,
                                 what=f"document {attachment_id}")
    response = Response(attachment.content, mimetype=attachment.content_type)
    response.headers["Content-Disposition"] = _disposition(attachment.filename)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _disposition(filename: str) -> str:
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
