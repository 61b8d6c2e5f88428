"""The case hooks this installation gives its engine: the routines' own (the reporter's
receipt and feedback) and the webhooks' events, written with every command."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.hooks import CaseChange
from routines.receipts import ReceiptHooks

from .webhooks import events


class InstallationHooks(ReceiptHooks):
    def saved(self, session: Session, change: CaseChange) -> None:
        events.record(session, change)
