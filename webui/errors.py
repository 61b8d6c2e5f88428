"""Errors shown as pages users understand; never a stack trace."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError

from engine.errors import Conflict, InvalidInput, NotFound, PermissionDenied, TiltakError

from .messages import problems, said


def init_app(app: Flask) -> None:
    def page(status: int, title: str, message: str, detail: str | None = None):
        """An API client gets the engine's own words; a person gets a sentence in their
        language, with the engine's words below it for whoever they ask for help."""
        if request.path.startswith("/api/"):
            return {"code": status, "status": title, "message": detail or message}, status
        return render_template("error.html", title=title, message=message,
                               detail=detail), status

    @app.errorhandler(PermissionDenied)
    def forbidden(err):
        return page(403, _("Not allowed"), said(err), str(err))

    @app.errorhandler(NotFound)
    def not_found_error(err):
        return page(404, _("Not found"), said(err), str(err))

    @app.errorhandler(404)
    def not_found(_err):
        return page(404, _("Not found"), _("There is nothing at this address."))

    @app.errorhandler(403)
    def forbidden_status(_err):
        return page(403, _("Not allowed"), _("You may not see this page."))

    @app.errorhandler(CSRFError)
    def csrf_error(_err):
        return page(400, _("The form has expired"),
                    _("Reload the page and try again. Nothing was saved."))

    @app.errorhandler(413)
    def too_large(_err):
        return page(413, _("Too large"), _("The upload is too large."))

    @app.errorhandler(InvalidInput)
    def invalid(err):
        if request.path.startswith("/api/"):
            return {"code": 422, "status": "Invalid input", "errors": err.errors}, 422
        refused = problems(err)
        return page(422, _("Could not be done"),
                    "; ".join(f"{k}: {v}" if k else v for k, v in refused.items()))

    @app.errorhandler(Conflict)
    def conflict(err):
        return page(409, _("Changed meanwhile"), said(err), str(err))

    @app.errorhandler(401)
    def unauthorised(_err):
        return page(401, _("Log in first"), _("You are not logged in."))

    @app.errorhandler(TiltakError)
    def tiltak_error(err):
        return page(400, _("Could not be done"), said(err), str(err))

    @app.errorhandler(500)
    def server_error(_err):
        return page(500, _("Something went wrong"),
                    _("The error has been logged. Nothing was saved; please try again."))
