"""Process definitions by key or id, and starting a case with Camunda's variables
(`{"variables": {"x": {"value": ..., "type": "String"}}, "businessKey": ...}`)."""

from __future__ import annotations

from typing import Any

from flask import g
from marshmallow import EXCLUDE, Schema, fields, validate

from engine import limits
from engine.errors import Conflict, InvalidInput, NotFound, PermissionDenied

from ..auth import engine
from . import auth, shapes
from .blueprint import bp
from .errors import NotPermitted, NotStarted

PLAIN_TYPES = {"string": (str,), "boolean": (bool,), "integer": (int,), "short": (int,),
               "long": (int,), "double": (int, float), "date": (str,)}


class CamundaVariableSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    value = fields.Raw(allow_none=True, load_default=None)
    type = fields.String(load_default=None, validate=validate.Length(max=50))
    valueInfo = fields.Dict(load_default=dict)


class CamundaStartSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    variables = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=200)),
                            values=fields.Nested(CamundaVariableSchema), load_default=dict)
    businessKey = fields.String(allow_none=True, load_default=None)
    startInstructions = fields.List(fields.Dict(), load_default=None)


@bp.get("/process-definition/key/<key>")
def definition_by_key(key: str):
    return shapes.process_definition(engine().repository.latest(key))


@bp.get("/process-definition/key/<key>/tenant-id/<tenant>")
def definition_by_key_and_tenant(key: str, tenant: str):
    return shapes.process_definition(engine().repository.latest_version(key, tenant))


@bp.get("/process-definition/<definition_id>")
def definition_by_id(definition_id: str):
    return shapes.process_definition(_by_id(definition_id))


@bp.post("/process-definition/key/<key>/start")
@bp.arguments(CamundaStartSchema())
def start_by_key(body: dict[str, Any], key: str):
    return _start(engine().repository.latest(key), body)


@bp.post("/process-definition/key/<key>/tenant-id/<tenant>/start")
@bp.arguments(CamundaStartSchema())
def start_by_key_and_tenant(body: dict[str, Any], key: str, tenant: str):
    return _start(engine().repository.latest_version(key, tenant), body)


@bp.post("/process-definition/<definition_id>/start")
@bp.arguments(CamundaStartSchema())
def start_by_id(body: dict[str, Any], definition_id: str):
    definition = _by_id(definition_id)
    latest = engine().repository.latest_version(definition.key, definition.tenant)
    if latest.id != definition.id:
        raise NotStarted(definition_id, InvalidInput(
            f"version {definition.version} of '{definition.key}' is not the latest "
            f"({latest.version}): new cases start on the latest version only"))
    return _start(definition, body)


@bp.get("/process-instance/<instance_id>")
def process_instance(instance_id: str):
    if len(instance_id) > 36 or not engine().history.may_view(g.rest_user, instance_id):
        raise NotFound(f"Process instance with id {instance_id} does not exist")
    row = engine().history.instance(instance_id)
    return shapes.process_instance(row, engine().repository.definition(row.definition_id))


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
def not_covered(rest: str):
    raise NotFound(f"/engine-rest/{rest[:200]}: Tiltak answers only the part of Camunda's "
                   "REST API that Camunda Modeler uses to deploy and start")


def _by_id(text: str):
    definition = engine().repository.definition(shapes.row_of_definition_id(text))
    if shapes.definition_id(definition) != text:
        raise NotFound(f"No matching process definition with id {text}")
    return definition


def _start(definition, body: dict[str, Any]) -> dict[str, Any]:
    if not auth.token_allows(g.rest_token, "start", definition.key):
        raise NotPermitted(f"The API token of '{g.rest_user}' may not start cases of "
                           f"'{definition.key}' (scope 'start' and its processes)",
                           "CREATE_INSTANCE", "ProcessDefinition", definition.key)
    try:
        if body.get("startInstructions"):
            raise InvalidInput({"startInstructions": "starting elsewhere than at the "
                                                     "start event is not supported"})
        data = {name: _value(name, variable) for name, variable in body["variables"].items()}
        row = engine().runtime.start(definition.key, actor=g.rest_user, data=data,
                                     business_key=body.get("businessKey"),
                                     tenant=definition.tenant)
    except PermissionDenied as err:
        raise NotPermitted(str(err), "CREATE_INSTANCE", "ProcessDefinition",
                           definition.key) from None
    except (InvalidInput, Conflict) as err:  # suspended, or changed meanwhile
        raise NotStarted(shapes.definition_id(definition), err) from None
    return shapes.process_instance(row, engine().repository.definition(row.definition_id))


def _value(name: str, variable: dict[str, Any]) -> Any:
    """A typed Camunda variable as the plain value a Tiltak case holds."""
    kind, value = (variable.get("type") or "").lower(), variable.get("value")
    if kind in ("", "null") or value is None:
        return value
    if kind == "json":
        if not isinstance(value, str):
            raise InvalidInput({name: "a Json variable's value is JSON text"})
        return limits.parse_json(value, name)
    if kind not in PLAIN_TYPES:
        raise InvalidInput({name: f"variables of type {variable.get('type')} are not "
                                  "supported: Tiltak keeps plain values (String, Boolean, "
                                  "Integer, Long, Double, Date, Json)"})
    if not isinstance(value, PLAIN_TYPES[kind]) or (kind != "boolean" and
                                                    isinstance(value, bool)):
        raise InvalidInput({name: f"the value is not of type {variable.get('type')}"})
    return value
