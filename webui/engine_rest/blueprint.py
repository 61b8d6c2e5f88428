"""The blueprint the Camunda-compatible routes join, with its sign-in check."""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint

from engine import limits

from . import auth

bp = Blueprint("engine_rest", __name__, url_prefix="/engine-rest",
               description="The part of Camunda 7's REST API that Camunda Modeler uses")


@bp.before_request
def sign_in():
    g.rest_user, g.rest_groups, g.rest_token = auth.signed_in()
    if request.method == "POST" and request.is_json:
        # read within the engine's limits before anything else reads it
        limits.parse_json(request.get_data(cache=True), "body")
