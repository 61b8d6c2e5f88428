"""CSRF protection on every form and security headers on every response.

Scripts come from this host only; the one inline script allowed, by its hash, is the
import map that tells the browser where the npm packages' modules are (webui/vendor.py).
"""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from . import vendor

csrf = CSRFProtect()

CSP = ("default-src 'self'; script-src 'self' {import_map}; "
       "style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; font-src 'self' data:; object-src 'none'; "
       "frame-ancestors 'none'; base-uri 'self'; form-action 'self'{form_targets}")
# other sites a form may lead to: the identity provider, where signing out goes on


def init_app(app: Flask) -> None:
    csrf.init_app(app)

    @app.after_request
    def headers(response):
        response.headers.setdefault("Content-Security-Policy",
                                    CSP.format(import_map=vendor.import_map_hash(),
                                               form_targets=app.config.get("FORM_TARGETS", "")))
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers.setdefault("Cache-Control", "no-store")
        return response
