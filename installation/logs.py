"""Log lines for operators, with the standard logging module: one JSON object a line when
TILTAK_LOG_FORMAT=json (for a log collector), else one readable line (the default, for a
terminal). Every line written while a web request is served carries that request's id
(set by webui/request_ids.py in REQUEST_ID).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from engine.errors import TiltakError

REQUEST_ID: ContextVar[str | None] = ContextVar("tiltak_request_id", default=None)
FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# what every LogRecord has: anything else on a record was given with `extra=` and is
# written as a field of its own
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "request_id", "taskName"}


class RequestId(logging.Filter):
    """Puts the current request's id (or "-" outside a request) on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get() or "-"
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, the process (which of
    the server's workers), request id, the record's extra fields, and the exception's
    traceback if there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "message": record.getMessage(), "pid": record.process}
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id and request_id != "-":
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_format() -> str:
    chosen = (os.environ.get("TILTAK_LOG_FORMAT") or "text").strip().lower()
    if chosen not in FORMATS:
        raise TiltakError(f"TILTAK_LOG_FORMAT is '{chosen}': it must be one of "
                          f"{', '.join(FORMATS)}")
    return chosen


def formatter() -> logging.Formatter:
    return JsonLines() if log_format() == "json" else logging.Formatter(TEXT)


def configure(level: int = logging.INFO) -> None:
    """Every logger of this process writes through one handler on standard error, in the
    chosen format, with the request id: Tiltak's own and the web server's from `level`,
    the libraries' warnings and errors only (SpiffWorkflow would tell of every task's
    every state, APScheduler of every sweep)."""
    chosen = formatter()  # a bad setting is refused before anything changes
    handler = logging.StreamHandler()
    handler.setFormatter(chosen)
    handler.addFilter(RequestId())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.WARNING))
    for own in ("tiltak", "gunicorn"):
        logging.getLogger(own).setLevel(level)
