"""Verification: check an instance's hash chain, then rebuild it from its events alone.

The chain check finds an event that was changed, removed or moved (its hash no longer
matches its content, it no longer links to the one before, or the sequence has a gap).
The replay re-executes every command from the deployed definition version at the
recorded moment with the recorded inputs, and compares the resulting state's hash with
the one each event recorded, so even a history rewritten with fresh hashes is caught.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from . import history, projection
from .clock import FixedClock
from .determinism import IdSource, deterministic
from .errors import TiltakError
from .models import HistoryEvent, ProcessInstance
from .serialization import data_from_json, state_from_json, state_to_json

UNCHANGED = {"claim", "unclaim", "attach", "incident", "retry"}


@dataclass
class Verdict:
    instance_id: str
    events: int
    ok: bool
    seq: int | None = None
    event_type: str | None = None
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def verify_all(engine, progress: Callable[[int, int], None] | None = None) -> list[Verdict]:
    with engine.db.transaction() as session:
        ids = list(session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.started_at,
                                                                         ProcessInstance.id)))
    verdicts = []
    for done, instance_id in enumerate(ids, 1):
        verdicts.append(verify_instance(engine, instance_id))
        if progress is not None:
            progress(done, len(ids))
    return verdicts


def verify_instance(engine, instance_id: str) -> Verdict:
    with engine.db.transaction() as session:
        row = session.get(ProcessInstance, instance_id)
        events = history.events_of(session, instance_id)
        head = (row.last_hash, row.event_count) if row is not None else ("", 0)
    finding = check_chain(events, head)
    if finding is None:
        finding = replay(engine, instance_id, events)
    if finding is None:
        return Verdict(instance_id, len(events), True)
    seq, event_type, problem = finding
    return Verdict(instance_id, len(events), False, seq, event_type, problem)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_chain(events: list[HistoryEvent], head: tuple[str, int]
                ) -> tuple[int, str, str] | None:
    previous = history.GENESIS
    for expected, event in enumerate(events, 1):
        if event.seq != expected:
            return expected, event.type, f"event {expected} is missing or out of order " \
                                         f"(found event {event.seq} in its place)"
        if event.prev_hash != previous:
            return event.seq, event.type, "does not link to the event before it"
        recomputed = history.event_hash(event.stream, event.seq, event.type, event.actor,
                                        _utc(event.at), event.element_id, event.task_id,
                                        event.data, event.state_hash, event.prev_hash)
        if recomputed != event.hash:
            return event.seq, event.type, "its content does not match its hash (altered)"
        previous = event.hash
    last_hash, count = head
    if count != len(events) or (events and last_hash != events[-1].hash):
        return len(events) + 1, "", f"the instance has {count} events on record but " \
                                    f"{len(events)} are left (events removed at the end)"
    return None


@dataclass
class Step:
    """An instance as it stood after one event, rebuilt from the history alone."""

    event: HistoryEvent
    workflow: Any
    owner: dict[int, int]
    state: str
    problem: str | None = None


def replay(engine, instance_id: str, events: list[HistoryEvent]) -> tuple[int, str, str] | None:
    """The first event whose replay fails or gives a different state, else None."""
    if not events or events[0].type != "start":
        return 1, events[0].type if events else "", "the history does not begin with a start"
    for step in replay_steps(engine, instance_id, events):
        if step.problem is not None:
            return step.event.seq, step.event.type, step.problem
    return None


def replay_steps(engine, instance_id: str, events: list[HistoryEvent]) -> Iterator[Step]:
    """Re-execute the events one by one; yields the state after each and stops at a fault.

    A faulty step carries `problem`: the event cannot be replayed, or its recorded state
    hash differs from the replayed state's.
    """
    ids = IdSource(instance_id, 0)
    state = ""
    workflow = specs = None
    owner: dict[int, int] = {}
    for event in events:
        data = data_from_json(event.data)
        moment = _utc(event.at)
        clock = FixedClock(moment)
        try:
            with engine.clock.at(moment), deterministic(ids, clock):
                if event.type == "start":
                    with engine.db.transaction() as session:
                        definition = engine._definition(session, data["definition_id"])
                        specs = engine._specs_for(session, definition, data["bindings"])
                    owner = specs[2]
                    workflow = engine.begin(specs[0], specs[1], data["data"],
                                            by_timer=bool(data.get("by_timer")))
                elif specs is None:
                    raise ValueError("the history does not begin with a start")
                elif event.type in UNCHANGED:
                    pass
                else:
                    workflow = state_from_json(state, specs[0], specs[1], engine.script_engine)
                    if event.type == "complete":
                        engine.complete_in(workflow, event.task_id, data["values"])
                    elif event.type == "timer":
                        engine._advance(workflow)
                    elif event.type == "message":
                        engine.message_in(workflow, data["name"], data.get("data"))
                    elif event.type == "cancel":
                        workflow.cancel()
                    else:
                        raise ValueError(f"unknown event type '{event.type}'")
                if event.type not in UNCHANGED:
                    projection.take_notifications(workflow)
                    state = state_to_json(workflow)
        except (TiltakError, KeyError, TypeError, ValueError) as err:
            yield Step(event, workflow, owner, state, f"cannot be replayed: {err}")
            return
        if history.sha256(state) != event.state_hash:
            yield Step(event, workflow, owner, state, "replaying it gives a different state")
            return
        yield Step(event, workflow, owner, state)
