"""The worklist: open human tasks a user may work on, filtered, sorted and paged in SQL.

Reads only the task projection (`human_tasks`, `task_candidates`), never a workflow,
so it stays fast with many open tasks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from .models import HumanTask, ProcessDefinition, TaskCandidate

SOON = timedelta(days=3)
SORTS = {
    "due": (HumanTask.due_at.is_(None), HumanTask.due_at, HumanTask.created_at),
    "-due": (HumanTask.due_at.is_(None), HumanTask.due_at.desc(), HumanTask.created_at),
    "created": (HumanTask.created_at,),
    "-created": (HumanTask.created_at.desc(),),
    "name": (HumanTask.name, HumanTask.created_at),
    "process": (HumanTask.process_key, HumanTask.created_at),
}
SCOPES = ("all", "mine", "group")
DUE_FILTERS = ("overdue", "soon")


@dataclass
class WorklistQuery:
    actor: str
    scope: str = "all"  # all: mine and offered; mine: assigned to me; group: unclaimed offered
    process_key: str | None = None
    clinic: str | None = None
    text: str | None = None
    due: str | None = None  # overdue, soon
    sort: str = "due"
    page: int = 1
    per_page: int = 25


@dataclass
class WorklistPage:
    tasks: list[HumanTask]
    total: int
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)
    process_names: dict[str, str] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def offered_to(actor: str, groups: set[str]):
    """SQL condition: unclaimed tasks offered to the user or one of their groups."""
    offered = select(TaskCandidate.task_id).where(or_(
        (TaskCandidate.kind == "group") & TaskCandidate.value.in_(sorted(groups) or [""]),
        (TaskCandidate.kind == "user") & (TaskCandidate.value == actor)))
    return HumanTask.assignee.is_(None) & HumanTask.id.in_(offered)


def visible_to(actor: str, groups: set[str]):
    """SQL condition: tasks assigned to the user, or unclaimed and offered to them."""
    return or_(HumanTask.assignee == actor, offered_to(actor, groups))


def worklist(session: Session, query: WorklistQuery, groups: set[str],
             now: datetime) -> WorklistPage:
    scope = {"mine": HumanTask.assignee == query.actor,
             "group": offered_to(query.actor, groups)}.get(query.scope,
                                                           visible_to(query.actor, groups))
    conditions: list[Any] = [scope]
    if query.process_key:
        conditions.append(HumanTask.process_key == query.process_key)
    if query.clinic:
        conditions.append(HumanTask.clinic == query.clinic)
    if query.text:
        like = f"%{query.text.lower()}%"
        conditions.append(or_(func.lower(HumanTask.name).like(like),
                              func.lower(HumanTask.business_key).like(like)))
    if query.due == "overdue":
        conditions.append(HumanTask.due_at < now)
    elif query.due == "soon":
        conditions.append(HumanTask.due_at.between(now, now + SOON))
    total = session.scalar(select(func.count()).select_from(HumanTask).where(*conditions))
    page = max(1, query.page)
    per_page = min(max(1, query.per_page), 200)
    tasks = list(session.scalars(
        select(HumanTask).where(*conditions).order_by(*SORTS.get(query.sort, SORTS["due"]),
                                                      HumanTask.id)
        .offset((page - 1) * per_page).limit(per_page)))
    visible = visible_to(query.actor, groups)
    counts = {
        "mine": _count(session, HumanTask.assignee == query.actor),
        "group": _count(session, offered_to(query.actor, groups)),
        "overdue": _count(session, visible, HumanTask.due_at < now),
        "soon": _count(session, visible, HumanTask.due_at.between(now, now + SOON)),
    }
    names = dict(session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name)
        .order_by(ProcessDefinition.version)).all())
    return WorklistPage(tasks, total or 0, page, per_page, counts, names)


def _count(session: Session, *conditions: Any) -> int:
    return session.scalar(select(func.count()).select_from(HumanTask).where(*conditions)) or 0
