"""Wiring: one engine per process, with the form validator and organisation data plugged in.

Every caller (command line, web UI, scheduler) builds its engine here, so every path
that completes a task validates the submitted values on the server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from engine.clock import Clock
from engine.core import Directory
from engine.database import Database
from engine.errors import InvalidInput
from engine.identity.permissions import Roles
from engine.identity.users import add_user, hash_password
from engine.notifications import SmtpSettings
from engine.runtime import Engine
from engine.timers import Scheduler
from forms.resolve import FormResolutionError, form_for
from forms.validation import FormValidationError, validate_submission

from . import metrics, organisation
from .hooks import InstallationHooks
from .webhooks import delivery

DEMO_USERS = Path(__file__).parent / "demo" / "users.json"
PROCESSES = Path(__file__).resolve().parent.parent / "processes"


def validate_form(form_attrs: dict[str, Any], submitted: dict[str, Any],
                  context: dict[str, Any], lookup, *,
                  directory: Directory | None = None) -> dict[str, Any]:
    """The engine's FormValidator: Camunda form attributes -> field model -> typed values;
    people pickers and deadlines are checked against the engine's directory."""
    try:
        form = form_for(form_attrs, lookup)
    except FormResolutionError as err:
        raise InvalidInput(str(err)) from None
    if form is None:
        if submitted:
            raise InvalidInput({key: "unknown field (this step has no form)" for key in submitted})
        return {}
    try:
        return validate_submission(
            form, submitted, context=context,
            people=directory.groups_of_active if directory is not None else None,
            today=directory.today if directory is not None else None)
    except FormValidationError as err:
        raise InvalidInput(dict(err.errors)) from None


def build_engine(url: str | None = None, *, clock: Clock | None = None) -> Engine:
    org = organisation.load()
    return Engine(Database(url), clock=clock, validator=validate_form,
                  context_variables=org.form_options, roles=roles(), hooks=InstallationHooks(),
                  observe=metrics.observe)


def roles() -> Roles:
    """The groups with the engine's powers: TILTAK_AUDITOR_GROUP (default `revisor`)
    reads every case and changes none, TILTAK_PROCESS_OWNER_GROUP (`prosesseier`) reads,
    cancels, retries and deploys."""
    return Roles(auditors=os.environ.get("TILTAK_AUDITOR_GROUP") or "revisor",
                 process_owners=os.environ.get("TILTAK_PROCESS_OWNER_GROUP") or "prosesseier")


def known_groups() -> set[str]:
    """The groups a candidate group may name: the organisation file's and the roles'."""
    powers = roles()
    return organisation.load().known_groups() | {powers.auditors, powers.process_owners}


def demo_users() -> dict[str, Any]:
    """The demo users, each with the leader groups the organisation file gives them."""
    doc = json.loads(DEMO_USERS.read_text(encoding="utf-8"))
    leaders = organisation.load().leader_groups()
    for user in doc["users"]:
        user["groups"] = [*user["groups"], *sorted(leaders.get(user["name"], ()))]
    return doc


def load_demo_users(engine: Engine, *, passwords: bool = True) -> list[dict[str, Any]]:
    """Create the demo users. They share one password, so it is hashed once (an argon2
    hash costs a good fraction of a second, and there are thirty users); tests may skip
    hashing altogether."""
    doc = demo_users()
    hashed = hash_password(doc["password"]) if passwords else None
    with engine.db.transaction() as session:
        for user in doc["users"]:
            add_user(session, user["name"], user["groups"], password_hash=hashed,
                     display_name=user["display_name"], email=user.get("email"),
                     language=user.get("language", "nb"))
    return [{**u, "password": doc["password"]} for u in doc["users"]]


def smtp_settings() -> SmtpSettings | None:
    """SMTP from TILTAK_SMTP_HOST/PORT/SENDER/USER/PASSWORD/STARTTLS; none: no e-mail."""
    host = os.environ.get("TILTAK_SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(host=host, port=int(os.environ.get("TILTAK_SMTP_PORT", "25")),
                        sender=os.environ.get("TILTAK_SMTP_SENDER", "tiltak@localhost"),
                        username=os.environ.get("TILTAK_SMTP_USER") or None,
                        password=os.environ.get("TILTAK_SMTP_PASSWORD") or None,
                        starttls=os.environ.get("TILTAK_SMTP_STARTTLS") == "1")


def embedded_scheduler() -> bool:
    """`tiltak serve` starts a scheduler (`tiltak worker`) beside its web workers, on
    either database, unless TILTAK_SCHEDULER=0: on PostgreSQL each timer is claimed with
    a row lock, so it fires once however many schedulers sweep."""
    return os.environ.get("TILTAK_SCHEDULER", "1").strip() != "0"


def scheduler(engine: Engine, *, interval: float = 1.0, blocking: bool = False,
              jobs: Iterable[tuple[str, Callable[[], None], float]] = ()) -> Scheduler:
    """The timers, the mail outbox and the webhooks' outbox, on one scheduler, with the
    caller's own `jobs` (name, function, seconds)."""
    settings = delivery.Settings.from_environment()

    def post_webhooks() -> None:
        delivery.deliver(engine.db, engine.clock.now(), settings, clock=engine.clock.now)
    return Scheduler(engine, interval=interval, smtp=smtp_settings(), blocking=blocking,
                     jobs=[("webhooks", post_webhooks, WEBHOOK_INTERVAL), *jobs])


WEBHOOK_INTERVAL = 2.0  # seconds between looks at the webhooks' outbox
