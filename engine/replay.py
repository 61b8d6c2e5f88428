"""Verification: check an instance's hash chain, then rebuild it from its events alone.

The chain check finds an event that was changed, removed or moved (its hash no longer
matches its content, it no longer links to the one before, or the sequence has a gap).
The replay re-executes every command from the deployed definition version at the
recorded moment with the recorded inputs, and compares the resulting state's hash with
the one each event recorded, so even a history rewritten with fresh hashes is caught.

Speed (`bench/verify.py` measures it): the replay carries the live workflow from one
command to the next instead of restoring it from the previous state at every event, and
writes each state with `_StateWriter`, a direct and faster writer of exactly the bytes
`serialization.state_to_json` writes. Every step's state is still written in full and
its hash compared. Whenever that fast path does not give the recorded hash, the step is
done again exactly as the engine did it (the previous state restored from its JSON, the
command re-run, the state written by the reference serializer), and only that verdict
counts; a match on the fast path is itself the proof, since the recorded hash covers
the whole state. `verify_all` reads the events of many instances per query and can
spread the instances over several processes (`jobs`).
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import pickle
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from sqlalchemy import select

from . import history, projection
from .clock import FixedClock
from .determinism import IdSource, deterministic
from .errors import TiltakError
from .models import HistoryEvent, ProcessInstance
from .serialization import (
    REGISTRY,
    STATE_FORMAT,
    _refuse,
    _sorted,
    data_from_json,
    state_from_json,
    state_to_json,
)

UNCHANGED = {"claim", "unclaim", "attach", "incident", "retry"}
BATCH = 50  # instances whose events are read in one query

_EVENT_COLUMNS = [HistoryEvent.__table__.c[name] for name in (
    "stream", "seq", "type", "actor", "at", "element_id", "task_id", "data", "state_hash",
    "prev_hash", "hash")]


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
    (from a checkpoint, engine/checkpoint.py): instances whose chain is intact and ends
    where it did then are not replayed again.
    """
    with engine.db.transaction() as session:
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
    try:
        with multiprocessing.get_context("fork").Pool(jobs, initializer=_worker_start) as pool:
            for found in pool.imap(_worker_verify, chunks):
                collect(found)
    finally:
        _worker_engine = None
    return verdicts


_worker_engine = None


def _worker_start() -> None:
    # a forked worker must not share the parent's database connections
    _worker_engine.db.engine.dispose(close=False)


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
    with engine.db.transaction() as session:
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
    with engine.db.transaction() as session:
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
    for step in replay_steps(engine, instance_id, events):
        if step.problem is not None:
            return step.event.seq, step.event.type, step.problem
    return None


_REPLAYABLE = (TiltakError, KeyError, TypeError, ValueError)


def replay_steps(engine, instance_id: str, events: list[HistoryEvent]) -> Iterator[Step]:
    """Re-execute the events one by one; yields the state after each and stops at a fault.

    A faulty step carries `problem`: the event cannot be replayed, or its recorded state
    hash differs from the replayed state's.
    """
    ids = IdSource(instance_id, 0)
    writer = _StateWriter()
    state = state_hash = ""
    workflow = specs = None
    owner: dict[int, int] = {}
    for event in events:
        moment = _utc(event.at)
        try:
            with engine.clock.at(moment), deterministic(ids, FixedClock(moment)):
                if event.type == "start":
                    data = data_from_json(event.data)
                    specs = _specs(engine, data["definition_id"], data["bindings"])
                    owner = specs[2]
                    workflow = engine.begin(specs[0], specs[1], data["data"],
                                            by_timer=bool(data.get("by_timer")))
                    projection.take_notifications(workflow)
                    state = writer.write(workflow)
                    state_hash = history.sha256(state)
                    if state_hash != event.state_hash:
                        state = state_to_json(workflow)
                        state_hash = history.sha256(state)
                elif specs is None:
                    raise ValueError("the history does not begin with a start")
                elif event.type not in UNCHANGED:
                    counter = ids.counter
                    live = _live(engine, workflow, writer, event)
                    if live is not None and live[1] == event.state_hash:
                        state, state_hash = live
                    else:  # as the engine did it: restore the state, run the command
                        ids.counter = counter
                        workflow = state_from_json(state, specs[0], specs[1],
                                                   engine.script_engine)
                        _apply(engine, workflow, event)
                        state = state_to_json(workflow)
                        state_hash = history.sha256(state)
        except _REPLAYABLE as err:
            yield Step(event, workflow, owner, state, f"cannot be replayed: {err}")
            return
        if state_hash != event.state_hash:
            yield Step(event, workflow, owner, state, "replaying it gives a different state")
            return
        if event.type not in UNCHANGED:
            _as_restored(workflow)
        yield Step(event, workflow, owner, state)


def _live(engine, workflow, writer: _StateWriter, event) -> tuple[str, str] | None:
    """The command run on the live workflow: its state and hash, None if it failed."""
    try:
        _apply(engine, workflow, event)
        state = writer.write(workflow)
    except Exception:  # noqa: BLE001 - the caller does the step again, the engine's way
        return None
    return state, history.sha256(state)


def _apply(engine, workflow, event) -> None:
    data = data_from_json(event.data)
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
    projection.take_notifications(workflow)


_assembled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _specs(engine, definition_id: int, bindings: dict[str, int]) -> tuple:
    """The engine's specs for a definition and its bindings, without a transaction once
    they have been read."""
    cache = _assembled.setdefault(engine, {})
    key = (definition_id, tuple(sorted(bindings.items())))
    found = cache.get(key)
    if found is None:
        with engine.db.transaction() as session:
            definition = engine._definition(session, definition_id)
            found = cache[key] = engine._specs_for(session, definition, bindings)
    return found


def _as_restored(workflow) -> None:
    """Put the subprocesses in the order restoring the state would give them.

    The engine restores an instance before each command, and restoring lists the
    subprocesses in task order (depth first), while a live workflow keeps them in the
    order they were created; the order shows in the state, and it decides which
    subprocess runs first.
    """
    subprocesses = workflow.subprocesses
    if len(subprocesses) < 2:
        return
    ordered: dict = {}

    def visit(owner) -> None:
        for task in owner.tasks.values():
            sub = subprocesses.get(task.id)
            if sub is not None and task.id not in ordered and \
                    isinstance(task.task_spec, SubWorkflowTask):
                ordered[task.id] = sub
                visit(sub)

    visit(workflow)
    for key, sub in subprocesses.items():
        ordered.setdefault(key, sub)
    if list(ordered) != list(subprocesses):
        subprocesses.clear()
        subprocesses.update(ordered)


_PLAIN = frozenset((str, int, float, bool, type(None)))


class _StateWriter:
    """Writes a workflow's state as exactly the text `state_to_json` gives, faster.

    It writes what `serialization.StateConverter` and `DeltaTaskConverter` write, in the
    same order, handling plain JSON values itself and handing anything else to the
    serializer's registry. Most tasks do not change from one step to the next, so each
    task's text is kept with everything it was written from (its state, parent,
    children, internal data, and copies of its data and its parent's) and written again
    when any of that differs, also when data was changed in place. Data are compared
    with `==`, which takes `1`, `1.0` and `True` for the same: a value changed only that
    way, in place, in a task whose state did not change, would keep its old text. The
    engine has no such change (a value enters through a task whose state changes in the
    same step, and that task is written again). tests/test_replay.py holds the output
    equal to the reference at every step; a difference would only send the replay down
    the reference path.
    """

    def __init__(self) -> None:
        self._names = _Names()  # for the whole replay of one instance
        # id(task) or id(workflow) -> what its text was written from, and the text
        self._written: dict[int, tuple] = {}
        self._visited: set[int] = set()  # the tasks written so far in this write

    def write(self, workflow) -> str:
        self._visited.clear()
        specs = workflow.subprocess_specs
        subprocesses = []
        for key, sub in workflow.subprocesses.items():
            name = sub.spec.name
            for spec_key, spec in specs.items():
                if spec is sub.spec:
                    name = spec_key
                    break
            subprocesses.append(
                f'"{key}":{{{self._workflow(sub)},"parent_task_id":"{sub.parent_task_id}",'
                f'"spec":{_encode(name)},"typename":"BpmnSubWorkflow"}}')
        return (f'{{{self._workflow(workflow)},"subprocesses":{{{",".join(subprocesses)}}},'
                f'"bpmn_events":{_encode(REGISTRY.convert(workflow.bpmn_events))},'
                f'"format":{_encode(STATE_FORMAT)}}}')

    def _workflow(self, workflow) -> str:
        names = self._names
        tasks = workflow.tasks
        last = workflow.last_task
        written = ",".join([self._task(task, tasks) for task in tasks.values()])
        return (f'"data":{self._data(workflow)},'
                f'"correlations":{_encode(workflow.correlations)},'
                f'"last_task":{_encode(names[last.id.int] if last is not None else None)},'
                f'"success":{_encode(workflow.success)},'
                f'"completed":{_encode(workflow.completed)},'
                f'"tasks":{{{written}}},"root":"{names[workflow.task_tree.id.int]}"')

    def _data(self, workflow) -> str:
        kept = self._written.get(id(workflow))
        if kept is not None and kept[0] is workflow and kept[1] == workflow.data:
            return kept[2]
        text = _encode(_canonical(workflow.data))
        self._written[id(workflow)] = (workflow, _copy(workflow.data, None), text)
        return text

    def _task(self, task, tasks) -> str:
        """The task's entry in its workflow's tasks (`"id":{...}`)."""
        written = self._written
        kept = written.get(id(task))
        if kept is None or kept[0] is not task:
            kept = None
        parent_id = task._parent
        if kept is not None and kept[9] is parent_id:  # a task's parent does not change
            parent = kept[10]
        else:
            parent = tasks.get(parent_id) if parent_id is not None else None
        if parent is not None:
            # tasks are listed parents first: the parent's entry, written in this same
            # write, holds the copy of its data as it is now
            if id(parent) not in self._visited:
                raise ValueError("a task is listed before its parent")
            parent_data = written[id(parent)][7]
        else:
            parent_data = None
        self._visited.add(id(task))
        if kept is not None and kept[1] is parent_data and \
                kept[2] == task._state and kept[3] == task.last_state_change and \
                kept[4] == task._children and kept[5] == task.triggered and \
                kept[6] == task.internal_data and kept[7] == task.data:
            return kept[8]
        text = f'"{self._names[task.id.int]}":{_encode(self._task_dict(task, parent))}'
        earlier = kept[7] if kept is not None else None
        written[id(task)] = (
            task, parent_data, task._state, task.last_state_change, list(task._children),
            task.triggered, _copy(task.internal_data, None),
            _copy(task.data, earlier if earlier is not None else parent_data), text,
            parent_id, parent)
        return text

    def _task_dict(self, task, parent) -> dict[str, Any]:
        names = self._names
        if parent is None:
            data = _canonical(task.data) if task.data else task.data
            delta: dict[str, Any] = {}
        else:
            before, after = parent.data, task.data
            updates = {k: after[k] for k in after if k not in before or after[k] != before[k]}
            deletions = [k for k in before if k not in after]
            delta = {"updates": _canonical(updates) if updates else updates,
                     "deletions": sorted(deletions) if deletions else deletions}
            data = {}
        internal = task.internal_data
        return {
            "id": names[task.id.int],
            "parent": names[parent.id.int] if parent is not None else None,
            "children": [names[child.int] for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task._state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": _converted(internal) if internal else internal,
            "data": data,
            "delta": delta,
            "typename": "Task",
        }


_encode = json.JSONEncoder(separators=(",", ":"), default=_refuse).encode


def _copy(value: Any, like: Any) -> Any:
    """A copy of `value` to tell later whether it changed; `like`, an earlier copy, when
    that is still equal to it (most tasks' data equal their parent's)."""
    if like is not None and like == value:
        return like
    if not value:
        return type(value)()
    return pickle.loads(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


class _Names(dict):
    """A task id's text, by the id's number (quicker to look up than the id itself)."""

    def __missing__(self, number: int) -> str:
        text = self[number] = str(UUID(int=number))
        return text


def _kept(value: Any) -> bool:
    """What the registry's `clean` keeps in a dictionary."""
    return not (callable(value) or isinstance(value, ModuleType))


def _converted(value: Any) -> Any:
    """`REGISTRY.convert(value)`, with plain JSON values handled here."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        return {k: v if type(v) in _PLAIN else _converted(v) for k, v in value.items()
                if type(v) in _PLAIN or _kept(v)}
    if kind is list:
        return [v if type(v) in _PLAIN else _converted(v) for v in value]
    return REGISTRY.convert(value)


def _canonical(value: Any) -> Any:
    """`_sorted(REGISTRY.convert(value))`: converted, every dictionary in key order."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is dict:
        result = {}
        for key in sorted(value, key=str):
            item = value[key]
            if type(item) in _PLAIN:
                result[key] = item
            elif _kept(item):
                result[key] = _canonical(item)
        return result
    if kind is list:
        return [v if type(v) in _PLAIN else _canonical(v) for v in value]
    return _sorted(REGISTRY.convert(value))


def default_jobs() -> int:
    """One worker per available core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on every platform
        return max(1, os.cpu_count() or 1)
