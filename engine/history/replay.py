"""Verification: check an instance's hash chain, then rebuild it from its events alone,
comparing every state's hash with the recorded one (docs/DESIGN.md, "Determinism and
history" and "Verification speed").
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from ..clock import LOCAL_ZONE, FixedClock, local_zone
from ..errors import TiltakError
from ..execution import projection
from ..execution.determinism import IdSource, deterministic
from ..migration import repoint
from ..models import HistoryEvent, ProcessInstance
from ..serialization import FORMATS, LEGACY_FORMAT, data_from_json, restore_state, state_to_json
from ..store import state_format
from . import events as history
from .state_writer import StateWriter

UNCHANGED = {"claim", "unclaim", "attach", "incident", "retry", "suspended", "activated"}
BATCH = 50  # instances whose events are read in one query

_EVENT_COLUMNS = [HistoryEvent.__table__.c[name] for name in (
    "stream", "seq", "type", "actor", "at", "element_id", "task_id", "data", "state_hash",
    "prev_hash", "hash", "state_format", "engine_version")]


@dataclass
class Verdict:
    instance_id: str
    events: int
    ok: bool
    seq: int | None = None
    event_type: str | None = None
    problem: str | None = None
    replayed: bool = True  # False: its chain is checked and unchanged since a checkpoint
    last_hash: str | None = None  # of a clean instance's last event

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


Known = dict[str, tuple[int, str]]  # instance id -> (events, last hash) found clean


def verify_all(engine, progress: Callable[[int, int], None] | None = None, *,
               jobs: int = 1, known: Known | None = None) -> list[Verdict]:
    """Every instance's verdict, oldest first; `progress(done, total)` after each.

    With `jobs` > 1 the instances are verified in that many worker processes (forked
    from this one, where the platform allows it); the verdicts are the same. `known`
    (from a checkpoint, engine/history/checkpoint.py): instances whose chain is intact and ends
    where it did then are not replayed again.
    """
    with engine.db.reading() as session:
        ids = list(session.scalars(select(ProcessInstance.id).order_by(ProcessInstance.started_at,
                                                                         ProcessInstance.id)))
    size = BATCH if jobs <= 1 else max(1, min(BATCH, -(-len(ids) // (jobs * 4))))
    known = known or {}
    chunks = [(ids[i:i + size], {k: known[k] for k in ids[i:i + size] if k in known})
              for i in range(0, len(ids), size)]
    verdicts: list[Verdict] = []

    def collect(found: list[Verdict]) -> None:
        for verdict in found:
            verdicts.append(verdict)
            if progress is not None:
                progress(len(verdicts), len(ids))

    jobs = min(jobs, len(chunks))
    if jobs <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for chunk, known_here in chunks:
            collect(verify_batch(engine, chunk, known_here))
        return verdicts
    global _worker_engine
    _worker_engine = engine
    context = multiprocessing.get_context("fork")
    started = context.Value("i", 0)  # workers started so far: each keeps to the next core
    try:
        with context.Pool(jobs, initializer=_worker_start,
                          initargs=(started, _cores())) as pool:
            for found in pool.imap(_worker_verify, chunks):
                collect(found)
    finally:
        _worker_engine = None
    return verdicts


_worker_engine = None


def _cores() -> list[int]:
    """The cores this process may use, in order (none where no process may choose)."""
    if not hasattr(os, "sched_setaffinity"):
        return []
    return sorted(os.sched_getaffinity(0))


def _worker_start(started, cores: list[int]) -> None:
    # a forked worker must not share the parent's database connections
    _worker_engine.db.engine.dispose(close=False)
    # A worker keeps to one core, and so does the script worker it starts (which takes
    # its affinity): a script's request and answer then pass between the two on that
    # core, as one gives way to the other, instead of each waiting to be scheduled on
    # a core another process holds (measured on two shared cores: a script's round trip
    # took 0.7 ms instead of 1.2, and verifying 1,000 cases 10-20 % less time).
    if cores:
        with started.get_lock():
            number = started.value
            started.value += 1
        try:
            os.sched_setaffinity(0, {cores[number % len(cores)]})
        except OSError:  # a container may forbid it: then the scheduler places them
            pass


def _worker_verify(chunk: tuple[list[str], Known]) -> list[Verdict]:
    return verify_batch(_worker_engine, *chunk)


def verify_batch(engine, instance_ids: Sequence[str], known: Known | None = None
                 ) -> list[Verdict]:
    """The verdicts of these instances, their events read in one query."""
    loaded = load_batch(engine, instance_ids)
    known = known or {}
    verdicts = []
    for instance_id in instance_ids:
        with _collected_after():
            verdicts.append(_verdict(engine, instance_id, *loaded[instance_id],
                                     known=known.get(instance_id)))
    return verdicts


@contextmanager
def _collected_after() -> Iterator[None]:
    """Python's cycle collector held back while an instance is replayed, and run once
    after it on what the replay left: a replay makes many short-lived objects, and the
    collector, set off by their number, would otherwise walk the task trees (which are
    full of cycles) again and again."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def load_batch(engine, instance_ids: Sequence[str]
               ) -> dict[str, tuple[list[Any], tuple[str, int]]]:
    """Each instance's events (rows with HistoryEvent's columns, in order) and chain head
    (last hash, event count), in two queries."""
    with engine.db.reading() as session:
        heads = {row.id: (row.last_hash, row.event_count) for row in session.execute(
            select(ProcessInstance.id, ProcessInstance.last_hash, ProcessInstance.event_count)
            .where(ProcessInstance.id.in_(instance_ids)))}
        events: dict[str, list[Any]] = {instance_id: [] for instance_id in instance_ids}
        for row in session.execute(select(*_EVENT_COLUMNS)
                                   .where(HistoryEvent.stream.in_(instance_ids))
                                   .order_by(HistoryEvent.stream, HistoryEvent.seq)):
            events[row.stream].append(row)
    return {instance_id: (events[instance_id], heads.get(instance_id, ("", 0)))
            for instance_id in instance_ids}


def verify_instance(engine, instance_id: str) -> Verdict:
    with engine.db.reading() as session:
        row = session.get(ProcessInstance, instance_id)
        events = history.events_of(session, instance_id)
        head = (row.last_hash, row.event_count) if row is not None else ("", 0)
    return _verdict(engine, instance_id, events, head)


def _verdict(engine, instance_id: str, events: list, head: tuple[str, int], *,
             known: tuple[int, str] | None = None) -> Verdict:
    finding = check_chain(events, head)
    if finding is None and known is not None and events and \
            tuple(known) == (len(events), events[-1].hash):
        return Verdict(instance_id, len(events), True, replayed=False,
                       last_hash=events[-1].hash)
    if finding is None:
        finding = replay(engine, instance_id, events)
    if finding is None:
        return Verdict(instance_id, len(events), True,
                       last_hash=events[-1].hash if events else None)
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
                                        event.data, event.state_hash, event.prev_hash,
                                        event.state_format, event.engine_version)
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
    """An instance as it stood after one event, rebuilt from the history alone.

    `workflow` is the replay's live workflow: read it before asking for the next step,
    which carries it on.
    """

    event: HistoryEvent
    workflow: Any
    owner: dict[int, int]
    state: str
    problem: str | None = None


def replay(engine, instance_id: str, events: list[HistoryEvent]) -> tuple[int, str, str] | None:
    """The first event whose replay fails or gives a different state, else None."""
    if not events or events[0].type != "start":
        return 1, events[0].type if events else "", "the history does not begin with a start"
    for event in events:
        if event.state_format not in (*FORMATS, None) or \
                event.engine_version not in history.REPLAYABLE:
            return event.seq, event.type, (
                f"written by {event.engine_version or 'an unnamed engine'} in state format "
                f"{event.state_format or 'unnamed'}, which this version cannot replay "
                f"({history.ENGINE_VERSION}, {', '.join(FORMATS)})")
    for step in replay_steps(engine, instance_id, events):
        if step.problem is not None:
            return step.event.seq, step.event.type, step.problem
    return None


_REPLAYABLE = (TiltakError, KeyError, TypeError, ValueError)


class _Writers:
    """Each state format's writers: the fast one the replay tries first, and the one the
    engine wrote with (events that name no format were written in tiltak-state/1)."""

    def __init__(self) -> None:
        legacy = StateWriter()
        self._fast = {state_format.FORMAT: state_format.Writer().write,
                      LEGACY_FORMAT: legacy.write}
        self._reference = {state_format.FORMAT: state_format.write,
                           LEGACY_FORMAT: state_to_json}

    def fast(self, event):
        return self._fast[event.state_format or LEGACY_FORMAT]

    def reference(self, event):
        return self._reference[event.state_format or LEGACY_FORMAT]


def replay_steps(engine, instance_id: str, events: list[HistoryEvent]) -> Iterator[Step]:
    """Re-execute the events one by one; yields the state after each and stops at a fault.

    A faulty step carries `problem`: the event cannot be replayed, or its recorded state
    hash differs from the replayed state's. Each state is written in the format its event
    names, so a history that began before an upgrade and went on after it replays too.
    """
    ids = IdSource(instance_id, 0)
    writers = _Writers()
    state = state_hash = ""
    workflow = specs = None
    owner: dict[int, int] = {}
    for event in events:
        moment = _utc(event.at)
        days = UTC if event.engine_version in history.DAYS_IN_UTC else LOCAL_ZONE
        try:
            with engine.clock.at(moment), deterministic(ids, FixedClock(moment)), \
                    local_zone(days):
                if event.type == "start":
                    data = data_from_json(event.data)
                    specs = _specs(engine, data["definition_id"], data["bindings"])
                    owner = specs[2]
                    workflow = engine.runtime.begin(specs[0], specs[1], data["data"],
                                                    by_timer=bool(data.get("by_timer")))
                    projection.take_notifications(workflow)
                    state = writers.fast(event)(workflow)
                    state_hash = history.sha256(state)
                    if state_hash != event.state_hash:
                        state = writers.reference(event)(workflow)
                        state_hash = history.sha256(state)
                elif specs is None:
                    raise ValueError("the history does not begin with a start")
                elif event.type == "migrated":  # re-pointed as the engine did it
                    workflow = restore_state(state, specs[0], specs[1], engine.core.script_engine)
                    workflow, specs = _migrated(engine, workflow, specs, event)
                    owner = specs[2]
                    state = writers.reference(event)(workflow)
                    state_hash = history.sha256(state)
                elif event.type not in UNCHANGED:
                    state_format.as_restored(workflow)  # as the engine has it
                    counter = ids.counter
                    live = _live(engine, workflow, writers.fast(event), event)
                    if live is not None and live[1] == event.state_hash:
                        state, state_hash = live
                    else:  # as the engine did it: restore the state, run the command
                        ids.counter = counter
                        workflow = restore_state(state, specs[0], specs[1],
                                                 engine.core.script_engine)
                        _apply(engine, workflow, event)
                        state = writers.reference(event)(workflow)
                        state_hash = history.sha256(state)
        except _REPLAYABLE as err:
            yield Step(event, workflow, owner, state, f"cannot be replayed: {err}")
            return
        if state_hash != event.state_hash:
            yield Step(event, workflow, owner, state, "replaying it gives a different state")
            return
        yield Step(event, workflow, owner, state)


def _live(engine, workflow, write, event) -> tuple[str, str] | None:
    """The command run on the live workflow: its state and hash, None if it failed."""
    try:
        _apply(engine, workflow, event)
        state = write(workflow)
    except Exception:  # noqa: BLE001 - the caller does the step again, the engine's way
        return None
    return state, history.sha256(state)


def _apply(engine, workflow, event) -> None:
    data = data_from_json(event.data)
    if event.type == "complete":
        engine.runtime.complete_in(workflow, event.task_id, data["values"])
    elif event.type == "timer":
        engine.core._advance(workflow)
    elif event.type == "message":
        engine.runtime.message_in(workflow, data["name"], data.get("data"))
    elif event.type == "cancel":
        workflow.cancel()
    else:
        raise ValueError(f"unknown event type '{event.type}'")
    projection.take_notifications(workflow)


def _migrated(engine, workflow, specs: tuple, event) -> tuple[Any, tuple]:
    """The workflow moved by a `migrated` event, and the specs it now runs on."""
    data = data_from_json(event.data)
    target = _specs(engine, data["definition_id"], data["bindings"])
    moved, _ = repoint.moved(workflow, specs[2], data["from"]["definition_id"],
                             data["instructions"],
                             repoint.Target(target[0], target[1], data["to"]["version"]),
                             engine.core.script_engine)
    return moved, target


_assembled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _specs(engine, definition_id: int, bindings: dict[str, int]) -> tuple:
    """The engine's specs for a definition and its bindings, without a transaction once
    they have been read."""
    cache = _assembled.setdefault(engine, {})
    key = (definition_id, tuple(sorted(bindings.items())))
    found = cache.get(key)
    if found is None:
        with engine.db.reading() as session:
            definition = engine.core._definition(session, definition_id)
            found = cache[key] = engine.core._specs_for(session, definition, bindings)
    return found


def default_jobs() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)
