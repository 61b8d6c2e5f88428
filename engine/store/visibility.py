"""Who may see which open task: the rows of `task_visibility`, written when a task
opens, is claimed or given back, and dropped when it closes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection

from ..models import HumanTask, TaskVisibility

VISIBILITY = TaskVisibility.__table__
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)
_ADD = VISIBILITY.insert()
_TITLE = select(VISIBILITY.c.title).where(VISIBILITY.c.task_id == bindparam("task_id")) \
    .limit(1)
_DROP = delete(VISIBILITY).where(VISIBILITY.c.task_id.in_(bindparam("ids", expanding=True)))


def assignee(name: str) -> str:
    return f"a:{name}"


def user(name: str) -> str:
    return f"u:{name}"


def group(name: str) -> str:
    return f"g:{name}"


def principals(actor: str, groups: Iterable[str]) -> list[str]:
    """As the table names them: the user as assignee first, then the user as a
    candidate, then each of their groups. Assigned tasks are the first's alone, the
    others hold only unclaimed tasks, so every scope of the worklist is a set of whole
    index ranges."""
    return [assignee(actor), user(actor), *(group(g) for g in sorted(set(groups)))]


def rows(task: Mapping[str, Any], title: str | None) -> list[dict[str, Any]]:
    """The rows for one open task, given as the columns of `human_tasks`, of a case
    with that title: its assignee alone when claimed, otherwise each candidate group and
    user once."""
    keys = {"task_id": task["id"], "due_key": task["due_at"] or NO_DEADLINE,
            "created_at": task["created_at"], "name": task["name"],
            "process_key": task["process_key"], "clinic": task["clinic"],
            "business_key": task["business_key"], "title": title}
    if task["assignee"]:
        return [{"principal": assignee(task["assignee"]), **keys}]
    who = [*(group(g) for g in task["candidate_groups"]),
           *(user(u) for u in task["candidate_users"])]
    return [{"principal": p, **keys} for p in dict.fromkeys(who)]


def add(conn: Connection, tasks: Iterable[Mapping[str, Any]],
        titles: Mapping[str, str | None]) -> None:
    """Rows for open tasks; `titles`: their cases' titles by instance id."""
    values = [r for task in tasks for r in rows(task, titles.get(task["instance_id"]))]
    if values:
        conn.execute(_ADD, values)


def drop(conn: Connection, task_ids: list[str]) -> None:
    conn.execute(_DROP, {"ids": task_ids})


def reassign(conn: Connection, task: HumanTask) -> None:
    """After a claim or a give-back: the task's rows follow its new assignee, keeping
    the case's title they carry."""
    title = conn.scalar(_TITLE, {"task_id": task.id})
    drop(conn, [task.id])
    add(conn, [{c.key: getattr(task, c.key) for c in HumanTask.__table__.columns}],
        {task.instance_id: title})
