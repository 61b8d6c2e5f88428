"""The worklist: open human tasks a user may work on, filtered, sorted and paged in SQL over
`task_visibility`, at a cost that does not grow with the number of open tasks
(docs/DESIGN.md, "The worklist stays flat").
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, literal, select, text, union
from sqlalchemy.orm import Session

from ..models import HumanTask, ProcessDefinition, TaskVisibility
from ..store import task_search
from ..store.visibility import principals

V = TaskVisibility.__table__.c
SOON = timedelta(days=3)
COUNT_CAP = 100  # counts above this show as "100+", like a badge
# SQLite: the tasks a search index finds are read by id (about 4 µs each, measured) when
# that is cheaper than reading each principal's rows in order until the page and the
# count are full (about 1.5 µs a row, COUNT_CAP + 1 matches per principal): with N tasks
# open and M found, when 4 M < 1.5 × 505 N / M, that is M below about √(190 N)
NARROW_FACTOR = 190
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
    filters, values = _filters(query, now)
    postgres = session.get_bind().dialect.name == "postgresql"
    searching = "text" in filters
    if searching and not postgres:
        # SQLite: the tasks that hold the words, when few, from its trigram index; then
        # their rows are read by id
        among = task_search.matching(session.connection(), query.text.lower(), _narrowest)
        if among is not None:
            filters += ("among",)
            values["among"] = among
    if postgres:
        # Plans for the shape, not the values, where the shape decides: a principal's
        # range read in index order stops after one page. A text search is planned for
        # its words: a common word reads the range in order, a case number the few
        # rows the trigram index finds (migration 0017).
        session.execute(_CUSTOM_PLANS if searching else _GENERIC_PLANS)
    everyone = principals(query.actor, groups)
    who = {"mine": (0, 1), "group": (1, len(everyone))}.get(query.scope, (0, len(everyone)))
    page = max(1, query.page)
    per_page = min(max(1, query.per_page), 200)
    sort = query.sort if query.sort in SORTS else "due"
    params = {**{f"p{i}": p for i, p in enumerate(everyone)}, **values,
              "reach": max(page * per_page + 1, COUNT_CAP + 1), "skip": (page - 1) * per_page,
              "take": per_page + 1, "now": now, "soon_end": now + SOON, "cap": COUNT_CAP + 1}
    rows = session.execute(_page(len(everyone), who, sort, filters), params).all()
    ids = [row.task_id for row in rows[:per_page]]
    has_next = len(rows) > per_page
    if rows:
        total = rows[0].total
    elif page == 1:  # nothing in any range
        total = 0
    else:  # past the last page: counted on its own
        total = session.scalar(_total(len(everyone), who, filters), params)
    if postgres and searching:  # the tabs are planned by their shape
        session.execute(_GENERIC_PLANS)
    tabs = session.execute(_tabs(len(everyone)), params).one()
    found = {t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.id.in_(ids)))}
    names = dict(session.execute(_NAMES).all())
    return WorklistPage([found[i] for i in ids if i in found], total, page, per_page,
                        dict(zip(("mine", "group", "overdue", "soon"), tabs, strict=True)),
                        names, has_next)


_GENERIC_PLANS = text("SET LOCAL plan_cache_mode = force_generic_plan")
_CUSTOM_PLANS = text("SET LOCAL plan_cache_mode = force_custom_plan")
_NAMES = select(ProcessDefinition.key, ProcessDefinition.name).order_by(
    ProcessDefinition.version)
_CONDITIONS = {  # the filters, on bound parameters, so each shape of query is built once
    "process": V.process_key == bindparam("process_key"),
    "clinic": V.clinic == bindparam("clinic"),
    "text": task_search.SEARCHED.like(bindparam("like"), escape="\\"),
    "among": V.task_id.in_(bindparam("among", expanding=True)),
    "overdue": V.due_key < bindparam("now"),
    "soon": V.due_key.between(bindparam("now"), bindparam("soon_end")),
}


def _narrowest(open_tasks: int) -> int:
    return math.isqrt(NARROW_FACTOR * open_tasks)


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
        words = query.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        values["like"] = f"%{words}%"  # what was typed, wildcards included, is looked for
    if query.due in DUE_FILTERS:
        filters.append(query.due)
    return tuple(filters), values


@functools.lru_cache(maxsize=512)
def _page(principal_count: int, who: tuple[int, int], sort: str, filters: tuple[str, ...]):
    """The page's task ids (one more than the page, to know of a next) and, on each, the
    total: each principal's range is read once in the page's order, as deep as the page
    or the count's cap, whichever is deeper; the ranges merged are ordered again and cut
    for the page, and counted up to the cap. A task in several ranges counts once. A
    range with fewer tasks than the cap is read whole, so the count is exact below it."""
    keys = [*SORTS[sort], "task_id"]
    conditions = [_CONDITIONS[f] for f in filters]
    if "among" in filters:  # few tasks, by id: their rows, whoever they are offered to
        # (the principals compared as text, so that SQLite reads each task's rows by its
        # id rather than each principal's rows for every id)
        found = select(*(V[k] for k in keys)).distinct().where(
            V.principal.concat("").in_([bindparam(f"p{i}") for i in range(*who)]),
            *conditions)
    else:
        ranges = [select(*(V[k] for k in keys))
                  .where(V.principal == bindparam(f"p{i}"), *conditions)
                  .order_by(*_ordered(V, keys, sort)).limit(bindparam("reach")).subquery()
                  for i in range(*who)]
        found = union(*(select(*r.c) for r in ranges)) if len(ranges) > 1 \
            else select(*ranges[0].c)
    reached = found.cte("reached").prefix_with("MATERIALIZED")
    total = select(func.count()).select_from(
        select(reached.c.task_id).limit(bindparam("cap")).subquery()).scalar_subquery()
    return select(reached.c.task_id, total.label("total")) \
        .order_by(*_ordered(reached.c, keys, sort)) \
        .offset(bindparam("skip")).limit(bindparam("take"))


@functools.lru_cache(maxsize=512)
def _total(principal_count: int, who: tuple[int, int], filters: tuple[str, ...]):
    """The tasks the filters keep, counted from at most COUNT_CAP + 1 index entries per
    principal."""
    return select(_capped(who, [_CONDITIONS[f] for f in filters]))


@functools.lru_cache(maxsize=64)
def _tabs(principal_count: int):
    """The tabs' counts (mine, my groups', overdue, due soon), each the same way."""
    everyone = (0, principal_count)
    return select(_capped((0, 1), []), _capped((1, principal_count), []),
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
