"""Suspend and activate from the pages, as Camunda 7 does: a process definition version
(no new cases start on it) from its version page, and a case (its tasks and timers held)
from the case page. Only process owners may; each answer returns to the page it came from."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user

from engine.errors import Conflict

from .auth import engine
from .messages import said
from .owners import owner_only, readers_only

bp = Blueprint("suspension", __name__, url_prefix="/owner")
bp.before_request(readers_only)


@bp.post("/versions/<int:definition_id>/suspend")
def suspend_version(definition_id: int):
    return _hold_version(definition_id, suspend=True)


@bp.post("/versions/<int:definition_id>/activate")
def activate_version(definition_id: int):
    return _hold_version(definition_id, suspend=False)


def _hold_version(definition_id: int, *, suspend: bool):
    owner_only()
    definition = engine().repository.definition(definition_id)
    suspension = engine().suspension
    change = suspension.suspend_definition if suspend else suspension.activate_definition
    change(definition.key, definition.version, actor=current_user.name,
           tenant=definition.tenant)
    flash(_("Version %(version)s is suspended: no new cases start on it. Its running "
            "cases go on.", version=definition.version) if suspend else
          _("Version %(version)s is active again: new cases can start on it.",
            version=definition.version), "info")
    return redirect(url_for("owners.version", definition_id=definition_id))


@bp.post("/cases/<instance_id>/suspend")
def suspend_case(instance_id: str):
    return _hold_case(instance_id, suspend=True)


@bp.post("/cases/<instance_id>/activate")
def activate_case(instance_id: str):
    return _hold_case(instance_id, suspend=False)


def _hold_case(instance_id: str, *, suspend: bool):
    owner_only()
    try:
        (engine().suspension.suspend if suspend else engine().suspension.activate)(instance_id,
                                                              actor=current_user.name)
    except Conflict as err:  # already so, or no longer running
        flash(said(err), "error")
    else:
        flash(_("The case is suspended: its tasks and deadlines wait until it is "
                "activated.") if suspend else
              _("The case is active again: its tasks can be worked on."), "info")
    return redirect(url_for("instances.show", instance_id=instance_id))
