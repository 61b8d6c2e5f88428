"""The events a command causes, queued in the webhook outbox by the command's own writes
(the engine's `CaseHooks.saved`): one INSERT ... SELECT adds a row for each of the
command's events and each webhook whose topics want it, the body fixed as written, in
the order the events happened. On PostgreSQL no webhook is read: a command pays one
statement whether or not anyone listens (however many events it caused), and no round
trip; SQLite's commands ask first (`record`). What a body holds, and why no more:
docs/WEBHOOKS.md."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import String, bindparam, exists, insert, literal_column, select, true, union_all
from sqlalchemy.engine import Connection

from engine.hooks import CaseChange
from engine.models import Webhook, WebhookDelivery, WebhookTopic
from engine.store.prepared import Prepared, Writes, query_rows
from routines.measures import is_measure_done

VERSION = 1

_HOOKS, _TOPICS, _OUTBOX = Webhook.__table__, WebhookTopic.__table__, WebhookDelivery.__table__
_AT = _OUTBOX.c.created_at.type
_FIELDS = ("event_id", "event_type", "body", "key", "task_key")
PER_STATEMENT = 50  # events queued by one statement (a command opening hundreds of tasks
# sends several, each well within the databases' limits on bound parameters)


@functools.lru_cache(maxsize=PER_STATEMENT)
def _queue(count: int) -> Prepared:
    """The statement that queues `count` events: their fields are bound as `event_id0`,
    `event_type0`, ... (`key`, `task_key`: the process keys a webhook's topic may name)."""
    rows = [select(literal_column(str(n)).label("n"),
                   *(bindparam(f"{name}{n}", type_=String).label(name) for name in _FIELDS))
            for n in range(count)]
    events = (union_all(*rows) if count > 1 else rows[0]).subquery("events")
    return Prepared(insert(_OUTBOX).from_select(
        ["webhook_id", "event_id", "event_type", "instance_id", "body", "created_at", "status",
         "attempts", "next_attempt_at"],
        select(_HOOKS.c.id, events.c.event_id, events.c.event_type,
               bindparam("instance_id", type_=String), events.c.body, bindparam("at", type_=_AT),
               literal_column("'pending'"), literal_column("0"), bindparam("at", type_=_AT))
        .select_from(_HOOKS.join(events, true()))
        .where(_HOOKS.c.removed_at.is_(None),
               exists().where(_TOPICS.c.webhook_id == _HOOKS.c.id,
                              _TOPICS.c.event_type == events.c.event_type,
                              _TOPICS.c.process_key.is_(None)
                              | _TOPICS.c.process_key.in_([events.c.key, events.c.task_key])))
        .order_by(events.c.n, _HOOKS.c.id)))


_LISTENING = Prepared(select(_HOOKS.c.id).where(_HOOKS.c.removed_at.is_(None)).limit(1))


def record(change: CaseChange, writes: Writes, conn: Connection) -> None:
    """Queue the change's events, with the command's writes, for the webhooks that want
    them. On SQLite, where a read in the command's transaction costs no round trip, a
    command asks first whether any webhook is registered, and writes no event out when
    none is: building them was a twelfth of a simple case's time. (A webhook registered
    meanwhile commits before this transaction began, and is seen, or after it ends.)"""
    if conn.dialect.name == "sqlite" and not query_rows(conn, _LISTENING, {}):
        return
    queued = []
    for event_type, keys, payload in events(change):
        event_id = str(uuid.uuid4())
        body = json.dumps({"id": event_id, "type": event_type, **payload},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        # one process key, or two: the case's and a called process's
        key, *other = sorted(keys)
        queued.append((event_id, event_type, body, key, other[0] if other else key))
    for start in range(0, len(queued), PER_STATEMENT):
        chunk = queued[start:start + PER_STATEMENT]
        fields: dict[str, Any] = {"instance_id": change.row.id, "at": change.at}
        for n, event in enumerate(chunk):
            fields.update(zip((f"{name}{n}" for name in _FIELDS), event, strict=True))
        writes.add(_queue(len(chunk)), fields)


def events(change: CaseChange) -> Iterator[tuple[str, set[str], dict[str, Any]]]:
    """(type, the process keys it concerns, the body's fields) in the order they happened."""
    row = change.row
    case = {"version": VERSION, "time": change.at.isoformat(),
            "process_key": row.process_key, "business_key": row.business_key,
            "instance_id": row.id, "link": f"/instances/{row.id}"}
    keys = {row.process_key}
    if change.command == "start":
        yield "case.started", keys, case
    if change.completed is not None:
        task = {k: change.completed.get(k) for k in ("id", "element_id", "name", "process_key")}
        task["process_key"] = task["process_key"] or row.process_key
        task_keys = keys | {task["process_key"]}
        yield "task.completed", task_keys, {**case, "task": task}
        values = (change.data or {}).get("values") or {}
        if is_measure_done(task["process_key"], values):
            yield "measure.done", task_keys, {**case, "task": task}
    for opened in change.opened:
        task = {k: opened[k] for k in ("id", "element_id", "name", "process_key")}
        yield "task.created", keys | {task["process_key"]}, {**case, "task": task}
    if change.ended is not None:
        yield "case.closed", keys, {**case, "outcome": change.ended}
