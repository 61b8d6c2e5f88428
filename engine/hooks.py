"""What an installation's routines add to the engine's commands (`CaseHooks`); the engine
calls them in the command's own transaction and knows nothing of what they do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .store.prepared import Writes


@dataclass(frozen=True)
class CaseChange:
    """What one command changed in a case, as written: the command (`start`, `complete`,
    `message`, `timer`, `cancel`, `migrated`), the user tasks it opened and the one it
    completed (id, element_id, name, process_key), and whether the case ended
    (`ended` is its status then: `completed` or `cancelled`)."""

    row: Any
    command: str
    actor: str
    at: datetime
    data: dict[str, Any]
    opened: tuple[dict[str, Any], ...] = ()
    completed: dict[str, Any] | None = None
    ended: str | None = None


class CaseHooks:
    """The default: nothing added. An installation passes its own to the Engine."""

    def reporter(self, values: dict[str, Any], actor: str) -> tuple[dict[str, Any], str, Any]:
        """Before a case starts: the data it starts with, the actor its history names
        (an anonymous reporter is named by no one), and what `started` gets back."""
        return values, actor, None

    def started(self, session: Session, row: Any, kept: Any, actor: str) -> None:
        """After a case has started (its row is `row`), with what `reporter` kept."""

    def completed(self, session: Session, row: Any, task: Any, values: dict[str, Any],
                  now: Any) -> None:
        """After a user task of the case is completed with `values`."""

    def saved(self, session: Session, change: CaseChange, writes: Writes) -> None:
        """When any command that ran the case writes its result (start, complete,
        message, timer, cancel, migration): statements added to `writes` go out with
        the command's own, in the same transaction (one round trip on PostgreSQL)."""

    def receipt(self, session: Session, code: str) -> Any:
        """The receipt a reporter's code names, if the routines issue receipts."""
        return None

    def case_facts(self, variables: dict[str, Any]) -> dict[str, Any]:
        """What the case is about, from its process variables, for the indicators and for
        visibility: any of `clinic`, `unit` and `title` (text), `serious` and `expertise`
        (true, false or None), `risk_class` (text), `anonymous` and `sensitive` (true
        keeps the case out of sight for good). Facts not given are stored empty."""
        return {}
