"""Configuration from the environment (TILTAK_*), with safe defaults for one machine."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from engine.database import database_url

INSTANCE = Path(os.environ.get("TILTAK_INSTANCE", "instance"))


def secret_key() -> str:
    """TILTAK_SECRET_KEY, or a random key kept under instance/ so sessions survive restarts
    (made once, by whichever process comes first; `tiltak serve` makes it before it starts
    its workers, so that all of them sign with the same key)."""
    if os.environ.get("TILTAK_SECRET_KEY"):
        return os.environ["TILTAK_SECRET_KEY"]
    path = INSTANCE / "secret_key"
    if not path.exists():
        INSTANCE.mkdir(parents=True, exist_ok=True)
        try:
            with os.fdopen(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600), "w") as f:
                f.write(secrets.token_hex(32))
        except FileExistsError:
            pass
    return path.read_text().strip()


def load_settings() -> dict[str, Any]:
    hours = float(os.environ.get("TILTAK_SESSION_HOURS", "8"))
    return {
        "SECRET_KEY": secret_key(),
        "DATABASE_URL": database_url(),
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=hours),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("TILTAK_SECURE_COOKIES", "") == "1",
        "REMEMBER_COOKIE_DURATION": timedelta(hours=hours),
        "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,  # the session's lifetime bounds the token
        "BABEL_DEFAULT_LOCALE": "nb",
        "LANGUAGES": ["nb", "sv", "en"],
        "API_TITLE": "Tiltak API",
        "API_VERSION": "1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "INSTANCE_PATH": str(INSTANCE),
        # who may read /metrics from elsewhere than this machine (webui/operations.py)
        "METRICS_TOKEN": os.environ.get("TILTAK_METRICS_TOKEN", ""),
    }
