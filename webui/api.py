"""The JSON API under /api (flask-smorest, OpenAPI at /api/openapi.json): the pages' engine
calls with the caller's permissions; JSON only, so no CSRF token is needed (docs/DESIGN.md,
"Who may do what, and what anyone may send").

A caller is a signed-in browser session, or an integration with `Authorization: Bearer
<token>` (engine/tokens.py), which acts for its user within its scopes and processes. A
token counts here only: no page takes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, abort, g, jsonify, request
from flask_login import current_user
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from engine import limits
from engine.errors import NotFound, PermissionDenied
from engine.identity import tokens
from engine.queries.worklist import WorklistQuery
from engine.serialization import data_from_json, plain
from installation.shapes import task_json

from .auth import engine
from .security import csrf

bp = Blueprint("api", __name__, url_prefix="/api", description="Tasks and cases")


class FieldSchema(Schema):
    key = fields.String(allow_none=True)
    label = fields.String()
    type = fields.String()
    required = fields.Boolean()
    options = fields.List(fields.Dict())
    validate = fields.Dict()
    components = fields.List(fields.Dict())


class FormSchema(Schema):
    fields = fields.List(fields.Nested(FieldSchema))


class TaskSchema(Schema):
    id = fields.String()
    instance_id = fields.String()
    process_key = fields.String()
    element_id = fields.String()
    name = fields.String()
    candidate_groups = fields.List(fields.String())
    candidate_users = fields.List(fields.String())
    assignee = fields.String(allow_none=True)
    due = fields.String(allow_none=True)
    form = fields.Nested(FormSchema)


class CompleteSchema(Schema):
    data = fields.Dict(load_default=dict)


class StartSchema(Schema):
    data = fields.Dict(load_default=dict)
    business_key = fields.String(load_default=None, allow_none=True)


class InstanceSchema(Schema):
    id = fields.String()
    process_key = fields.String()
    version = fields.Integer()
    status = fields.String()
    business_key = fields.String(allow_none=True)
    data = fields.Dict()
    open_tasks = fields.List(fields.Dict())


@dataclass(frozen=True)
class Caller:
    """Who calls: the user whose permissions apply, what they may do here (every scope
    but `message` for a browser session: messages come from other systems) and on which
    processes (None: every one)."""

    name: str
    scopes: frozenset[str]
    processes: frozenset[str] | None = None
    token: str | None = None

    def covers(self, process_key: str) -> bool:
        return self.processes is None or process_key in self.processes


SESSION_SCOPES = frozenset(tokens.SCOPES) - {"message"}


@bp.before_request
def require_caller():
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, given = header.partition(" ")
        holder = tokens.holder(engine().db, given.strip()) \
            if scheme.lower() == "bearer" else None
        if holder is None:
            abort(_refused("invalid_token", "the API token is unknown, revoked or its user "
                                            "disabled"))
        g.api_principal = Caller(holder.user, holder.scopes, holder.processes, holder.token)
    elif current_user.is_authenticated:
        g.api_principal = Caller(current_user.name, SESSION_SCOPES)
    else:
        abort(401)
    if request.method == "POST":
        if not request.is_json:
            abort(415)
        # read within the engine's limits before anything else reads it (depth, size,
        # digits, valid Unicode): a clear 422 instead of an error deep in a parser
        limits.parse_json(request.get_data(cache=True), "body")


def _refused(error: str, message: str):
    response = jsonify({"code": 401, "status": "Unauthorized", "message": message})
    response.status_code = 401
    response.headers["WWW-Authenticate"] = f'Bearer realm="tiltak", error="{error}"'
    return response


def caller(scope: str) -> Caller:
    """The caller, who must have `scope` (403 otherwise)."""
    who: Caller = g.api_principal
    if scope not in who.scopes:
        raise PermissionDenied(f"this caller may not {tokens.SCOPES[scope]} (it lacks the "
                               f"scope '{scope}')")
    return who


def _case_of(who: Caller, instance_id: str) -> str:
    """The case's process key, which the caller must cover; a case outside the token's
    processes is not found, as if it were not there."""
    process_key = engine().history.instance(instance_id).process_key
    if not who.covers(process_key):
        raise NotFound(f"no process instance '{instance_id}'")
    return process_key


def _readable(who: Caller, instance_id: str) -> None:
    _case_of(who, instance_id)
    if not engine().history.may_view(who.name, instance_id):
        raise PermissionDenied(f"user '{who.name}' may not read this case")


class PageSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=limits.MAX_PAGE),
                          metadata={"description": "the page of 200 tasks, from 1"})
    instance = fields.String(load_default=None, validate=validate.Length(max=36),
                             metadata={"description": "only this case's open tasks"})


class MessageSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200),
                         metadata={"description": "the message's name in the diagram"})
    business_key = fields.String(load_default=None, allow_none=True,
                                 metadata={"description": "the case's business key"})
    data = fields.Dict(load_default=dict)


class DeliveredSchema(Schema):
    instance_id = fields.String()
    status = fields.String()


class CancelSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                           metadata={"description": "why the case is cancelled (kept in its "
                                                    "history)"})


class EventSchema(Schema):
    seq = fields.Integer()
    type = fields.String()
    actor = fields.String()
    at = fields.String()
    element_id = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    data = fields.Dict()
    hash = fields.String()


@bp.get("/tasks")
@bp.arguments(PageSchema(), location="query")
@bp.response(200, TaskSchema(many=True))
def list_tasks(query: dict[str, Any]):
    """The open tasks the caller may work on (one case's with `instance`); a token sees
    those of its processes' cases only."""
    who = caller("tasks")
    if query["instance"]:
        _readable(who, query["instance"])
        found = engine().tasks.find(actor=who.name, instance_id=query["instance"])
    else:
        found = engine().tasks.worklist(WorklistQuery(actor=who.name, per_page=200,
                                                      page=query["page"])).tasks
        if who.processes is not None:
            cases: dict[str, str] = {}
            for task in found:
                if task.instance_id not in cases:
                    case = engine().history.instance(task.instance_id)
                    cases[task.instance_id] = case.process_key
            found = [t for t in found if who.covers(cases[t.instance_id])]
    return [task_json(engine(), t) for t in found]


def _workable(who: Caller, task_id: str) -> None:
    """A token works only on tasks of its processes' cases."""
    if who.processes is not None:
        _case_of(who, engine().tasks.open_task(task_id, actor=who.name).instance_id)


@bp.post("/tasks/<task_id>/claim")
@bp.response(200, TaskSchema)
def claim(task_id: str):
    who = caller("work")
    _workable(who, task_id)
    engine().tasks.claim(task_id, actor=who.name)
    return task_json(engine(), engine().tasks.open_task(task_id, actor=who.name))


@bp.post("/tasks/<task_id>/unclaim")
@bp.response(204)
def unclaim(task_id: str):
    who = caller("work")
    _workable(who, task_id)
    engine().tasks.unclaim(task_id, actor=who.name)


@bp.post("/tasks/<task_id>/complete")
@bp.arguments(CompleteSchema())
@bp.response(200, InstanceSchema)
def complete(body: dict[str, Any], task_id: str):
    who = caller("work")
    _workable(who, task_id)
    return _plain(engine().history.shown(engine().tasks.complete(task_id, actor=who.name,
                                                                 data=body["data"])))


@bp.post("/processes/<process_key>/instances")
@bp.arguments(StartSchema())
@bp.response(201, InstanceSchema)
def start(body: dict[str, Any], process_key: str):
    """Start a case of the process's newest version, with its business key (the
    integration's own case number)."""
    who = caller("start")
    if not who.covers(process_key):
        raise PermissionDenied(f"this token may not act on process '{process_key}'")
    return _plain(engine().history.shown(engine().runtime.start(process_key, actor=who.name,
                                                                data=body["data"],
                                                                business_key=body.get("business_key"))))


@bp.post("/messages")
@bp.arguments(MessageSchema())
@bp.response(200, DeliveredSchema)
def message(body: dict[str, Any]):
    """Deliver a message to the case waiting for it (by business key); for a token, a
    case of its processes. For integrations and the command line only."""
    who = caller("message")
    row = engine().runtime.message(body["name"], actor=who.name, business_key=body["business_key"],
                                   data=body["data"], process_keys=who.processes)
    return {"instance_id": row.id, "status": row.status}


@bp.get("/instances/<instance_id>")
@bp.response(200, InstanceSchema)
def instance(instance_id: str):
    """The case: its status, data and open tasks."""
    _readable(caller("read"), instance_id)
    return _plain(engine().history.show(instance_id))


@bp.get("/instances/<instance_id>/history")
@bp.response(200, EventSchema(many=True))
def instance_history(instance_id: str):
    """What happened in the case, one event per command, oldest first."""
    _readable(caller("read"), instance_id)
    return [{"seq": e.seq, "type": e.type, "actor": e.actor, "at": e.at.isoformat(),
             "element_id": e.element_id, "task_id": e.task_id,
             "data": plain(data_from_json(e.data)), "hash": e.hash}
            for e in engine().history.events(instance_id)]


@bp.post("/instances/<instance_id>/cancel")
@bp.arguments(CancelSchema())
@bp.response(200, DeliveredSchema)
def cancel(body: dict[str, Any], instance_id: str):
    """Cancel the case, with the reason kept in its history (its starter and process
    owners may)."""
    who = caller("cancel")
    _case_of(who, instance_id)
    row = engine().runtime.cancel(instance_id, actor=who.name, reason=body["reason"].strip())
    return {"instance_id": row.id, "status": row.status}


def _plain(shown: dict[str, Any]) -> dict[str, Any]:
    return {**shown, "data": plain(shown["data"])}


def init_app(app: Flask) -> Api:
    api = Api(app, spec_kwargs={"info": {"description": __doc__.splitlines()[0]}})
    api.register_blueprint(bp)
    csrf.exempt(bp)
    return api
