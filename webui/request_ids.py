"""A request id for every request: the caller's `X-Request-ID` when it is well formed
(from a proxy or an integration, so one id follows a request across systems), else a new
one. It is on every log line written while the request is served and in the answer's
`X-Request-ID`; one line per request tells what was asked and how it went.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

from installation.logs import REQUEST_ID

HEADER = "X-Request-ID"
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
log = logging.getLogger("tiltak.requests")


def request_id_of(given: str | None) -> str:
    """The given id if it is 1 to 128 letters, digits and `._:-` (nothing that could
    forge a log line), else a new random one."""
    if given and WELL_FORMED.fullmatch(given):
        return given
    return uuid.uuid4().hex


def _begin() -> None:
    g.request_id = request_id_of(request.headers.get(HEADER))
    g.request_began = time.perf_counter()
    REQUEST_ID.set(g.request_id)


def _answered(response):
    request_id = g.get("request_id")
    if request_id is None:  # a request that failed before it began
        return response
    response.headers[HEADER] = request_id
    # the path without its query: a query may hold a receipt code or a search
    log.info("%s %s %s", request.method, request.path, response.status_code, extra={
        "method": request.method, "path": request.path, "status": response.status_code,
        "duration_ms": round((time.perf_counter() - g.request_began) * 1000, 1),
        "user": _who()})
    return response


def _who() -> str | None:
    """Who asked, if it is already known (never loaded just to be logged)."""
    principal = g.get("api_principal")
    if principal is not None:
        return principal.name
    user = g.get("_login_user")
    return getattr(user, "name", None)


def _end(_error=None) -> None:
    REQUEST_ID.set(None)


def init_app(app: Flask) -> None:
    # first of all, so that whatever the other hooks log carries the id
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_answered)
    app.teardown_request(_end)
