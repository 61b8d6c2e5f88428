"""The operators' webhooks: add one (its secret made here and shown once), list them,
remove one, and read the delivery log. A removed webhook gets no new events and keeps
its log."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import delete, select

from engine.database import Database
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookTopic

EVENTS = {
    "case.started": "a case started (by a person, an integration or a timer)",
    "task.created": "a user task opened",
    "task.completed": "a user task was completed",
    "measure.done": "a measure (process tiltak or atgard) was approved as carried out",
    "case.closed": "a case ended: completed, or cancelled with a reason",
}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
PROCESS_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,199}")
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True)
class Added:
    webhook: Webhook
    secret: str


def add(db: Database, name: str, url: str, events: Iterable[str],
        processes: Iterable[str] | None, *, actor: str, now: datetime) -> Added:
    """A new webhook; its secret is returned this once (and kept, to sign with)."""
    if not NAME.fullmatch(name or ""):
        raise InvalidInput(f"'{name}' is no webhook name: letters, digits, '.', '_' and "
                           "'-', at most 100")
    _check_url(url)
    chosen = [e.strip() for e in events if e.strip()]
    if not chosen:
        raise InvalidInput("--events: name at least one of " + ", ".join(EVENTS))
    for event in chosen:
        if event not in EVENTS:
            raise InvalidInput(f"--events: '{event}' is no event; the events are "
                               + ", ".join(EVENTS))
    keys = None if processes is None else [p.strip() for p in processes if p.strip()]
    for key in keys or ():
        if not PROCESS_KEY.fullmatch(key):
            raise InvalidInput(f"--process: '{key}' is no process key")
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    with db.transaction() as session:
        if session.scalars(select(Webhook.id).where(Webhook.name == name,
                                                    Webhook.removed_at.is_(None))).first():
            raise Conflict(f"a webhook named '{name}' exists already; remove it first")
        row = Webhook(name=name, url=url, secret=secret, events=sorted(set(chosen)),
                      processes=sorted(set(keys)) if keys else None, created_at=now,
                      created_by=actor)
        session.add(row)
        session.flush()
        session.add_all(WebhookTopic(webhook_id=row.id, event_type=event, process_key=key)
                        for event in row.events for key in row.processes or (None,))
        session.flush()
        session.expunge(row)
    return Added(row, secret)


def _check_url(url: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput(f"'{url}' is no http(s) URL")
    if parts.username or parts.password:
        raise InvalidInput("the URL may not hold a user name or password: the signature "
                           "is how the receiver knows the sender")


def listed(db: Database, *, removed: bool = False) -> list[Webhook]:
    with db.reading() as session:
        query = select(Webhook).order_by(Webhook.name, Webhook.id)
        if not removed:
            query = query.where(Webhook.removed_at.is_(None))
        return list(session.scalars(query))


def remove(db: Database, name: str, now: datetime) -> int:
    """No new events for it, and its waiting deliveries are dropped; returns how many."""
    with db.transaction() as session:
        row = session.scalars(select(Webhook).where(
            Webhook.name == name, Webhook.removed_at.is_(None))).first()
        if row is None:
            raise NotFound(f"no webhook named '{name}'")
        row.removed_at = now
        session.execute(delete(WebhookTopic).where(WebhookTopic.webhook_id == row.id))
        dropped = 0
        for delivery in session.scalars(select(WebhookDelivery).where(
                WebhookDelivery.webhook_id == row.id, WebhookDelivery.status == "pending")):
            delivery.status, delivery.last_error = "dropped", "the webhook was removed"
            dropped += 1
        return dropped


@dataclass(frozen=True)
class LogLine:
    webhook: str
    delivery: WebhookDelivery
    attempts: list[WebhookAttempt]


def log(db: Database, name: str | None = None, *, limit: int = 50) -> list[LogLine]:
    """The latest deliveries (of one webhook), newest first, each with its attempts."""
    with db.reading() as session:
        query = select(WebhookDelivery, Webhook.name).join(
            Webhook, Webhook.id == WebhookDelivery.webhook_id)
        if name is not None:
            if not session.scalars(select(Webhook.id).where(Webhook.name == name)).first():
                raise NotFound(f"no webhook named '{name}'")
            query = query.where(Webhook.name == name)
        found = session.execute(query.order_by(WebhookDelivery.id.desc()).limit(limit)).all()
        ids = [d.id for d, _ in found]
        attempts: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
        if ids:
            for attempt in session.scalars(select(WebhookAttempt).where(
                    WebhookAttempt.delivery_id.in_(ids)).order_by(WebhookAttempt.id)):
                attempts[attempt.delivery_id].append(attempt)
        return [LogLine(hook, d, attempts[d.id]) for d, hook in found]
