"""Who uses Tiltak and what reaches them: users and groups, who read which case,
notifications and their mail, reporters' receipts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class User(Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="nb")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # a signed-in session names the epoch it began in; moving it on ends every session
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]  # sign-in paused after too many failures


class UserGroup(Base):
    __tablename__ = "user_groups"
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"),
                                           primary_key=True)
    group_name: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


class AccessLog(Base):
    """Who read a sensitive case, when and which page: append-only, shown to auditors."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    user_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    what: Mapped[str] = mapped_column(String(50))


class Notification(Base):
    """A message to one user (reminder, escalation), shown in the app and e-mailed."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class OutboxMail(Base):
    """E-mail waiting to be sent; retried with backoff, never lost on a crash."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    to_address: Mapped[str] = mapped_column(String(200))
    # a notification's mail is its notification's subject and body, not a copy of them
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending sent failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class Receipt(Base):
    """A reporter's receipt: the code (stored hashed) that fetches the feedback on a report.

    An anonymous reporter's name is recorded nowhere; an e-mail address for the feedback
    is kept here only, never in the case's data, so the handlers do not see it.
    """

    __tablename__ = "receipts"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"),
                                             unique=True)
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="nb")
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None]

