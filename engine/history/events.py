"""The append-only history: one event per command, chained by hashes.

Each event carries actor, time (from the injected clock), element, the data of the
command, the resulting state's hash and the previous event's hash. Nothing is updated
or deleted; a correction is a new event.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from ..models import HistoryEvent
from ..serialization import data_to_json
from ..store.prepared import Prepared, Writes
from ..store.state_format import FORMAT as STATE_FORMAT

GENESIS = "0" * 64
# the engine whose execution a history records: a change that gives other states for the
# same commands (as the Camunda multi-instance semantics of 0.2 did) takes a new one
ENGINE_VERSION = "tiltak-engine/0.3"
# the engine versions whose histories this one replays to the same states; events that
# name none were written before events named their engine (0.1, replayed as 0.2 is)
REPLAYABLE = {ENGINE_VERSION, "tiltak-engine/0.2", None}
# engines that took a date's day in UTC (0.3 takes it in the local zone, engine/clock.py)
DAYS_IN_UTC = {"tiltak-engine/0.2", None}
DEPLOYMENT_STREAM = "deployments"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def event_hash(stream: str, seq: int, type_: str, actor: str, at: datetime,
               element_id: str | None, task_id: str | None, data: str, state_hash: str,
               prev_hash: str, state_format: str | None = None,
               engine_version: str | None = None) -> str:
    fields = [stream, seq, type_, actor, at.isoformat(), element_id, task_id, data,
              state_hash, prev_hash]
    if state_format is not None or engine_version is not None:
        fields += [state_format, engine_version]  # events that name what wrote them
    return sha256(_encode(fields))


# what `json.dumps(..., separators=(",", ":"), ensure_ascii=False)` writes, without making
# an encoder for every event
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


EVENTS = HistoryEvent.__table__
_COLUMNS = ("stream", "seq", "instance_id", "type", "actor", "at", "element_id", "task_id",
            "data", "state_hash", "prev_hash", "state_format", "engine_version", "hash")
_APPEND = Prepared(insert(EVENTS).values({name: bindparam(name) for name in _COLUMNS}))


def record(writes: Writes, instance, type_: str, actor: str, at: datetime,
           data: dict[str, Any], *, element_id: str | None = None, task_id: str | None = None,
           state_hash: str = "", state_format: str = STATE_FORMAT) -> dict[str, Any]:
    """Append an event to the instance's chain (to the command's writes) and advance the
    instance's chain head (in memory: the command writes its instance row once, with the
    new head). `state_format`:
    the format of the state `state_hash` was taken over (an instance not changed since
    it was written in an older one keeps it)."""
    seq = instance.event_count + 1
    prev = instance.last_hash or GENESIS
    text = data_to_json(data)
    event = {"stream": instance.id, "seq": seq, "instance_id": instance.id, "type": type_,
             "actor": actor, "at": at, "element_id": element_id, "task_id": task_id,
             "data": text, "state_hash": state_hash, "prev_hash": prev,
             "state_format": state_format, "engine_version": ENGINE_VERSION,
             "hash": event_hash(instance.id, seq, type_, actor, at, element_id, task_id, text,
                                state_hash, prev, state_format, ENGINE_VERSION)}
    instance.event_count = seq
    instance.last_hash = event["hash"]
    writes.add(_APPEND, event)
    return event


def record_deployment(session: Session, actor: str, at: datetime, data: dict[str, Any]) -> None:
    last = session.scalars(select(HistoryEvent).where(HistoryEvent.stream == DEPLOYMENT_STREAM)
                           .order_by(HistoryEvent.seq.desc()).limit(1)).first()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    text = data_to_json(data)
    event = HistoryEvent(stream=DEPLOYMENT_STREAM, seq=seq, instance_id=None, type="deploy",
                         actor=actor, at=at, element_id=None, task_id=None, data=text,
                         state_hash="", prev_hash=prev)
    event.hash = event_hash(DEPLOYMENT_STREAM, seq, "deploy", actor, at, None, None, text, "",
                            prev)
    session.add(event)


def events_of(session: Session, instance_id: str) -> list[HistoryEvent]:
    return list(session.scalars(select(HistoryEvent).where(HistoryEvent.stream == instance_id)
                                .order_by(HistoryEvent.seq)))
