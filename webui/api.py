"""The JSON API under /api (flask-smorest, OpenAPI at /api/openapi.json): the pages' engine
calls with the user's permissions; JSON only, so no CSRF token is needed (docs/DESIGN.md,
"Who may do what, and what anyone may send").
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, request
from flask_login import current_user
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields, validate

from engine import limits
from engine.queries.worklist import WorklistQuery
from engine.serialization import plain
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


@bp.before_request
def require_login():
    if not current_user.is_authenticated:
        abort(401)
    if request.method == "POST":
        if not request.is_json:
            abort(415)
        # read within the engine's limits before anything else reads it (depth, size,
        # digits, valid Unicode): a clear 422 instead of an error deep in a parser
        limits.parse_json(request.get_data(cache=True), "body")


class PageSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=limits.MAX_PAGE),
                          metadata={"description": "the page of 200 tasks, from 1"})


@bp.get("/tasks")
@bp.arguments(PageSchema, location="query")
@bp.response(200, TaskSchema(many=True))
def list_tasks(query: dict[str, Any]):
    page = engine().worklist(WorklistQuery(actor=current_user.name, per_page=200,
                                           page=query["page"]))
    return [task_json(engine(), t) for t in page.tasks]


@bp.post("/tasks/<task_id>/claim")
@bp.response(200, TaskSchema)
def claim(task_id: str):
    engine().claim(task_id, actor=current_user.name)
    return task_json(engine(), engine().open_task(task_id, actor=current_user.name))


@bp.post("/tasks/<task_id>/unclaim")
@bp.response(204)
def unclaim(task_id: str):
    engine().unclaim(task_id, actor=current_user.name)


@bp.post("/tasks/<task_id>/complete")
@bp.arguments(CompleteSchema)
@bp.response(200, InstanceSchema)
def complete(body: dict[str, Any], task_id: str):
    return _plain(engine().shown(engine().complete(task_id, actor=current_user.name,
                                                   data=body["data"])))


@bp.post("/processes/<process_key>/instances")
@bp.arguments(StartSchema)
@bp.response(201, InstanceSchema)
def start(body: dict[str, Any], process_key: str):
    return _plain(engine().shown(engine().start(process_key, actor=current_user.name,
                                                data=body["data"],
                                                business_key=body.get("business_key"))))


@bp.get("/instances/<instance_id>")
@bp.response(200, InstanceSchema)
def instance(instance_id: str):
    if not engine().may_view(current_user.name, instance_id):
        abort(403)
    return _instance(instance_id)


def _instance(instance_id: str) -> dict[str, Any]:
    return _plain(engine().show(instance_id))


def _plain(shown: dict[str, Any]) -> dict[str, Any]:
    return {**shown, "data": plain(shown["data"])}


def init_app(app: Flask) -> Api:
    api = Api(app, spec_kwargs={"info": {"description": __doc__.splitlines()[0]}})
    api.register_blueprint(bp)
    csrf.exempt(bp)
    return api
