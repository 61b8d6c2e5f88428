"""Values a user task is shown from the last finished round of the same routine
(`fra_forrige`; docs/DESIGN.md, "What one round of a routine leaves for the next").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..model.carry_over import PREFIX, PROPERTY, sources
from ..models import HistoryEvent, TaskRecord
from ..serialization import data_from_json


def values_for(session: Session, properties: dict[str, Any] | None, *, process_key: str,
               clinic: str | None, before: datetime) -> dict[str, Any]:
    """`forrige_<key>` for each source the task's properties name that has a value."""
    text = (properties or {}).get(PROPERTY)
    if not text:
        return {}
    found: dict[str, Any] = {}
    for element, key in sources(text):
        value = last_submitted(session, process_key=process_key, element_id=element,
                               clinic=clinic, key=key, before=before)
        if value not in (None, ""):
            found[PREFIX + key] = value
    return found


def last_submitted(session: Session, *, process_key: str, element_id: str,
                   clinic: str | None, key: str, before: datetime) -> Any:
    """What the last completion of the element (for the clinic; with no clinic, of the
    tasks that had none) before `before` sent for `key`; None if it sent nothing."""
    same_clinic = TaskRecord.clinic.is_(None) if clinic is None else \
        TaskRecord.clinic == clinic
    data = session.scalars(
        select(HistoryEvent.data)
        .join(TaskRecord, TaskRecord.id == HistoryEvent.task_id)
        .where(TaskRecord.process_key == process_key, TaskRecord.element_id == element_id,
               same_clinic, TaskRecord.outcome == "completed", TaskRecord.ended_at < before,
               HistoryEvent.type == "complete")
        .order_by(TaskRecord.ended_at.desc(), HistoryEvent.id.desc())
        .limit(1)).first()
    if data is None:
        return None
    values = (data_from_json(data) or {}).get("values") or {}
    return values.get(key)
