"""Deployments: the list Modeler reads to test the connection, and the deployment it
creates with the diagram (multipart/form-data, Camunda's `deployment/create`)."""

from __future__ import annotations

from typing import Any

from flask import g, request
from marshmallow import EXCLUDE, Schema, fields, validate

from engine.definitions import kind_of
from engine.errors import DefinitionError, InvalidInput, PermissionDenied
from engine.queries.deployment_query import SORTS, DeploymentQuery
from installation.services import known_groups

from ..auth import engine
from . import auth, shapes
from .blueprint import bp
from .errors import NotDeployable, NotPermitted

VERSION = "7.22.0"  # the Camunda REST API whose shapes these routes answer in
RESERVED = {"deployment-name", "deployment-source", "tenant-id", "deploy-changed-only",
            "enable-duplicate-filtering", "deployment-activation-time"}


class DeploymentQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(validate=validate.Range(min=0))
    name = fields.String(validate=validate.Length(max=200))
    nameLike = fields.String(validate=validate.Length(max=200))
    source = fields.String(validate=validate.Length(max=200))
    withoutSource = fields.Boolean(load_default=False)
    tenantIdIn = fields.String(validate=validate.Length(max=2000),
                               metadata={"description": "tenant ids, comma-separated"})
    withoutTenantId = fields.Boolean(load_default=False)
    includeDeploymentsWithoutTenantId = fields.Boolean(load_default=False)
    after = fields.DateTime()
    before = fields.DateTime()
    sortBy = fields.String(validate=validate.OneOf(sorted(SORTS)), load_default="id")
    sortOrder = fields.String(validate=validate.OneOf(("asc", "desc")), load_default="asc")
    firstResult = fields.Integer(validate=validate.Range(min=0, max=2 ** 31),
                                 load_default=0)
    maxResults = fields.Integer(validate=validate.Range(min=0, max=10_000))


class DeploymentFormSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    deployment_name = fields.String(data_key="deployment-name", load_default="",
                                    validate=validate.Length(max=200))
    deployment_source = fields.String(data_key="deployment-source", load_default=None,
                                      validate=validate.Length(max=200))
    tenant_id = fields.String(data_key="tenant-id", load_default="",
                              validate=validate.Length(max=100))
    deploy_changed_only = fields.Boolean(data_key="deploy-changed-only", load_default=False)
    enable_duplicate_filtering = fields.Boolean(data_key="enable-duplicate-filtering",
                                                load_default=False)


@bp.get("/version")
def version():
    return {"version": VERSION}


@bp.get("/deployment")
@bp.arguments(DeploymentQuerySchema(), location="query")
def list_deployments(query: dict[str, Any]):
    tenants = query.get("tenantIdIn")
    rows = engine().repository.deployments(DeploymentQuery(
        id=query.get("id"), name=query.get("name"), name_like=query.get("nameLike"),
        source=query.get("source"), without_source=query["withoutSource"],
        tenants=tuple(t.strip() for t in tenants.split(",") if t.strip())
        if tenants is not None else None,
        without_tenant=query["withoutTenantId"],
        include_without_tenant=query["includeDeploymentsWithoutTenantId"],
        after=query.get("after"), before=query.get("before"), sort_by=query["sortBy"],
        descending=query["sortOrder"] == "desc", first=query["firstResult"],
        limit=query.get("maxResults")))
    return [shapes.deployment(row) for row in rows]


@bp.get("/deployment/<int:deployment_id>")
def deployment(deployment_id: int):
    return shapes.deployment(engine().repository.deployment(deployment_id))


@bp.post("/deployment/create")
@bp.arguments(DeploymentFormSchema(), location="form")
def create_deployment(form: dict[str, Any]):
    """Deployed as `tiltak deploy` deploys: the same checks, a new version for each
    changed process, nothing new for an unchanged one (always "changed only")."""
    if not auth.token_allows(g.rest_token, "deploy"):
        raise NotPermitted(f"The API token of '{g.rest_user}' lacks the scope 'deploy'",
                           "CREATE", "Deployment")
    if not engine().roles.may_deploy(g.rest_user, g.rest_groups):
        raise NotPermitted(f"The user with id '{g.rest_user}' does not have 'CREATE' "
                           "permission on resource 'Deployment': only process owners "
                           f"('{engine().roles.process_owners}') deploy",
                           "CREATE", "Deployment")
    files = _resources()
    try:
        results = engine().repository.deploy_as_user(files, actor=g.rest_user,
                                                     tenant=form["tenant_id"],
                                          name=form["deployment_name"],
                                          source=form["deployment_source"])
    except PermissionDenied as err:  # groups changed since this request signed in
        raise NotPermitted(str(err), "CREATE", "Deployment") from None
    except DefinitionError as err:
        raise NotDeployable(err, _reports(files, form["tenant_id"], err)) from None
    deployment_id = results[0].deployment_id
    processes = [engine().repository.definition(r.definition_id) for r in results
                 if r.kind == "process"]
    _, resources = engine().repository.deployment_contents(deployment_id)
    return shapes.deployment_with_definitions(engine().repository.deployment(deployment_id),
                                              processes, resources)


def _resources() -> dict[str, bytes]:
    """Every part that is not one of Camunda's fields is a file to deploy, named by its
    file name (or, without one, by the part's name)."""
    files: dict[str, bytes] = {}
    for part, upload in request.files.items(multi=True):
        files[upload.filename or part] = upload.read()
    for part, text in request.form.items(multi=True):
        if part not in RESERVED and kind_of(part):
            files[part] = text.encode("utf-8")
    if not files:
        raise InvalidInput("the deployment holds no file: send BPMN, DMN or .form files "
                           "as parts of the multipart/form-data body")
    return files


def _reports(files: dict[str, bytes], tenant: str, err: DefinitionError
             ) -> dict[str, Any]:
    """The linter's report per file; the engine's own reason where it found none (a
    problem between files, such as a clinic's variant that changes the interaction)."""
    reports = {name: report.as_dict() for name, report in engine().repository.lint(
        files, groups=known_groups(), tenant=tenant).items()}
    if not any(r["errors"] for r in reports.values()):
        name = err.file or ""
        reports.setdefault(name, {"errors": [], "warnings": []})["errors"].append(
            {"message": err.detail, "line": err.line, "column": None,
             "mainElementId": err.element,
             "elementIds": [err.element] if err.element else []})
    return reports
