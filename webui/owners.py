"""The process owners' pages: deployments and versions with their cases counted, each
version's diagram with where its cases stand, the difference between two versions, and
upload with a lint report before deploying. Auditors read them; only process owners
upload and deploy."""

from __future__ import annotations

import base64
import binascii

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import DefinitionError, NotFound, PermissionDenied

from . import owner_checks
from .auth import engine
from .messages import said

bp = Blueprint("owners", __name__, url_prefix="/owner")
SOURCE = "Tiltak"  # a deployment's source when made from these pages


@bp.before_request
@login_required
def readers_only():
    if not current_user.reads_all:
        abort(403)


def owner_only() -> None:
    if not engine().roles.may_deploy(current_user.name, current_user.groups):
        abort(403)


@bp.get("/")
def overview():
    by_key: dict[str, list] = {}
    for version in engine().repository.versions():
        by_key.setdefault(version.key, []).append(version)
    return render_template("owner_overview.html", by_key=by_key,
                           deployments=engine().repository.deployment_summaries(),
                           may_deploy=engine().roles.may_deploy(current_user.name,
                                                                current_user.groups))


@bp.get("/versions/<int:definition_id>")
def version(definition_id: int):
    definition = engine().repository.definition(definition_id)
    versions = engine().repository.versions(definition.key)
    shown = next(v for v in versions if v.id == definition_id)
    positions = engine().repository.case_positions(definition_id)
    names = owner_checks.element_names(engine().repository.definition_xml(definition_id))
    places = [(element, names.get(element, element), cases,
               positions.incidents.get(element, []))
              for element, cases in sorted(positions.cases.items(),
                                           key=lambda item: _order(names, item[0]))]
    return render_template("owner_version.html", version=shown, versions=versions,
                           places=places, elsewhere=positions.elsewhere,
                           counts=positions.counts(),
                           may_deploy=engine().roles.may_deploy(current_user.name,
                                                                current_user.groups))


def _order(names: dict[str, str], element: str) -> tuple[int, str]:
    order = list(names)
    return (order.index(element) if element in order else len(order), element)


@bp.get("/versions/<int:definition_id>.bpmn")
def diagram(definition_id: int):
    return Response(engine().repository.definition_xml(definition_id), mimetype="application/xml")


@bp.get("/versions/<int:definition_id>/difference/<int:other_id>")
def difference(definition_id: int, other_id: int):
    """From version `other_id` to version `definition_id` of the same process."""
    repository = engine().repository
    after, before = repository.definition(definition_id), repository.definition(other_id)
    if (after.key, after.tenant) != (before.key, before.tenant):
        raise NotFound(_("Versions of different processes cannot be compared.")).coded(
            "versions_not_comparable")
    found = owner_checks.xml_difference(engine().repository.definition_xml(other_id),
                                        engine().repository.definition_xml(definition_id),
                                        after.resource_name)
    return render_template("owner_difference.html", before=before, after=after,
                           difference=found)


@bp.get("/upload")
def upload_form():
    owner_only()
    return render_template("owner_upload.html", limit=owner_checks.MAX_UPLOAD)


@bp.post("/upload")
def upload():
    """Check the uploaded files: the lint report and the difference to what runs."""
    owner_only()
    try:
        files = owner_checks.uploaded(request)
    except owner_checks.Refused as err:
        flash(str(err), "error")
        return render_template("owner_upload.html", limit=owner_checks.MAX_UPLOAD), 400
    checked = owner_checks.check(engine(), files)
    return render_template("owner_check.html", checked=checked,
                           name=_deployment_name(files)), 200 if checked.deployable else 422


@bp.post("/deploy")
def deploy():
    """Deploy the files just checked, after checking them once more."""
    owner_only()
    try:
        files = _files_from_form()
    except owner_checks.Refused as err:
        flash(str(err), "error")
        return render_template("owner_upload.html", limit=owner_checks.MAX_UPLOAD), 400
    checked = owner_checks.check(engine(), files)
    if not checked.deployable:
        flash(_("Nothing was deployed: the files have errors."), "error")
        return render_template("owner_check.html", checked=checked,
                               name=_deployment_name(files)), 422
    name = (request.form.get("deployment_name") or "").strip()[:200] \
        or _deployment_name(files)
    try:
        results = engine().repository.deploy_as_user(files, actor=current_user.name, name=name,
                                                     source=SOURCE)
    except PermissionDenied:
        abort(403)
    except DefinitionError as err:
        checked.refusal = said(err)
        return render_template("owner_check.html", checked=checked, name=name), 422
    made = [r for r in results if r.created and r.kind == "process"]
    if made:
        flash(_("Deployed: %(versions)s.", versions=", ".join(
            f"{r.key} {_('version')} {r.version}" for r in made)), "info")
    else:
        flash(_("Nothing new was deployed: the files are the same as the versions "
                "already deployed."), "info")
    return redirect(url_for("owners.overview"))


def _deployment_name(files: dict[str, bytes]) -> str:
    return ", ".join(files)[:200]


def _files_from_form() -> dict[str, bytes]:
    names, contents = request.form.getlist("file_name"), request.form.getlist("file_content")
    if not names or len(names) != len(contents):
        raise owner_checks.Refused(_("The files to deploy are missing: upload them again."))
    files: dict[str, bytes] = {}
    for name, content in zip(names, contents, strict=True):
        try:
            files[name] = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise owner_checks.Refused(_("The files to deploy are damaged: upload them "
                                         "again.")) from None
    owner_checks.within_limits(files)
    return files
