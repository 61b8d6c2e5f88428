"""The case hooks this installation gives its engine: the routines' own (the reporter's
receipt and feedback, what a case is about) and the webhooks' events, written with
every command."""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.hooks import CaseChange
from engine.store.prepared import Writes
from routines.hooks import RoutineHooks

from .webhooks import events


class InstallationHooks(RoutineHooks):
    def saved(self, session: Session, change: CaseChange, writes: Writes) -> None:
        events.record(change, writes, session.connection())
