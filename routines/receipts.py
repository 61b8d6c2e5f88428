"""The reporter's side of a report: anonymity, a receipt code, and feedback that reaches
them (docs/DESIGN.md, "The reporter's receipt and feedback"), given to the engine as its
case hooks."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import notifications
from engine.execution.projection import indicator_of
from engine.hooks import CaseHooks
from engine.models import OutboxMail, ProcessInstance, Receipt, User

ANONYMOUS = "anonym"
ANONYMOUS_FIELD = "anonym"
EMAIL_FIELD = "epost_tilbakemelding"
FEEDBACK_FIELD = "tilbakemelding"
FEEDBACK_INDICATOR = "tilbakemelding"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread


def takes_receipt(values: dict[str, Any]) -> bool:
    return ANONYMOUS_FIELD in values or EMAIL_FIELD in values


def is_anonymous(values: dict[str, Any]) -> bool:
    return values.get(ANONYMOUS_FIELD) is True


def without_contact(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The case data without the reporter's e-mail address, and the address."""
    rest = {k: v for k, v in values.items() if k != EMAIL_FIELD}
    email = values.get(EMAIL_FIELD)
    return rest, (email.strip() or None) if isinstance(email, str) else None


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def code_hash(code: str) -> str:
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode("ascii", "ignore")).hexdigest()


def issue(session: Session, instance_id: str, email: str | None, language: str) -> str:
    code = new_code()
    session.add(Receipt(code_hash=code_hash(code), instance_id=instance_id, email=email,
                        language=language))
    return code


def find(session: Session, code: str) -> Receipt | None:
    return session.get(Receipt, code_hash(code)) if code and code.strip() else None


def deliver_feedback(session: Session, row: ProcessInstance, text: str | None,
                     at: datetime) -> None:
    """Keep the feedback with the receipt and send it to the reporter."""
    text = (text or "").strip()
    if not text:
        return
    receipt = session.scalars(select(Receipt).where(Receipt.instance_id == row.id)).first()
    title = row.business_key or ""
    if receipt is not None:
        receipt.feedback, receipt.feedback_at = text, at
        if receipt.email:
            subject, body = notifications.render(
                "tilbakemelding", receipt.language or "nb",
                {"tekst": text, "sak": title, "navn": ""})
            session.add(OutboxMail(to_address=receipt.email, subject=subject, body=body,
                                   status="pending", attempts=0, next_attempt_at=at))
    if row.started_by != ANONYMOUS:
        notifications.queue(session, instance_id=row.id, element_id=None, at=at, values={
            "mottaker": row.started_by, "mal": "tilbakemelding", "tekst": text,
            "sak": title})


class ReceiptHooks(CaseHooks):
    """A report with the reporter's fields (`anonym`, `epost_tilbakemelding`) gets a
    receipt code; the leader's feedback (a task counted as `tilbakemelding`) reaches the
    reporter through it."""

    def reporter(self, values: dict[str, Any], actor: str) -> tuple[dict[str, Any], str, Any]:
        if not takes_receipt(values):
            return values, actor, None
        rest, email = without_contact(values)
        return rest, ANONYMOUS if is_anonymous(rest) else actor, {"email": email}

    def started(self, session: Session, row: Any, kept: Any, actor: str) -> None:
        if kept is None:
            return
        user = session.get(User, actor)
        row.receipt_code = issue(session, row.id, kept["email"],
                                 user.language if user else "nb")

    def completed(self, session: Session, row: Any, task: Any, values: dict[str, Any],
                  now: datetime) -> None:
        if indicator_of(task) == FEEDBACK_INDICATOR:
            deliver_feedback(session, row, values.get(FEEDBACK_FIELD), now)

    def receipt(self, session: Session, code: str) -> Receipt | None:
        return find(session, code)
