"""The caseworkers' web UI: a Flask app over the same engine and forms as the command line."""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine.runtime import Engine


def create_app(config: dict[str, Any] | None = None, *, engine: Engine | None = None) -> Flask:
    from . import (
        api,
        audit,
        auth,
        dashboard,
        errors,
        filters,
        i18n,
        instances,
        notices,
        receipts,
        security,
        start,
        tasks,
        vendor,
    )
    from .settings import load_settings

    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_settings())
    app.config.update(config or {})
    if engine is None:
        from tiltak.services import build_engine
        engine = build_engine(app.config["DATABASE_URL"])
    app.extensions["tiltak_engine"] = engine
    security.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    for module in (tasks, start, instances, audit, dashboard, receipts, vendor):
        app.register_blueprint(module.bp)
    notices.init_app(app)
    api.init_app(app)
    return app
