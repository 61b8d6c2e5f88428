"""The caseworkers' web UI: a Flask app over the same engine and forms as the command line."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from engine.runtime import Engine


def create_app(config: dict[str, Any] | None = None, *, engine: Engine | None = None) -> Flask:
    from . import (
        api,
        audit,
        auth,
        case_data,
        dashboard,
        engine_rest,
        errors,
        filters,
        i18n,
        instances,
        mine,
        notices,
        operations,
        owner_migration,
        owner_suspension,
        owners,
        receipts,
        request_ids,
        security,
        sessions,
        start,
        tasks,
        vendor,
    )
    from .settings import load_settings

    app = Flask(__name__, instance_relative_config=False)
    app.url_map.converters["int"] = RowNumber  # before any route is added
    app.config.update(load_settings())
    app.config.update(config or {})
    if engine is None:
        from installation.services import build_engine
        engine = build_engine(app.config["DATABASE_URL"])
    app.extensions["tiltak_engine"] = engine
    request_ids.init_app(app)
    security.init_app(app)
    sessions.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    errors.init_app(app)
    filters.init_app(app)
    case_data.init_app(app)
    for module in (tasks, start, instances, mine, audit, dashboard, receipts, owners,
                   owner_migration, owner_suspension, vendor):
        app.register_blueprint(module.bp)
    notices.init_app(app)
    operations.init_app(app)
    engine_rest.init_app(app, api.init_app(app))
    return app


class RowNumber(IntegerConverter):
    """`<int:...>` in an address: a number no row can have (beyond 64 bits) is not found
    (404) instead of an overflow in the database driver."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2 ** 63 - 1)
        super().__init__(url_map, *args, **kwargs)
