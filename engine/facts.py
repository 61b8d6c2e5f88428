"""Facts kept for the indicators: each human task's life, and what each case is about.

Written in the same transaction as the command that causes them, from what the command
already has in hand (the open tasks it computed, the process variables), so the
dashboard and the visibility rules never deserialize a workflow.

The process variables read are part of the routines' vocabulary: `klinikk`, `enhet`,
`alvorlig` (serious event), `risikoklasse`, `sakkompetens` (subject-matter expertise
took part in the investigation), `anonym` (reporter anonymous to the handlers) and
`sensitiv` (visible to the handlers only).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from .models import CaseFacts, ProcessInstance, TaskRecord
from .projection import TaskView


def record_opened(session: Session, row: ProcessInstance, view: TaskView, now: datetime
                  ) -> None:
    session.add(TaskRecord(
        id=view.id, instance_id=row.id, process_key=view.process_key,
        element_id=view.element_id, name=view.name, indicator=view.indicator,
        clinic=view.clinic, unit=view.unit, created_at=now, due_at=view.due_at))


def record_closed(session: Session, task_ids: list[str], now: datetime,
                  completed: tuple[str, str] | None) -> None:
    """Tasks that left the worklist: the one completed by the command, others cancelled."""
    done_id, actor = completed if completed else (None, None)
    for task_id in task_ids:
        if task_id == done_id:
            values = {"outcome": "completed", "completed_by": actor}
        else:
            values = {"outcome": "cancelled"}
        session.execute(update(TaskRecord).where(TaskRecord.id == task_id,
                                                 TaskRecord.ended_at.is_(None))
                        .values(ended_at=now, **values))


def record_case(session: Session, row: ProcessInstance, variables: dict[str, Any]) -> CaseFacts:
    facts = session.get(CaseFacts, row.id)
    if facts is None:
        facts = CaseFacts(instance_id=row.id, process_key=row.process_key)
        session.add(facts)
    facts.clinic = _text(variables.get("klinikk"))
    facts.unit = _text(variables.get("enhet"))
    facts.serious = _flag(variables.get("alvorlig"))
    facts.risk_class = _text(variables.get("risikoklasse"))
    facts.expertise = _flag(variables.get("sakkompetens"))
    # once anonymous or sensitive, always: a later form cannot reveal a case
    facts.anonymous = bool(facts.anonymous) or variables.get("anonym") is True
    facts.sensitive = bool(facts.sensitive) or variables.get("sensitiv") is True
    return facts


def is_sensitive(session: Session, instance_id: str) -> bool:
    return bool(session.scalar(select(CaseFacts.sensitive).where(
        CaseFacts.instance_id == instance_id)))


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
