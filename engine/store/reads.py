"""What a command reads before it runs, in one round trip on PostgreSQL: the instance's
row (locked), or an open task with its instance's row, and, when the workflow is not kept
alive in this process, the stored state and what the projections hold for it (the open
tasks and the subscriptions the command's writes are the difference to). Each query
runs after the one before it, so the state is read under the row's lock.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection

from ..models import HumanTask, MessageSubscription
from . import instances, states
from .instances import InstanceRow
from .prepared import Prepared, query_together
from .projections import Projected

TASKS = HumanTask.__table__
SUBSCRIPTIONS = MessageSubscription.__table__
STATES = states.TABLE


@dataclass
class Found:
    """A command's instance as read: its row, with its state (and its projections, for a
    command that writes) when `restored`, and the open task it was found by, if any."""

    row: InstanceRow
    restored: bool
    projected: Projected | None = None
    task: tuple | None = None  # the task's `human_tasks` columns


def _restore_queries(key) -> tuple[Prepared, Prepared, Prepared]:
    """The stored state (oldest row first), the open tasks and the subscriptions of the
    instance `key` names."""
    return (Prepared(select(STATES.c.seq, STATES.c.snapshot, STATES.c.body)
                     .where(STATES.c.instance_id == key).order_by(STATES.c.seq)),
            Prepared(select(TASKS.c.id).where(TASKS.c.instance_id == key)),
            Prepared(select(SUBSCRIPTIONS.c.message_name, SUBSCRIPTIONS.c.element_id)
                     .where(SUBSCRIPTIONS.c.instance_id == key)))


_BY_INSTANCE = _restore_queries(bindparam("instance_id"))
# the task's instance, found by the task: known before the task's row comes back
_BY_TASK = _restore_queries(select(TASKS.c.instance_id)
                            .where(TASKS.c.id == bindparam("task_id")).scalar_subquery())


def instance(conn: Connection, instance_id: str, *, lock: bool,
             restore: bool) -> Found | None:
    """The instance's row (locked when `lock`), with what a restore needs when
    `restore` (a reader that does not lock it writes nothing: its state alone); None
    when there is no such instance."""
    values = {"instance_id": instance_id}
    queries = [(instances.LOADS[False, lock], values)]
    if restore:
        queries += [(query, values) for query in _BY_INSTANCE[:None if lock else 1]]
    found = query_together(conn, queries)
    if not found[0]:
        return None
    return _found(InstanceRow(*found[0][0]), found[1:] if restore else None)


def task_with_instance(conn: Connection, task_id: str, *, restore: bool) -> Found | None:
    """An open task (its `human_tasks` columns) and its instance's row, locked, with
    what a restore needs when `restore`; None when the task is not open."""
    values = {"task_id": task_id}
    queries = [(instances.WITH_TASK, values)]
    if restore:
        queries += [(query, values) for query in _BY_TASK]
    found = query_together(conn, queries)
    if not found[0]:
        return None
    task, row = instances.task_and_row(found[0][0])
    return _found(row, found[1:] if restore else None, task)


def restore(conn: Connection, row: InstanceRow) -> Found:
    """What a restore needs, for a row read without it."""
    return _found(row, query_together(conn, [(query, {"instance_id": row.id})
                                             for query in _BY_INSTANCE]))


def _found(row: InstanceRow, restoring: list | None, task: tuple | None = None) -> Found:
    if restoring is None:
        return Found(row, False, task=task)
    state_rows, *projections = restoring
    if state_rows:
        instances.given_state(row, states.assembled(row.id, state_rows))
    if not projections:
        return Found(row, True, task=task)
    open_tasks, subscribed = projections
    return Found(row, True, Projected(frozenset(r[0] for r in open_tasks),
                                      frozenset(tuple(r) for r in subscribed)), task)
