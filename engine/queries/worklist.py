"""The worklist: open human tasks a user may work on, filtered, sorted and paged in SQL over
`task_visibility`, at a cost that does not grow with the number of open tasks
(docs/DESIGN.md, "The worklist stays flat").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, or_, select, text, union
from sqlalchemy.orm import Session

from ..models import HumanTask, ProcessDefinition, TaskVisibility
from ..store.visibility import principals

V = TaskVisibility.__table__.c
SOON = timedelta(days=3)
COUNT_CAP = 100  # counts above this show as "100+", like a badge
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

    @property
    def cap(self) -> int:
        return COUNT_CAP

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
    if session.get_bind().dialect.name == "postgresql":
        # Plans for the shape, not the values: with the values PostgreSQL guesses that a
        # text filter keeps few rows and reads a whole principal's range to sort it,
        # where the range read in index order stops after one page.
        session.execute(_GENERIC_PLANS)
    everyone = principals(query.actor, groups)
    who = {"mine": (0, 1), "group": (1, len(everyone))}.get(query.scope, (0, len(everyone)))
    page = max(1, query.page)
    per_page = min(max(1, query.per_page), 200)
    sort = query.sort if query.sort in SORTS else "due"
    filters, values = _filters(query, now)
    params = {**{f"p{i}": p for i, p in enumerate(everyone)}, **values,
              "depth": page * per_page + 1, "skip": (page - 1) * per_page,
              "take": per_page + 1, "now": now, "soon_end": now + SOON, "cap": COUNT_CAP + 1}
    ids = list(session.scalars(_page(len(everyone), who, sort, filters), params))
    has_next = len(ids) > per_page
    ids = ids[:per_page]
    found = {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))}
    figures = session.execute(_counts(len(everyone), who, filters), params).one()
    names = dict(session.execute(_NAMES).all())
    return WorklistPage([found[i] for i in ids if i in found], figures[0], page, per_page,
                        dict(zip(("mine", "group", "overdue", "soon"), figures[1:],
                                 strict=True)), names, has_next)


_GENERIC_PLANS = text("SET LOCAL plan_cache_mode = force_generic_plan")
_NAMES = select(ProcessDefinition.key, ProcessDefinition.name).order_by(
    ProcessDefinition.version)
_CONDITIONS = {  # the filters, on bound parameters, so each shape of query is built once
    "process": V.process_key == bindparam("process_key"),
    "clinic": V.clinic == bindparam("clinic"),
    "text": or_(func.lower(V.name).like(bindparam("like")),
                func.lower(V.business_key).like(bindparam("like")),
                func.lower(V.title).like(bindparam("like"))),  # as the row shows it
    "overdue": V.due_key < bindparam("now"),
    "soon": V.due_key.between(bindparam("now"), bindparam("soon_end")),
}


def _filters(query: WorklistQuery, now: datetime) -> tuple[tuple[str, ...], dict[str, Any]]:
    filters, values = [], {}
    if query.process_key:
        filters.append("process")
        values["process_key"] = query.process_key
    if query.clinic:
        filters.append("clinic")
        values["clinic"] = query.clinic
    if query.text:
        filters.append("text")
        values["like"] = f"%{query.text.lower()}%"
    if query.due in DUE_FILTERS:
        filters.append(query.due)
    return tuple(filters), values


@functools.lru_cache(maxsize=512)
def _page(principal_count: int, who: tuple[int, int], sort: str, filters: tuple[str, ...]):
    """The page's task ids: each principal's range in the page's order, as deep as the
    page, merged, ordered again and cut (one more than the page, to know of a next)."""
    keys = [*SORTS[sort], "task_id"]
    conditions = [_CONDITIONS[f] for f in filters]
    ranges = [select(*(V[k] for k in keys))
              .where(V.principal == bindparam(f"p{i}"), *conditions)
              .order_by(*_ordered(V, keys, sort)).limit(bindparam("depth")).subquery()
              for i in range(*who)]
    merged = _merged(ranges)
    return select(merged.c.task_id).order_by(*_ordered(merged.c, keys, sort)) \
        .offset(bindparam("skip")).limit(bindparam("take"))


@functools.lru_cache(maxsize=512)
def _counts(principal_count: int, who: tuple[int, int], filters: tuple[str, ...]):
    """The page's total and the tabs' counts, each read from at most COUNT_CAP + 1 index
    entries per principal."""
    everyone = (0, principal_count)
    conditions = [_CONDITIONS[f] for f in filters]
    return select(_capped(who, conditions), _capped((0, 1), []),
                  _capped((1, principal_count), []),
                  _capped(everyone, [_CONDITIONS["overdue"]]),
                  _capped(everyone, [_CONDITIONS["soon"]]))


def _ordered(columns, keys: list[str], sort: str) -> list[Any]:
    descending = sort.startswith("-")
    return [columns[k].desc() if descending else columns[k] for k in keys]


def _merged(ranges):
    return union(*(select(*r.c) for r in ranges)).subquery() if len(ranges) > 1 \
        else ranges[0]


def _capped(who: tuple[int, int], conditions: list[Any]):
    ranges = [select(V.task_id, V.due_key)
              .where(V.principal == bindparam(f"p{i}"), *conditions)
              .order_by(V.due_key).limit(bindparam("cap")).subquery() for i in range(*who)]
    if not ranges:
        return literal(0).label("none")
    merged = _merged(ranges)
    return select(func.count()).select_from(
        select(merged.c.task_id).limit(bindparam("cap")).subquery()).scalar_subquery()
