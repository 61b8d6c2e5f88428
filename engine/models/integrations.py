"""The systems Tiltak talks to: API tokens and webhooks with their outbox and
delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ApiToken(Base):
    """A token an integration (an incident system) uses on the JSON API on behalf of one
    user, limited to some actions and processes. Only its SHA-256 is kept: the token is
    shown once, when it is made (engine/tokens.py)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    processes: Mapped[list[Any] | None] = mapped_column(JSON)  # none: every process
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Webhook(Base):
    """An operator's subscription: the events of some processes posted to a URL, signed
    with its own secret. The secret is kept as it is, since signing needs it (a hash
    cannot sign); a removed webhook keeps its row so its delivery log stays readable."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[Any]] = mapped_column(default=list)
    processes: Mapped[list[Any] | None] = mapped_column(JSON)  # none: every process
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    removed_at: Mapped[datetime | None]


class WebhookTopic(Base):
    """What a live webhook hears: a row per event type and process (none: every
    process), so that a command queues its events in the statements it writes anyway
    (an INSERT ... SELECT per event), without reading the webhooks first. A removed
    webhook's topics are deleted; the webhook row keeps what it heard, for its log."""

    __tablename__ = "webhook_topics"
    __table_args__ = (Index("ix_webhook_topics_event_process", "event_type", "process_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    process_key: Mapped[str | None] = mapped_column(String(200))


class WebhookDelivery(Base):
    """One event for one webhook: its body as first written (so every retry sends and
    signs the same bytes), retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending sent failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try at a delivery, for the operators' log: when, the receiver's HTTP status
    or the error, and how long it took."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)

