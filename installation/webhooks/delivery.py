"""Posting the outbox: each due delivery is claimed in a short transaction (its row
locked; the claim moves its next attempt past the request's timeout, so no other worker
sends the same attempt), posted signed outside any transaction, and its outcome logged.
A 2xx answer delivers it; anything else is retried with exponential backoff, until
`max_attempts` tries failed. A crash between claim and log retries it after the claim
runs out: at least once, with a stable event id the receiver de-duplicates by."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from engine.database import Database
from engine.models import Webhook, WebhookAttempt, WebhookDelivery

from .signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger("tiltak.webhooks")
USER_AGENT = "Tiltak-Webhooks/1"


@dataclass(frozen=True)
class Settings:
    timeout: float = 10.0
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(hours=1)
    max_attempts: int = 10

    @classmethod
    def from_environment(cls) -> Settings:
        """TILTAK_WEBHOOK_TIMEOUT_SECONDS, _RETRY_SECONDS (the first wait) and
        _MAX_ATTEMPTS (docs/SETTINGS.md)."""
        def number(name: str, default: float, kind=float):
            raw = os.environ.get(name)
            if raw is None or not raw.strip():
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not a number") from None
            if value <= 0:
                raise ValueError(f"{name}={raw!r} must be more than 0")
            return value
        return cls(timeout=number("TILTAK_WEBHOOK_TIMEOUT_SECONDS", 10.0),
                   first_retry=timedelta(seconds=number("TILTAK_WEBHOOK_RETRY_SECONDS", 30.0)),
                   max_attempts=number("TILTAK_WEBHOOK_MAX_ATTEMPTS", 10, int))

    def backoff(self, attempts: int) -> timedelta:
        return min(self.first_retry * 2 ** (attempts - 1), self.max_retry)


@dataclass(frozen=True)
class Claimed:
    id: int
    url: str
    secret: str
    event_id: str
    event_type: str
    body: bytes
    attempt: int


def deliver(db: Database, now: datetime, settings: Settings | None = None,
            batch: int = 50, clock=None) -> dict[str, int]:
    """Post the due deliveries; returns how many were sent and how many given up.
    `clock` gives the moment of each attempt's log line (default: `now`)."""
    settings = settings or Settings()
    sent = failed = 0
    with db.reading() as session:
        ids = list(session.scalars(select(WebhookDelivery.id).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(batch)))
    for delivery_id in ids:
        claimed = _claim(db, delivery_id, now, settings)
        if claimed is None:
            continue
        code, error, took = _post(claimed, settings)
        at = clock() if clock else now
        outcome = _log(db, claimed, at, code, error, took, settings)
        sent += outcome == "sent"
        failed += outcome == "failed"
    return {"sent": sent, "failed": failed}


def _claim(db: Database, delivery_id: int, now: datetime, settings: Settings) -> Claimed | None:
    with db.transaction() as session:
        row = session.scalars(db.lock_free(select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now))).first()
        if row is None:
            return None  # another worker has it, or it was sent meanwhile
        hook = session.get(Webhook, row.webhook_id)
        if hook.removed_at is not None:
            row.status, row.last_error = "dropped", "the webhook was removed"
            return None
        row.attempts += 1
        # the claim: no one else takes this attempt until it has surely timed out
        row.next_attempt_at = now + timedelta(seconds=settings.timeout * 3 + 30)
        return Claimed(row.id, hook.url, hook.secret, row.event_id, row.event_type,
                       row.body.encode("utf-8"), row.attempts)


def _post(claimed: Claimed, settings: Settings) -> tuple[int | None, str | None, int]:
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
               EVENT_ID_HEADER: claimed.event_id, EVENT_TYPE_HEADER: claimed.event_type,
               TIMESTAMP_HEADER: str(timestamp),
               SIGNATURE_HEADER: sign(claimed.secret, timestamp, claimed.body)}
    import requests  # only a worker that delivers needs it

    began = time.perf_counter()
    try:
        answer = requests.post(claimed.url, data=claimed.body, headers=headers,
                               timeout=settings.timeout, allow_redirects=False)
    except requests.RequestException as err:
        return None, f"{type(err).__name__}: {err}"[:2000], _ms(began)
    error = None if 200 <= answer.status_code < 300 else \
        f"HTTP {answer.status_code}: {answer.text[:200]}"
    return answer.status_code, error, _ms(began)


def _ms(began: float) -> int:
    return int((time.perf_counter() - began) * 1000)


def _log(db: Database, claimed: Claimed, at: datetime, code: int | None, error: str | None,
         took: int, settings: Settings) -> str:
    with db.transaction() as session:
        session.add(WebhookAttempt(delivery_id=claimed.id, at=at, status_code=code,
                                   error=error, duration_ms=took))
        row = session.get(WebhookDelivery, claimed.id)
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", at, None
        elif claimed.attempt >= settings.max_attempts:
            row.status, row.last_error = "failed", error
            log.warning("webhook delivery %s (%s) given up after %d attempts: %s",
                        claimed.id, claimed.event_type, claimed.attempt, error)
        else:
            row.last_error = error
            row.next_attempt_at = at + settings.backoff(claimed.attempt)
        return row.status
