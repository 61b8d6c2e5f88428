"""Process instance rows as plain objects: read (locked for a command) and written once
per command, with the version column guarding against a stale writer."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from ..errors import Conflict, NotFound
from ..models import ProcessInstance

TABLE = ProcessInstance.__table__


@dataclass
class InstanceRow:
    """A process instance as a command holds it; the same attribute names as the model."""

    id: str
    definition_id: int
    process_key: str
    business_key: str | None
    status: str
    state: str
    bindings: dict[str, Any]
    id_counter: int
    started_at: datetime
    started_by: str
    ended_at: datetime | None = None
    next_timer_at: datetime | None = None
    error: str | None = None
    last_hash: str = ""
    event_count: int = 0
    version: int = 0  # 0: not stored yet
    receipt_code: str | None = None  # given to the reporter once, never stored
    variables: dict[str, Any] | None = None  # after a command: the process variables
    open_tasks: list | None = None  # after a command: its open user tasks (TaskViews)


COLUMNS = [f.name for f in fields(InstanceRow)
           if f.name not in ("receipt_code", "variables", "open_tasks")]
_SELECTED = [TABLE.c[name] for name in COLUMNS]


def load(conn: Connection, instance_id: str, *, lock: bool = False,
         where: tuple = ()) -> InstanceRow | None:
    """The row, locked for this transaction on PostgreSQL when `lock` is True or "skip"
    (another worker's row skipped); SQLite's BEGIN IMMEDIATE already serialises writers."""
    query = _locked(conn, select(*_SELECTED).where(TABLE.c.id == instance_id, *where), lock)
    found = conn.execute(query).first()
    return InstanceRow(*found) if found is not None else None


def due(conn: Connection, now: datetime, limit: int) -> list[InstanceRow]:
    """Up to `limit` running instances whose next timer has passed, earliest first,
    locked for this transaction; on PostgreSQL rows another worker holds are skipped, so
    workers sweeping side by side take disjoint batches."""
    query = select(*_SELECTED).where(TABLE.c.next_timer_at <= now,
                                     TABLE.c.status == "running") \
        .order_by(TABLE.c.next_timer_at).limit(limit)
    return [InstanceRow(*found) for found in conn.execute(_locked(conn, query, "skip"))]


def _locked(conn: Connection, query, lock: bool | str):
    """FOR UPDATE on PostgreSQL (SKIP LOCKED when `lock` is "skip"); SQLite's BEGIN
    IMMEDIATE already serialises writers."""
    if lock and conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=lock == "skip")
    return query


def locked(conn: Connection, instance_id: str) -> InstanceRow:
    row = load(conn, instance_id, lock=True)
    if row is None:
        raise NotFound(f"no process instance '{instance_id}'")
    return row


STATE_COLUMNS = {"state", "bindings", "id_counter"}
_INSERT = TABLE.insert()


def _update(with_state: bool):
    """The row's update, built once: every column but the id, the version checked."""
    names = [n for n in COLUMNS if n != "id" and (with_state or n not in STATE_COLUMNS)]
    return update(TABLE).where(TABLE.c.id == bindparam("row_id"),
                               TABLE.c.version == bindparam("old_version")) \
        .values({name: bindparam(name) for name in names})


_UPDATES = {True: _update(True), False: _update(False)}


def write(conn: Connection, row: InstanceRow, *, with_state: bool = True) -> None:
    """Insert a new row or update a stored one, once; a row changed by someone else since
    it was read is a Conflict, and nothing of the command is kept. `with_state=False`:
    the command changed the chain head and status only, not the workflow."""
    values = {name: getattr(row, name) for name in COLUMNS
              if with_state or name not in STATE_COLUMNS}
    if row.version == 0:
        values["version"] = row.version = 1
        conn.execute(_INSERT, values)
        return
    values["row_id"] = values.pop("id")
    values["old_version"], values["version"] = row.version, row.version + 1
    if conn.execute(_UPDATES[with_state], values).rowcount != 1:
        raise Conflict("the instance was changed by someone else meanwhile; "
                       "reload and try again")
    row.version += 1
