"""What a command changes besides the state: the open human tasks (with who may see them
and the facts kept of each task's life), the message subscriptions and the case's
facts, each changed by difference."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from ..models import CaseFacts, HumanTask, MessageSubscription, TaskRecord
from ..projection import TaskView
from . import visibility
from .instances import InstanceRow

TASKS = HumanTask.__table__
RECORDS = TaskRecord.__table__
SUBSCRIPTIONS = MessageSubscription.__table__
FACTS = CaseFacts.__table__
_OPEN_TASKS = select(TASKS.c.id).where(TASKS.c.instance_id == bindparam("instance_id"))
_DROP_TASKS = delete(TASKS).where(TASKS.c.id.in_(bindparam("ids", expanding=True)))
_CLOSE_RECORD = update(RECORDS).where(
    RECORDS.c.id == bindparam("task_id"), RECORDS.c.ended_at.is_(None)).values(
    ended_at=bindparam("at"), outcome=bindparam("how"),
    completed_by=bindparam("by"))
_ADD_TASKS, _ADD_RECORDS = TASKS.insert(), RECORDS.insert()
_SUBSCRIBED = select(SUBSCRIPTIONS.c.id, SUBSCRIPTIONS.c.message_name,
                     SUBSCRIPTIONS.c.element_id).where(
    SUBSCRIPTIONS.c.instance_id == bindparam("instance_id"))


def sync_tasks(conn: Connection, row: InstanceRow, views: list[TaskView], now: datetime,
               completed: tuple[str, str] | None, *, new: bool) -> None:
    """Open tasks that left are deleted and their records closed (the one the command
    completed as completed, others as cancelled); new ones inserted and recorded."""
    existing = set() if new else set(conn.scalars(_OPEN_TASKS, {"instance_id": row.id}))
    wanted = {v.id for v in views}
    gone = sorted(existing - wanted)
    if gone:
        visibility.drop(conn, gone)
        conn.execute(_DROP_TASKS, {"ids": gone})
        done_id, actor = completed if completed else (None, None)
        conn.execute(_CLOSE_RECORD, [
            {"task_id": task_id, "at": now,
             "how": "completed" if task_id == done_id else "cancelled",
             "by": actor if task_id == done_id else None} for task_id in gone])
    added = [v for v in views if v.id not in existing]
    if not added:
        return
    tasks = [{
        "id": v.id, "instance_id": row.id, "definition_id": v.definition_id,
        "process_key": v.process_key, "element_id": v.element_id, "name": v.name,
        "assignee": v.assignee, "candidate_groups": v.candidate_groups,
        "candidate_users": v.candidate_users, "due_at": v.due_at,
        "follow_up_at": v.follow_up_at, "priority": v.priority, "form": v.form,
        "created_at": now, "business_key": row.business_key, "clinic": v.clinic}
        for v in added]
    conn.execute(_ADD_TASKS, tasks)
    visibility.add(conn, tasks)
    conn.execute(_ADD_RECORDS, [{
        "id": v.id, "instance_id": row.id, "process_key": v.process_key,
        "element_id": v.element_id, "name": v.name, "indicator": v.indicator,
        "clinic": v.clinic, "unit": v.unit, "created_at": now, "due_at": v.due_at}
        for v in added])


def sync_subscriptions(conn: Connection, row: InstanceRow, wanted: list[tuple[str, str]],
                       *, new: bool) -> None:
    """The messages the instance waits for: (name, element id) pairs, changed by
    difference (none once it no longer runs)."""
    wanted = sorted(set(wanted)) if row.status == "running" else []
    existing: dict[tuple[str, str], list[int]] = {}
    if not new:
        for sub_id, name, element in conn.execute(_SUBSCRIBED, {"instance_id": row.id}):
            existing.setdefault((name, element), []).append(sub_id)
    stale = [sub_id for key, ids in existing.items() if key not in wanted for sub_id in ids]
    if stale:
        conn.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id.in_(stale)))
    added = [key for key in wanted if key not in existing]
    if added:
        conn.execute(SUBSCRIPTIONS.insert(), [
            {"instance_id": row.id, "message_name": name, "business_key": row.business_key,
             "element_id": element} for name, element in added])


_FACT_VALUES = ("clinic", "unit", "serious", "risk_class", "expertise")


@functools.cache
def _facts_upsert(dialect: str):
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(FACTS)
    return statement.on_conflict_do_update(
        index_elements=[FACTS.c.instance_id],
        set_={**{k: statement.excluded[k] for k in _FACT_VALUES},
              "anonymous": FACTS.c.anonymous | statement.excluded.anonymous,
              "sensitive": FACTS.c.sensitive | statement.excluded.sensitive})


def record_case(conn: Connection, row: InstanceRow, variables: dict[str, Any]) -> None:
    """What the case is about, for the indicators and visibility: one upsert. Once
    anonymous or sensitive, always: a later form cannot reveal a case."""
    conn.execute(_facts_upsert(conn.dialect.name), {
        "instance_id": row.id, "process_key": row.process_key,
        "clinic": _text(variables.get("klinikk")), "unit": _text(variables.get("enhet")),
        "serious": _flag(variables.get("alvorlig")),
        "risk_class": _text(variables.get("risikoklasse")),
        "expertise": _flag(variables.get("sakkompetens")),
        "anonymous": variables.get("anonym") is True,
        "sensitive": variables.get("sensitiv") is True,
    })


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
