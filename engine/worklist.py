"""The worklist: open human tasks a user may work on, filtered, sorted and paged in SQL.

Reads only the visibility projection (`task_visibility`) and then the page's own
`human_tasks` rows: for each of the user's principals (the user, each group) one index
range in the page's order, at most as deep as the page; counts stop at `COUNT_CAP`.
So a page costs the same with a thousand open tasks or a hundred thousand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import func, or_, select, union
from sqlalchemy.orm import Session

from .models import HumanTask, ProcessDefinition, TaskVisibility
from .store.visibility import principals

V = TaskVisibility.__table__.c
SOON = timedelta(days=3)
COUNT_CAP = 1000  # counts above this show as "more than 1000"
SORTS = {  # each an index's columns, read forwards or (with "-") backwards
    "due": ("due_key", "created_at"),
    "-due": ("due_key", "created_at"),
    "created": ("created_at",),
    "-created": ("created_at",),
    "name": ("name", "created_at"),
    "process": ("process_key", "created_at"),
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
    groups: set[str] | None = None  # the actor's groups when the caller has them already


@dataclass
class WorklistPage:
    tasks: list[HumanTask]
    total: int  # COUNT_CAP + 1 stands for "more than COUNT_CAP"
    page: int
    per_page: int
    counts: dict[str, int] = field(default_factory=dict)
    process_names: dict[str, str] = field(default_factory=dict)
    has_next: bool = False
    cap: ClassVar[int] = COUNT_CAP

    @property
    def pages(self) -> int | None:
        """The number of pages, or None when there are more tasks than are counted."""
        if self.total > COUNT_CAP:
            return None
        return max(1, -(-self.total // self.per_page))

    @staticmethod
    def figure(count: int) -> str:
        return f"{COUNT_CAP}+" if count > COUNT_CAP else str(count)


def visible_to(actor: str, groups: set[str]):
    """SQL condition on `human_tasks`: assigned to the user, or unclaimed and offered to
    them or one of their groups."""
    return HumanTask.id.in_(select(V.task_id).where(
        V.principal.in_(principals(actor, groups))))


def worklist(session: Session, query: WorklistQuery, groups: set[str],
             now: datetime) -> WorklistPage:
    everyone = principals(query.actor, groups)
    who, scope = {"mine": (everyone[:1], [V.claimed]),
                  "group": (everyone, [~V.claimed])}.get(query.scope, (everyone, []))
    conditions = [*scope, *_filters(query, now)]
    page = max(1, query.page)
    per_page = min(max(1, query.per_page), 200)
    sort = query.sort if query.sort in SORTS else "due"
    keys = [*SORTS[sort], "task_id"]
    depth = page * per_page + 1
    ranges = [select(*(V[k] for k in keys)).where(V.principal == p, *conditions)
              .order_by(*_ordered(V, keys, sort)).limit(depth).subquery() for p in who]
    merged = union(*(select(*r.c) for r in ranges)).subquery() if len(ranges) > 1 \
        else ranges[0]
    ids = list(session.scalars(
        select(merged.c.task_id).order_by(*_ordered(merged.c, keys, sort))
        .offset((page - 1) * per_page).limit(per_page + 1)))
    has_next = len(ids) > per_page
    ids = ids[:per_page]
    found = {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))}
    soon = (V.due_key >= now) & (V.due_key <= now + SOON)
    figures = session.execute(select(
        _capped(who, conditions),
        _capped(everyone[:1], [V.claimed]),
        _capped(everyone, [~V.claimed]),
        _capped(everyone, [V.due_key < now]),
        _capped(everyone, [soon]))).one()
    names = dict(session.execute(
        select(ProcessDefinition.key, ProcessDefinition.name)
        .order_by(ProcessDefinition.version)).all())
    return WorklistPage([found[i] for i in ids if i in found], figures[0], page, per_page,
                        dict(zip(("mine", "group", "overdue", "soon"), figures[1:],
                                 strict=True)), names, has_next)


def _filters(query: WorklistQuery, now: datetime) -> list[Any]:
    conditions: list[Any] = []
    if query.process_key:
        conditions.append(V.process_key == query.process_key)
    if query.clinic:
        conditions.append(V.clinic == query.clinic)
    if query.text:
        like = f"%{query.text.lower()}%"
        conditions.append(or_(func.lower(V.name).like(like),
                              func.lower(V.business_key).like(like)))
    if query.due == "overdue":
        conditions.append(V.due_key < now)
    elif query.due == "soon":
        conditions.append(V.due_key.between(now, now + SOON))
    return conditions


def _ordered(columns, keys: list[str], sort: str) -> list[Any]:
    descending = sort.startswith("-")
    return [columns[k].desc() if descending else columns[k] for k in keys]


def _capped(who: list[str], conditions: list[Any]):
    """A count of distinct tasks that reads at most COUNT_CAP + 1 rows per principal."""
    ranges = [select(V.task_id).where(V.principal == p, *conditions).limit(COUNT_CAP + 1)
              .subquery() for p in who]
    merged = union(*(select(r.c.task_id) for r in ranges)).subquery() if len(ranges) > 1 \
        else ranges[0]
    return select(func.count()).select_from(
        select(merged.c.task_id).limit(COUNT_CAP + 1).subquery()).scalar_subquery()
