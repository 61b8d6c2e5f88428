"""What a command changes besides the state: the open human tasks (with who may see them
and the facts kept of each task's life), the message subscriptions and the case's
facts, each changed by difference."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from ..execution.projection import TaskView
from ..models import CaseFacts, HumanTask, MessageSubscription, TaskRecord
from . import task_search, visibility
from .instances import FINISHED, InstanceRow
from .prepared import Prepared, Writes, query_rows, query_together

TASKS = HumanTask.__table__
RECORDS = TaskRecord.__table__
SUBSCRIPTIONS = MessageSubscription.__table__
FACTS = CaseFacts.__table__


@dataclass(frozen=True)
class Projected:
    """What the projections of an instance hold, as its last command wrote them: kept
    with a live workflow, so that the next command writes the difference without
    reading them first. `facts`: the case's facts as last upserted; `searched`: the
    case's text in SQLite's search index ('' for none; engine/store/task_search.py).
    None: not known."""

    tasks: frozenset[str] = frozenset()
    subscriptions: frozenset[tuple[str, str]] = frozenset()
    facts: dict[str, Any] | None = None
    searched: str | None = None


NOTHING = Projected(searched="")  # a new instance's


def _values(table, names) -> dict:
    return {name: bindparam(name, type_=table.c[name].type) for name in names}


_OPEN_TASKS = Prepared(select(TASKS.c.id).where(
    TASKS.c.instance_id == bindparam("instance_id")))
_SUBSCRIBED = Prepared(select(SUBSCRIPTIONS.c.message_name, SUBSCRIPTIONS.c.element_id).where(
    SUBSCRIPTIONS.c.instance_id == bindparam("instance_id")))
# the task's visibility rows go with it (ON DELETE CASCADE)
_DROP_TASK = Prepared(delete(TASKS).where(TASKS.c.id == bindparam("task_id")))
_CLOSE_RECORD = Prepared(update(RECORDS).where(
    RECORDS.c.id == bindparam("task_id"), RECORDS.c.ended_at.is_(None)).values(
    ended_at=bindparam("at"), outcome=bindparam("how"), completed_by=bindparam("by")))
_TASK_COLUMNS = ("id", "instance_id", "definition_id", "process_key", "element_id", "name",
                 "assignee", "candidate_groups", "candidate_users", "due_at", "follow_up_at",
                 "priority", "form", "created_at", "business_key", "clinic")
_RECORD_COLUMNS = ("id", "instance_id", "process_key", "element_id", "name", "indicator",
                   "clinic", "unit", "created_at", "due_at")
_ADD_TASK = Prepared(insert(TASKS).values(_values(TASKS, _TASK_COLUMNS)))
_ADD_RECORD = Prepared(insert(RECORDS).values(_values(RECORDS, _RECORD_COLUMNS)))
_ADD_VISIBILITY = Prepared(insert(visibility.VISIBILITY).values(_values(
    visibility.VISIBILITY, ("principal", "task_id", "due_key", "created_at", "name",
                            "process_key", "clinic", "business_key", "title"))))
_RETITLE = Prepared(update(visibility.VISIBILITY).where(
    visibility.VISIBILITY.c.task_id == bindparam("task_id"),
    visibility.VISIBILITY.c.title.is_distinct_from(bindparam("new_title"))).values(
    title=bindparam("new_title")))
_SUBSCRIBE = Prepared(insert(SUBSCRIPTIONS).values(_values(
    SUBSCRIPTIONS, ("instance_id", "message_name", "business_key", "element_id"))))
_UNSUBSCRIBE = Prepared(delete(SUBSCRIPTIONS).where(
    SUBSCRIPTIONS.c.instance_id == bindparam("instance_id"),
    SUBSCRIPTIONS.c.message_name == bindparam("message_name"),
    SUBSCRIPTIONS.c.element_id == bindparam("element_id")))


def stored(conn: Connection, instance_id: str) -> Projected:
    """What the projections hold for an instance, read (its facts are not read: they are
    upserted whatever they were)."""
    tasks = frozenset(r[0] for r in query_rows(conn, _OPEN_TASKS, {"instance_id": instance_id}))
    subscribed = frozenset(tuple(r) for r in query_rows(conn, _SUBSCRIBED,
                                                         {"instance_id": instance_id}))
    return Projected(tasks, subscribed)


def sync_tasks(writes: Writes, row: InstanceRow, views: list[TaskView], now: datetime,
               completed: tuple[str, str] | None, existing: frozenset[str],
               title: str | None, retitle: bool) -> frozenset[str]:
    """Open tasks that left are deleted and their records closed (the one the command
    completed as completed, others as cancelled); new ones inserted and recorded, with
    the case's `title`, which the tasks that stay get too when it may have changed
    (`retitle`). Returns the open tasks' ids."""
    wanted = frozenset(v.id for v in views)
    if retitle:
        staying = sorted(existing & wanted)
        writes.add_many(_RETITLE, ({"task_id": task_id, "new_title": title}
                                   for task_id in staying))
    gone = sorted(existing - wanted)
    if gone:
        writes.add_many(_DROP_TASK, ({"task_id": task_id} for task_id in gone))
        done_id, actor = completed if completed else (None, None)
        writes.add_many(_CLOSE_RECORD, (
            {"task_id": task_id, "at": now,
             "how": "completed" if task_id == done_id else "cancelled",
             "by": actor if task_id == done_id else None} for task_id in gone))
    added = [v for v in views if v.id not in existing]
    if not added:
        return wanted
    tasks = [{
        "id": v.id, "instance_id": row.id, "definition_id": v.definition_id,
        "process_key": v.process_key, "element_id": v.element_id, "name": v.name,
        "assignee": v.assignee, "candidate_groups": v.candidate_groups,
        "candidate_users": v.candidate_users, "due_at": v.due_at,
        "follow_up_at": v.follow_up_at, "priority": v.priority, "form": v.form,
        "created_at": now, "business_key": row.business_key, "clinic": v.clinic}
        for v in added]
    writes.add_many(_ADD_TASK, tasks)
    writes.add_many(_ADD_VISIBILITY, (r for task in tasks
                                      for r in visibility.rows(task, title)))
    writes.add_many(_ADD_RECORD, ({
        "id": v.id, "instance_id": row.id, "process_key": v.process_key,
        "element_id": v.element_id, "name": v.name, "indicator": v.indicator,
        "clinic": v.clinic, "unit": v.unit, "created_at": now, "due_at": v.due_at}
        for v in added))
    return wanted


def sync_search(writes: Writes, conn: Connection, row: InstanceRow, title: str | None,
                before: str | None) -> str | None:
    """SQLite's search index (task_search.py): the case's row holds its number and
    `title` until the case ends, and is gone then; written only where that changed
    from `before` (None: not known, read). Returns what the index holds (None: there is
    no index)."""
    if not task_search.kept(conn):
        return None
    if before is None:
        before = task_search.indexed(conn, row.id)
    now = "" if row.status in FINISHED else task_search.case_text(row.business_key, title)
    return task_search.index_case(writes, row.id, now, before)


def sync_subscriptions(writes: Writes, row: InstanceRow, wanted: list[tuple[str, str]],
                       existing: frozenset[tuple[str, str]]) -> frozenset[tuple[str, str]]:
    """The messages the instance waits for: (name, element id) pairs, changed by
    difference (none once it no longer runs). Returns them."""
    now_wanted = frozenset(wanted) if row.status == "running" else frozenset()
    writes.add_many(_UNSUBSCRIBE, ({"instance_id": row.id, "message_name": name,
                                    "element_id": element}
                                   for name, element in sorted(existing - now_wanted)))
    writes.add_many(_SUBSCRIBE, ({"instance_id": row.id, "message_name": name,
                                  "business_key": row.business_key, "element_id": element}
                                 for name, element in sorted(now_wanted - existing)))
    return now_wanted


_FACT_VALUES = ("clinic", "unit", "serious", "risk_class", "expertise", "title")
TITLE_LENGTH = 200  # on one line, cut to the column's length


@functools.cache
def _facts_upsert(dialect: str) -> Prepared:
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(FACTS).values(_values(FACTS, ("instance_id", "process_key",
                                                     *_FACT_VALUES, "anonymous", "sensitive")))
    return Prepared(statement.on_conflict_do_update(
        index_elements=[FACTS.c.instance_id],
        set_={**{k: statement.excluded[k] for k in _FACT_VALUES},
              "anonymous": FACTS.c.anonymous | statement.excluded.anonymous,
              "sensitive": FACTS.c.sensitive | statement.excluded.sensitive}))


def record_case(writes: Writes, dialect: str, row: InstanceRow, given: dict[str, Any],
                before: dict[str, Any] | None) -> dict[str, Any]:
    """What the case is about (`given` by the installation's routines, engine/hooks.py),
    for the indicators and visibility: one upsert, unless the same values were upserted
    last (`before`). Once anonymous or sensitive, always: a later form cannot reveal a
    case. Returns the values."""
    facts = {"instance_id": row.id, "process_key": row.process_key,
             **{name: given.get(name) for name in _FACT_VALUES},
             "anonymous": given.get("anonymous") is True,
             "sensitive": given.get("sensitive") is True}
    title = facts["title"]
    if isinstance(title, str) and len(title := " ".join(title.split())) > TITLE_LENGTH:
        title = title[:TITLE_LENGTH - 1] + "…"
    facts["title"] = title or None
    if facts != before:
        writes.add(_facts_upsert(dialect), facts)
    return facts


_KEPT_OF_TASK = Prepared(select(TASKS.c.id, TASKS.c.assignee, TASKS.c.created_at).where(
    TASKS.c.instance_id == bindparam("instance_id")))
_TITLE = Prepared(select(FACTS.c.title).where(FACTS.c.instance_id == bindparam("instance_id")))
_RENAME_RECORD = Prepared(update(RECORDS).where(RECORDS.c.id == bindparam("task_id")).values(
    process_key=bindparam("process_key"), element_id=bindparam("element_id"),
    name=bindparam("name"), indicator=bindparam("indicator"), due_at=bindparam("due_at")))


def refresh_tasks(writes: Writes, conn: Connection, row: InstanceRow, views: list[TaskView],
                  existing: frozenset[str]) -> None:
    """Open tasks that stay open but changed version (a migrated case): written again as
    the new version shows them (name, candidates, deadline, form), each keeping who
    holds it and when it opened; their records renamed. Tasks that came or went are
    left to `sync_tasks`."""
    kept_rows, titled = query_together(conn, [(_KEPT_OF_TASK, {"instance_id": row.id}),
                                              (_TITLE, {"instance_id": row.id})])
    kept = {r[0]: r for r in kept_rows}
    title = titled[0][0] if titled else None
    staying = [v for v in views if v.id in existing and v.id in kept]
    if not staying:
        return
    writes.add_many(_DROP_TASK, ({"task_id": v.id} for v in staying))
    tasks = [{
        "id": v.id, "instance_id": row.id, "definition_id": v.definition_id,
        "process_key": v.process_key, "element_id": v.element_id, "name": v.name,
        "assignee": kept[v.id][1] or v.assignee, "candidate_groups": v.candidate_groups,
        "candidate_users": v.candidate_users, "due_at": v.due_at,
        "follow_up_at": v.follow_up_at, "priority": v.priority, "form": v.form,
        "created_at": kept[v.id][2], "business_key": row.business_key,
        "clinic": v.clinic} for v in staying]
    writes.add_many(_ADD_TASK, tasks)
    writes.add_many(_ADD_VISIBILITY, (r for task in tasks
                                      for r in visibility.rows(task, title)))
    writes.add_many(_RENAME_RECORD, ({
        "task_id": v.id, "process_key": v.process_key, "element_id": v.element_id,
        "name": v.name, "indicator": v.indicator, "due_at": v.due_at} for v in staying))
