"""Process instance rows as plain objects: read (locked for a command) with their state,
and written once per command, with the version column guarding against a stale writer;
the state itself is kept by engine/store/states.py."""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, literal, select, update
from sqlalchemy.engine import Connection

from ..errors import Conflict, NotFound
from ..models import HumanTask, ProcessDefinition, ProcessInstance
from . import states
from .prepared import Prepared, Writes, query_rows

TABLE = ProcessInstance.__table__
DEFINITIONS = ProcessDefinition.__table__


class StaleDefinition(Conflict):
    """The definition a new instance was started on is no longer the latest of its key
    (another process deployed a new version meanwhile)."""


# what a command may change of a stored row: the others are written once, by the insert
CHANGING = ("status", "bindings", "id_counter", "ended_at", "next_timer_at", "error",
            "last_hash", "event_count", "version", "definition_id", "suspended")


@dataclass
class InstanceRow:
    """A process instance as a command holds it; the same attribute names as the model."""

    id: str
    definition_id: int
    process_key: str
    business_key: str | None
    status: str
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
    suspended: bool = False
    state: str = ""  # the workflow state's text (engine/store/state_format.py)
    stored: states.Stored | None = None  # the state as last read or written
    receipt_code: str | None = None  # given to the reporter once, never stored
    # (key, tenant) the definition was taken as the latest of, from a cache: the insert
    # checks that it still is
    started_as: tuple[str, str] | None = None
    variables: dict[str, Any] | None = None  # after a command: the process variables
    open_tasks: list | None = None  # after a command: its open user tasks (TaskViews)
    final: states.Final | None = None  # a finished instance's final record, in place of state
    # the CHANGING columns as stored (None: not stored yet), so that an update sets only
    # those that changed
    written: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.version and self.written is None:
            self.written = {name: getattr(self, name) for name in CHANGING}


COLUMNS = [f.name for f in fields(InstanceRow)
           if f.name not in ("state", "stored", "receipt_code", "started_as", "variables",
                             "open_tasks", "final", "written")]
_SELECTED = [TABLE.c[name] for name in COLUMNS]
_STATES = states.TABLE
_WITH_STATE = [*_SELECTED, _STATES.c.seq, _STATES.c.snapshot, _STATES.c.body]


def load(conn: Connection, instance_id: str, *, lock: bool = False,
         where: tuple = (), with_state: bool = True) -> InstanceRow | None:
    """The row with its state (unless not `with_state`), in one query; locked for this
    transaction on PostgreSQL when `lock` is True or "skip" (another worker's row
    skipped); SQLite's BEGIN IMMEDIATE already serialises writers."""
    if not where:
        found = query_rows(conn, LOADS[with_state, lock], {"instance_id": instance_id})
        return _loaded(found, with_state)
    if not with_state:
        query = select(*_SELECTED).where(TABLE.c.id == instance_id, *where)
        found = conn.execute(_locked(conn, query, lock)).first()
        return InstanceRow(*found) if found is not None else None
    query = select(*_WITH_STATE) \
        .outerjoin(_STATES, _STATES.c.instance_id == TABLE.c.id) \
        .where(TABLE.c.id == instance_id, *where).order_by(_STATES.c.seq)
    return _loaded(conn.execute(_locked(conn, query, lock)).all(), with_state)


def _loaded(found: list, with_state: bool) -> InstanceRow | None:
    if not found:
        return None
    if not with_state:
        return InstanceRow(*found[0])
    width = len(_SELECTED)
    row = InstanceRow(*found[0][:width])
    if found[0][width] is not None:
        given_state(row, states.assembled(row.id, [r[width:] for r in found]))
    return row


def _load_query(with_state: bool, lock: bool | str) -> Prepared:
    if with_state:
        query = select(*_WITH_STATE).outerjoin(_STATES, _STATES.c.instance_id == TABLE.c.id) \
            .where(TABLE.c.id == bindparam("instance_id")).order_by(_STATES.c.seq)
    else:
        query = select(*_SELECTED).where(TABLE.c.id == bindparam("instance_id"))
    if lock:  # SQLite renders no FOR UPDATE: its BEGIN IMMEDIATE serialises writers
        query = query.with_for_update(skip_locked=lock == "skip", of=TABLE)
    return Prepared(query)


LOADS = {(with_state, lock): _load_query(with_state, lock)
         for with_state in (True, False) for lock in (False, True, "skip")}


TASKS = HumanTask.__table__
# an open task (its `human_tasks` columns) and its instance's row (without the state),
# locked as `load` locks it
WITH_TASK = Prepared(select(TASKS, *_SELECTED).join(TABLE, TABLE.c.id == TASKS.c.instance_id)
                      .where(TASKS.c.id == bindparam("task_id")).with_for_update(of=TABLE))


def task_and_row(found: tuple) -> tuple[tuple, InstanceRow]:
    """A row of WITH_TASK as the task's columns and its instance's row."""
    width = len(TASKS.columns)
    return found[:width], InstanceRow(*found[width:])


def given_state(row: InstanceRow, stored: states.Stored) -> InstanceRow:
    row.stored, row.state, row.final = stored, stored.text, stored.final
    return row


def due(conn: Connection, now: datetime, limit: int) -> list[InstanceRow]:
    """Up to `limit` running instances whose next timer has passed, earliest first,
    locked for this transaction; on PostgreSQL rows another worker holds are skipped, so
    workers sweeping side by side take disjoint batches. Passed means before `now`, as
    SpiffWorkflow asks it: a timer due at the very moment fires at the next sweep."""
    query = select(*_SELECTED).where(TABLE.c.next_timer_at < now,
                                     TABLE.c.status == "running") \
        .order_by(TABLE.c.next_timer_at).limit(limit)
    rows = [InstanceRow(*found) for found in conn.execute(_locked(conn, query, "skip"))]
    found = states.read(conn, [row.id for row in rows])
    return [given_state(row, found[row.id]) if row.id in found else row for row in rows]


def _locked(conn: Connection, query, lock: bool | str):
    """FOR UPDATE on PostgreSQL (SKIP LOCKED when `lock` is "skip"); SQLite's BEGIN
    IMMEDIATE already serialises writers."""
    if lock and conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=lock == "skip", of=TABLE)
    return query


def locked(conn: Connection, instance_id: str) -> InstanceRow:
    row = load(conn, instance_id, lock=True)
    if row is None:
        raise NotFound(f"no process instance '{instance_id}'").coded("no_case", case=instance_id)
    return row


STATE_COLUMNS = {"bindings", "id_counter"}
_INSERT = Prepared(insert(TABLE).values({name: bindparam(name) for name in COLUMNS}))


def _insert_if_latest() -> Prepared:
    """The new row, only if its definition is still the latest of (key, tenant) (the
    tenant's own variant first, else the default, as definitions.definition_id_to_start
    chooses) and not suspended: checked with the write, not read before it."""
    latest = select(DEFINITIONS.c.id).where(
        DEFINITIONS.c.key == bindparam("start_key"),
        DEFINITIONS.c.tenant.in_([bindparam("start_tenant"), literal("")])
    ).order_by((DEFINITIONS.c.tenant == bindparam("start_tenant")).desc(),
               DEFINITIONS.c.version.desc()).limit(1).scalar_subquery()
    checked = bindparam("checked_definition_id", type_=DEFINITIONS.c.id.type)
    suspended = select(DEFINITIONS.c.id).where(DEFINITIONS.c.id == checked,
                                               DEFINITIONS.c.suspended.is_(True))
    values = select(*[bindparam(name, type_=TABLE.c[name].type) for name in COLUMNS]) \
        .where(latest == checked, ~suspended.exists())
    return Prepared(insert(TABLE).from_select(COLUMNS, values, include_defaults=False))


_INSERT_IF_LATEST = _insert_if_latest()


@functools.lru_cache(maxsize=256)
def _update(names: tuple[str, ...]) -> Prepared:
    """The row's update of these columns, built once, the version checked. Only the
    columns that changed: SQLite rewrites the index entries of every column an UPDATE
    sets, whether or not its value changed (measured: 6.8 pages written in place of 1
    for a row with two indexed columns set to what they were)."""
    return Prepared(update(TABLE).where(TABLE.c.id == bindparam("row_id"),
                                        TABLE.c.version == bindparam("old_version"))
                    .values({name: bindparam(name) for name in names}))

STALE = "the instance was changed by someone else meanwhile; reload and try again"


def write(writes: Writes, row: InstanceRow, *, with_state: bool = True) -> None:
    """Insert a new row or update a stored one, once; a row changed by someone else since
    it was read is a Conflict (when the writes are sent), and nothing of the command is
    kept. `with_state=False`: the command changed the chain head and status only, not
    the workflow."""
    values = {name: getattr(row, name) for name in COLUMNS
              if with_state or name not in STATE_COLUMNS}
    if row.version == 0:
        values["version"] = row.version = 1
        row.written = {name: values.get(name) for name in CHANGING}
        if row.started_as is None:
            writes.add(_INSERT, values)
        else:
            key, tenant = row.started_as
            writes.add(_INSERT_IF_LATEST, {**values, "start_key": key, "start_tenant": tenant,
                                           "checked_definition_id": row.definition_id},
                       expect_one=StaleDefinition(STALE))
        _write_state(writes, row, with_state)
        return
    before = row.written or {}
    values = {name: values[name] for name in CHANGING
              if name in values and (name not in before or before[name] != values[name])}
    values["version"] = row.version + 1
    names = tuple(values)
    row.written = {**before, **values}
    values["row_id"], values["old_version"] = row.id, row.version
    writes.add(_update(names), values, expect_one=Conflict(STALE).coded("changed"))
    row.version += 1
    _write_state(writes, row, with_state)


FINISHED = ("completed", "cancelled")


def _write_state(writes: Writes, row: InstanceRow, with_state: bool) -> None:
    """The state, when the command changed it: a delta or a snapshot; a finished
    instance (`row.final` given) keeps its final record only."""
    if not with_state:
        return
    if row.final is not None:
        if row.stored is None or row.stored.final is None:
            row.stored = states.write(writes, row.id, row.stored, row.state, final=row.final)
        return
    if row.stored is None or row.stored.text != row.state:
        row.stored = states.write(writes, row.id, row.stored, row.state)
