"""Notifications: queued with the state change that causes them, e-mailed from an outbox
(docs/DESIGN.md, "Notifications").
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Notification, OutboxMail, User, UserGroup

MAX_ATTEMPTS = 8
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)

TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "paminnelse": {
        "nb": ("Påminnelse: tiltaket «{tittel}» har frist {frist}",
               "Hei {navn},\n\ntiltaket «{tittel}» som du er ansvarlig for, har frist {frist}. "
               "Du finner det i arbeidslisten din.\n"),
        "sv": ("Påminnelse: åtgärden ”{tittel}” ska vara klar {frist}",
               "Hej {navn},\n\nåtgärden ”{tittel}” som du ansvarar för ska vara klar {frist}. "
               "Du hittar den i din arbetslista.\n"),
        "en": ("Reminder: the measure “{tittel}” is due {frist}",
               "Hello {navn},\n\nthe measure “{tittel}” you are responsible for is due {frist}. "
               "You find it in your worklist.\n"),
    },
    "eskalering": {
        "nb": ("Fristen er passert: «{tittel}» ({ansvarlig})",
               "Hei {navn},\n\ntiltaket «{tittel}» hadde frist {frist} og er ikke meldt "
               "gjennomført. Ansvarlig: {ansvarlig}.\n"),
        "sv": ("Tidsgränsen har passerat: ”{tittel}” ({ansvarlig})",
               "Hej {navn},\n\nåtgärden ”{tittel}” skulle vara klar {frist} och är inte "
               "rapporterad som genomförd. Ansvarig: {ansvarlig}.\n"),
        "en": ("Deadline passed: “{tittel}” ({ansvarlig})",
               "Hello {navn},\n\nthe measure “{tittel}” was due {frist} and has not been "
               "reported done. Responsible: {ansvarlig}.\n"),
    },
}
TEXTS["tilbakemelding"] = {
    "nb": ("Tilbakemelding på meldingen din {sak}",
           "Hei {navn},\n\ntakk for at du meldte fra. Dette er gjort med saken:\n\n{tekst}\n"),
    "sv": ("Återkoppling på din anmälan {sak}",
           "Hej {navn},\n\ntack för att du anmälde. Detta har gjorts i ärendet:\n\n{tekst}\n"),
    "en": ("Feedback on your report {sak}",
           "Hello {navn},\n\nthank you for reporting. This is what was done:\n\n{tekst}\n"),
}
GENERIC = {"nb": ("Melding fra Tiltak", "Hei {navn},\n\n{tekst}\n"),
           "sv": ("Meddelande från Tiltak", "Hej {navn},\n\n{tekst}\n"),
           "en": ("Message from Tiltak", "Hello {navn},\n\n{tekst}\n")}


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render(template: str, language: str, values: dict[str, Any]) -> tuple[str, str]:
    texts = TEXTS.get(template, GENERIC)
    subject, body = texts.get(language) or texts["nb"]
    shown = _Blank({k: ("" if v is None else str(v)) for k, v in values.items()})
    return subject.format_map(shown), body.format_map(shown)


def recipients(session: Session, values: dict[str, Any]) -> list[User]:
    names: set[str] = set()
    if values.get("mottaker"):
        names.add(str(values["mottaker"]))
    if values.get("mottakergruppe"):
        names.update(session.scalars(select(UserGroup.user_name).where(
            UserGroup.group_name == str(values["mottakergruppe"]))))
    return [u for u in (session.get(User, n) for n in sorted(names)) if u is not None]


def queue(session: Session, *, instance_id: str, element_id: str | None,
          values: dict[str, Any], at: datetime) -> list[Notification]:
    """One notification per recipient, in their language, and its e-mail if they have one."""
    created = []
    template = str(values.get("mal") or "")
    for user in recipients(session, values):
        language = user.language or "nb"
        subject, body = render(template, language,
                               {**values, "navn": user.display_name or user.name})
        note = Notification(user_name=user.name, instance_id=instance_id, element_id=element_id,
                            template=template, language=language, subject=subject, body=body,
                            created_at=at)
        session.add(note)
        session.flush()
        if user.email:
            session.add(OutboxMail(notification_id=note.id, to_address=user.email,
                                   status="pending", attempts=0, next_attempt_at=at))
        created.append(note)
    return created


@dataclass
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "tiltak@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0


def deliver(db, smtp: SmtpSettings, now: datetime, batch: int = 50) -> dict[str, int]:
    """Send due mail, one row per transaction (locked, so two workers never send twice)."""
    sent = failed = 0
    with db.transaction() as session:
        ids = list(session.scalars(select(OutboxMail.id).where(
            OutboxMail.status == "pending", OutboxMail.next_attempt_at <= now)
            .order_by(OutboxMail.next_attempt_at).limit(batch)))
    for mail_id in ids:
        with db.transaction() as session:
            mail = session.scalars(db.lock_free(select(OutboxMail).where(
                OutboxMail.id == mail_id, OutboxMail.status == "pending"))).first()
            if mail is None:
                continue
            try:
                _send(smtp, mail, content(session, mail))
            except (OSError, smtplib.SMTPException) as err:
                mail.attempts += 1
                mail.last_error = f"{type(err).__name__}: {err}"[:2000]
                if mail.attempts >= MAX_ATTEMPTS:
                    mail.status = "failed"
                    failed += 1
                else:
                    mail.next_attempt_at = now + min(FIRST_BACKOFF * 2 ** (mail.attempts - 1),
                                                     MAX_BACKOFF)
            else:
                mail.status, mail.sent_at = "sent", now
                sent += 1
    return {"sent": sent, "failed": failed}


def content(session: Session, mail: OutboxMail) -> tuple[str, str]:
    """The mail's subject and body: its own, or its notification's."""
    if mail.subject is not None or mail.notification_id is None:
        return mail.subject or "", mail.body or ""
    note = session.get(Notification, mail.notification_id)
    return note.subject, note.body


def _send(smtp: SmtpSettings, mail: OutboxMail, content: tuple[str, str]) -> None:
    subject, body = content
    message = EmailMessage()
    message["From"] = smtp.sender
    message["To"] = mail.to_address
    message["Subject"] = subject
    message["Message-ID"] = f"<tiltak-{mail.id}@{smtp.sender.split('@')[-1]}>"
    message.set_content(body)
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)
