"""What a load balancer and a monitoring system ask, without signing in: /health (the
process answers), /ready (the database is reachable and its schema at the newest
migration) and /metrics (Prometheus' text format; who may read it: `may_read_metrics`).
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Blueprint, Response, current_app, request

from engine.queries import health
from installation import metrics

from .auth import engine

bp = Blueprint("operations", __name__)
# a reverse proxy on this machine makes every request come from loopback; one that says
# it forwarded the request is not this machine asking
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


@bp.get("/health")
def alive():
    """Liveness: this process answers. Touches no database."""
    return {"status": "ok"}


@bp.get("/ready")
def ready():
    """Readiness: the database answers and its schema is at the newest migration."""
    reason = health.not_ready(engine().db)
    if reason is not None:
        return {"status": "unavailable", "reason": reason}, 503
    return {"status": "ready"}


@bp.get("/metrics")
def scraped():
    refusal = _metrics_refused()
    if refusal is not None:
        return refusal
    body, content_type = metrics.exposition(engine())
    return Response(body, content_type=content_type)


def _metrics_refused() -> Response | None:
    """With TILTAK_METRICS_TOKEN set, /metrics needs `Authorization: Bearer <it>`, from
    anywhere; without it, only a client on this machine (loopback) that came through no
    proxy may read them."""
    secret = current_app.config.get("METRICS_TOKEN") or ""
    if secret:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and \
                hmac.compare_digest(given.strip().encode(), secret.encode()):
            return None
        return Response("metrics: a valid bearer token (TILTAK_METRICS_TOKEN) is needed\n",
                        401, {"WWW-Authenticate": 'Bearer realm="metrics"'},
                        content_type="text/plain; charset=utf-8")
    if _from_this_machine():
        return None
    return Response("metrics are served to this machine only; set TILTAK_METRICS_TOKEN to "
                    "read them from elsewhere\n", 403, content_type="text/plain; charset=utf-8")


def _from_this_machine() -> bool:
    if any(header in request.headers for header in FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def init_app(app) -> None:
    app.register_blueprint(bp)
