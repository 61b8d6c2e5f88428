"""Finding cases as a caseworker: by title, business key, process and status, among the
cases the user may see. `visible` is the case page's rule (HistoryService.may_view)
written as one SQL condition, so a search never lists a case its page would refuse.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, func, or_, select, true
from sqlalchemy.orm import Session

from ..identity.permissions import Roles
from ..models import CaseFacts, HistoryEvent, HumanTask, ProcessDefinition, ProcessInstance
from .search import STATUSES, utc
from .worklist import visible_to

LIMIT = 100


@dataclass
class FoundCase:
    id: str
    process_key: str
    process_name: str
    business_key: str | None
    title: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None
    clinic: str | None


def visible(actor: str, groups: set[str], roles: Roles):
    """SQL condition on `process_instances`: the cases `actor` may open. Auditors see
    all; process owners all that are not sensitive; everyone the cases they started
    (unless sensitive), completed a step in, or have an open task in."""
    if roles.is_auditor(groups):
        return true()
    sensitive = select(CaseFacts.instance_id).where(
        CaseFacts.instance_id == ProcessInstance.id, CaseFacts.sensitive.is_(True)
    ).correlate(ProcessInstance).exists()
    took_part = select(HistoryEvent.id).where(
        HistoryEvent.stream == ProcessInstance.id, HistoryEvent.actor == actor
    ).correlate(ProcessInstance).exists()
    offered = select(HumanTask.id).where(
        HumanTask.instance_id == ProcessInstance.id, visible_to(actor, groups)
    ).correlate(ProcessInstance).exists()
    reads_all = true() if groups & roles.read_all else false()
    return or_(~sensitive & or_(reads_all, ProcessInstance.started_by == actor),
               took_part, offered)


def find_cases(session: Session, condition, *, text: str = "", process_key: str = "",
               status: str = "", limit: int = LIMIT) -> tuple[list[FoundCase], int]:
    """Up to `limit` matching cases, newest first, and how many match in all. `text` is
    a part of the title or the business key, in any case."""
    conditions = [condition]
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be 1 to 1000")
    if text.strip():
        wanted = text.strip().lower()
        conditions.append(or_(
            func.lower(ProcessInstance.business_key).contains(wanted, autoescape=True),
            func.lower(CaseFacts.title).contains(wanted, autoescape=True)))
    if process_key:
        conditions.append(ProcessInstance.process_key == process_key)
    if status in STATUSES:
        conditions.append(ProcessInstance.status == status)
    base = select(ProcessInstance.id).outerjoin(
        CaseFacts, CaseFacts.instance_id == ProcessInstance.id).where(*conditions)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        select(ProcessInstance.id, ProcessInstance.process_key, ProcessDefinition.name,
               ProcessInstance.business_key, CaseFacts.title, ProcessInstance.status,
               ProcessInstance.started_at, ProcessInstance.ended_at, CaseFacts.clinic)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(CaseFacts, CaseFacts.instance_id == ProcessInstance.id)
        .where(*conditions)
        .order_by(ProcessInstance.started_at.desc(), ProcessInstance.id.desc())
        .limit(limit)).all()
    return [FoundCase(r.id, r.process_key, r.name, r.business_key, r.title, r.status,
                      utc(r.started_at), utc(r.ended_at) if r.ended_at else None, r.clinic)
            for r in rows], total


def visible_cases(session: Session, condition, instance_ids: list[str]
                  ) -> dict[str, FoundCase]:
    """Those of these cases the condition lets through (read in chunks, for long lists)."""
    found: dict[str, FoundCase] = {}
    ordered = sorted(set(instance_ids))
    for start in range(0, len(ordered), 500):
        chunk = ordered[start:start + 500]
        rows, _total = find_cases(session, ProcessInstance.id.in_(chunk) & condition,
                                  limit=len(chunk))
        found.update((row.id, row) for row in rows)
    return found
