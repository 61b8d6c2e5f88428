"""The part of Camunda 7's REST API that Camunda Modeler uses to deploy and start,
under /engine-rest: a process owner points Modeler's "Deploy to Camunda Platform 7"
dialog at Tiltak. HTTP Basic against Tiltak's users only, never the session cookie.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from ..security import csrf
from . import definitions, deployments, errors  # noqa: F401 - their routes join the blueprint
from .blueprint import bp


def init_app(app: Flask, api: Api) -> None:
    api.register_blueprint(bp)
    # no session cookie authenticates these requests (auth.py), so no other site can
    # make a signed-in browser send one: there is nothing for a CSRF token to protect
    csrf.exempt(bp)
