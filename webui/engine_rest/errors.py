"""Errors in Camunda's words and statuses: `{"type": "...Exception", "message": ...,
"code": ...}`, 401 with a Basic challenge, 403 `AuthorizationException`, 400
`ParseException` with a report per file, 404 `InvalidRequestException`, 500 for what the
engine refused (see docs/ENGINE_REST.md)."""

from __future__ import annotations

import logging
from typing import Any

from flask import g, request
from werkzeug.exceptions import HTTPException

from engine.errors import (
    Conflict,
    DefinitionError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Suspended,
    TiltakError,
)

from .auth import NotSignedIn
from .blueprint import bp

log = logging.getLogger(__name__)
BPMN_PARSE_ERROR = "ENGINE-09005 Could not parse BPMN process. Errors: "
# Camunda's built-in exception codes (7.20 on): an engine exception's, a stale write's;
# an error of the request itself (InvalidRequestException) has none
ENGINE_CODE, OPTIMISTIC_LOCKING_CODE = 0, 1


class NotPermitted(Exception):
    """What the signed-in user lacks, in Camunda's terms (permission on a resource)."""

    def __init__(self, message: str, permission: str, resource: str,
                 resource_id: str | None = None):
        super().__init__(message)
        self.permission, self.resource, self.resource_id = permission, resource, resource_id


class NotStarted(Exception):
    """A start refused, in the words Camunda's start answers with: "Cannot instantiate
    process definition ID: why"; 400 for a request that does not fit, 500 for what the
    engine refused (a suspended definition, a change meanwhile), as Camunda's."""

    def __init__(self, definition_id: str, err: TiltakError):
        super().__init__(f"Cannot instantiate process definition {definition_id}: {err}")
        self.err = err


class NotDeployable(Exception):
    """A deployment refused: the engine's first reason, and the linter's report of
    every problem per file (engine/model/lint.py)."""

    def __init__(self, err: DefinitionError, reports: dict[str, Any]):
        super().__init__(str(err))
        self.err, self.reports = err, reports


def camunda_error(status: int, kind: str, message: str, code: int | None = ENGINE_CODE,
                  **extra: Any):
    return {"type": kind, "message": message, "code": code, **extra}, status


@bp.errorhandler(NotSignedIn)
def not_signed_in(err: NotSignedIn):
    body, status = camunda_error(401, "AuthenticationException", str(err), code=None)
    headers = {}
    # Camunda's challenge; not to a page the browser shows, so that no browser asks
    # for, keeps and later sends a password here on another site's behalf
    if request.headers.get("Sec-Fetch-Mode") != "navigate" and \
            "text/html" not in request.headers.get("Accept", ""):
        headers["WWW-Authenticate"] = 'Basic realm="default"'
    return body, status, headers


@bp.errorhandler(NotPermitted)
def not_permitted(err: NotPermitted):
    return camunda_error(403, "AuthorizationException", str(err), userId=g.get("rest_user"),
                         missingAuthorizations=[{"permissionName": err.permission,
                                                 "resourceName": err.resource,
                                                 "resourceId": err.resource_id}])


@bp.errorhandler(NotStarted)
def not_started(err: NotStarted):
    if isinstance(err.err, InvalidInput):
        return camunda_error(400, "InvalidRequestException", str(err), code=None)
    stale = isinstance(err.err, Conflict) and not isinstance(err.err, Suspended)
    return camunda_error(500, "RestException", str(err),
                         code=OPTIMISTIC_LOCKING_CODE if stale else ENGINE_CODE)


@bp.errorhandler(NotDeployable)
def not_deployable(err: NotDeployable):
    problems = []
    for name, report in err.reports.items():
        for problem in report["errors"]:
            where = [f"resource {name}"]
            if problem["line"]:
                where.append(f"line {problem['line']}")
            element = f"element '{problem['mainElementId']}': " \
                if problem["mainElementId"] else ""
            problems.append(f"* {element}{problem['message']} | {' | '.join(where)}")
    bpmn = (err.err.file or "").lower().endswith((".bpmn", ".bpmn20.xml"))
    message = (BPMN_PARSE_ERROR if bpmn else "Could not deploy. Errors: ") + \
        "\n" + "\n".join(problems)
    return camunda_error(400, "ParseException", message,
                         details={n: r for n, r in err.reports.items()
                                  if r["errors"] or r["warnings"]})


@bp.errorhandler(TiltakError)
def engine_error(err: TiltakError):
    if isinstance(err, PermissionDenied):
        return camunda_error(403, "AuthorizationException", str(err),
                             userId=g.get("rest_user"), missingAuthorizations=[])
    if isinstance(err, NotFound):
        return camunda_error(404, "InvalidRequestException", str(err), code=None)
    if isinstance(err, InvalidInput | DefinitionError):
        return camunda_error(400, "InvalidRequestException", str(err), code=None)
    if isinstance(err, Conflict):  # Camunda answers a stale write with 500
        return camunda_error(500, "OptimisticLockingException", str(err),
                             code=OPTIMISTIC_LOCKING_CODE)
    return camunda_error(500, "ProcessEngineException", str(err))


def _http_error(err: HTTPException):
    messages = (getattr(err, "data", None) or {}).get("messages")
    if err.code == 422 and messages:  # the query or form did not fit (webargs)
        found = [f"{field}: {'; '.join(m) if isinstance(m, list) else m}"
                 for where in messages.values() for field, m in where.items()]
        return camunda_error(400, "InvalidRequestException", "; ".join(found), code=None)
    if (err.code or 500) >= 500:
        log.error("engine-rest: %s", err)
        return camunda_error(err.code or 500, "ProcessEngineException",
                             "the server could not do this; the error has been logged")
    if err.code == 403:
        return camunda_error(403, "AuthorizationException", err.description or err.name)
    return camunda_error(err.code or 400, "InvalidRequestException",
                         err.description or err.name, code=None)


# the web UI's pages have handlers for these statuses; here they answer in JSON
for code in (400, 401, 403, 404, 405, 413, 415, 422, 500):
    bp.register_error_handler(code, _http_error)
bp.register_error_handler(HTTPException, _http_error)
