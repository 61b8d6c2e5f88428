"""The replay's shortcuts change nothing: the fast state writer writes the serializer's
bytes, the fast task walk finds SpiffWorkflow's tasks in its order, task ids are those
uuid5 gives, verdicts are the same in worker processes, and a fast path that misses falls
back to the engine's way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from random_walk import Model, walk
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import update

from engine import history
from engine.execution import projection
from engine.execution.determinism import _NAMESPACE, IdSource
from engine.history import replay
from engine.history.state_writer import StateWriter
from engine.models import HistoryEvent
from engine.serialization import state_to_json
from engine.timers import sweep

from walks import PROCESSES, at_measure, walk_six_step


@pytest.fixture
def walked(deployed, clock):
    """Two six-step cases (two clinics, one), and one whose measure timed out."""
    ids = [walk_six_step(deployed), walk_six_step(deployed, clinics=("med",),
                                                  business_key="HA-2026-18")]
    ids.append(at_measure(deployed))
    clock.set(datetime(2026, 2, 22, 0, 0, 1, tzinfo=UTC))
    sweep(deployed)
    clock.set(datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC))
    sweep(deployed)
    return deployed, ids


def steps(engine, instance_id):
    return replay.replay_steps(engine, instance_id, engine.history.events(instance_id))


def test_the_fast_writer_and_task_walk_match_the_reference_at_every_step(walked):
    engine, ids = walked
    seen = 0
    for instance_id in ids:
        writer = StateWriter()  # one per replay, as verification uses it
        for step in steps(engine, instance_id):
            assert step.problem is None, step.problem
            assert writer.write(step.workflow) == state_to_json(step.workflow)
            assert [t.id for t in projection.every_task(step.workflow)] == \
                [t.id for t in step.workflow.get_tasks()]
            seen += 1
    assert seen > 30


def test_the_shortcuts_match_on_random_walks(deployed, clock):
    """The same along seeded random paths: timers, messages, cancellations, claims (up
    to where a walk's replay may fail for reasons of its own)."""
    model = Model.of_folder(PROCESSES)
    for process in model.startable:
        for seed in range(20260105, 20260113):
            instance_id = walk(deployed, clock, process, seed, model).instance_id
            writer = StateWriter()
            for step in steps(deployed, instance_id):
                if step.problem is not None:  # not this test's concern (test_random_paths)
                    break
                assert writer.write(step.workflow) == \
                    state_to_json(step.workflow), (seed, step.event.seq)
                assert [t.id for t in projection.every_task(step.workflow)] == \
                    [t.id for t in step.workflow.get_tasks()], (seed, step.event.seq)


def test_the_live_workflow_replays_every_step_without_falling_back(deployed, clock,
                                                                    monkeypatch):
    """The routines' random walks (notifications, timers, messages, cancellations) replay
    on the live workflow alone: no step needs the engine's slower way of restoring the
    state before the command (which would give the same verdict, only slowly). A task
    shares no data with another, live or restored, so the two cannot differ."""
    fell_back = []
    live = replay._live

    def watched(engine, workflow, writer, event):
        found = live(engine, workflow, writer, event)
        if found is None or found[1] != event.state_hash:
            fell_back.append((process, seed, event.seq, event.type, event.element_id))
        return found

    monkeypatch.setattr(replay, "_live", watched)
    model = Model.of_folder(PROCESSES)
    replayed = 0
    for process in model.startable:
        for seed in range(20260105, 20260109):
            instance_id = walk(deployed, clock, process, seed, model).instance_id
            for step in steps(deployed, instance_id):
                if step.problem is not None:  # not this test's concern (test_random_paths)
                    break
                replayed += 1
    assert replayed > 100
    assert fell_back == []


def test_verdicts_are_the_same_in_worker_processes(walked):
    engine, ids = walked
    events = engine.history.events(ids[0])
    with engine.db.transaction() as session:
        session.execute(update(HistoryEvent).where(HistoryEvent.id == events[9].id)
                        .values(actor="mallory"))
    alone = replay.verify_all(engine)
    verdicts = {v.instance_id: v for v in alone}
    assert [verdicts[i].ok for i in ids] == [False, True, True]
    assert verdicts[ids[0]].seq == 10 and "altered" in verdicts[ids[0]].problem
    shown = []
    together = replay.verify_all(engine, lambda done, total: shown.append((done, total)),
                                 jobs=2)
    assert together == alone
    assert len(alone) >= 3 and shown[-1] == (len(alone), len(alone))


def test_a_missed_fast_path_falls_back_to_the_engines_way(walked, monkeypatch):
    """With a writer that never gets it right, every step goes the reference way: clean
    histories still verify, and a rewritten one is still caught where it was changed."""
    engine, ids = walked
    monkeypatch.setattr(StateWriter, "write", lambda self, workflow: "{}")
    assert all(v.ok for v in replay.verify_all(engine))

    chain = engine.history.events(ids[1])
    index = next(i for i, e in enumerate(chain) if e.element_id == "Task_KpuBehandling")
    with engine.db.transaction() as session:
        rows = session.query(HistoryEvent).filter(HistoryEvent.stream == ids[1]) \
            .order_by(HistoryEvent.seq).all()
        rows[index].data = rows[index].data.replace("KPU støtter tiltakene", "KPU avviser")
        previous = rows[index - 1].hash
        for row in rows[index:]:
            row.prev_hash = previous
            row.hash = history.event_hash(row.stream, row.seq, row.type, row.actor,
                                          replay._utc(row.at), row.element_id, row.task_id,
                                          row.data, row.state_hash, row.prev_hash,
                                          row.state_format, row.engine_version)
            previous = row.hash
        from engine.models import ProcessInstance
        session.get(ProcessInstance, ids[1]).last_hash = previous
    verdict = replay.verify_instance(engine, ids[1])
    assert not verdict.ok and verdict.seq == index + 1
    assert "different state" in verdict.problem


def test_the_writer_writes_again_what_changed_in_place(walked):
    """The writer keeps each task's text between steps; a change to a finished task's
    data, internal data or children made in place, with nothing else about the task
    changed, is written all the same (and so would fail the hash, not hide)."""
    engine, ids = walked
    *_, step = steps(engine, ids[0])
    workflow = step.workflow
    writer = StateWriter()
    assert writer.write(workflow) == state_to_json(workflow)
    done = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if t.data]
    lists = [t for t in done if any(isinstance(v, list) for v in t.data.values())]
    changes = [
        lambda: done[-1].data.update(endret=True),
        lambda: next(v for v in lists[0].data.values() if isinstance(v, list))
        .append({"tittel": "lagt til i ettertid"}),
        lambda: done[1].data.pop(next(iter(done[1].data))),
        lambda: done[2].internal_data.update(merket=True),
        lambda: done[3]._children.reverse() if len(done[3]._children) > 1
        else done[3]._children.clear(),
        lambda: workflow.data.update(endret=True),
        lambda: workflow.subprocesses[next(iter(workflow.subprocesses))].data.update(x=1),
    ]
    for change in changes:
        before = writer.write(workflow)
        change()
        after = writer.write(workflow)
        assert after == state_to_json(workflow)
        assert after != before


def test_task_ids_are_the_uuid5_names_recorded_histories_hold():
    """Task ids are part of every recorded state: the quicker id source must give the
    very ids `uuid.uuid5` gives, or no history recorded before would verify."""
    source = IdSource("c0ffee00-0000-4000-8000-00000000abcd", 41)
    for counter in range(42, 2042):
        made = source()
        expected = uuid.uuid5(_NAMESPACE, f"c0ffee00-0000-4000-8000-00000000abcd/{counter}")
        assert (made, str(made), hash(made), made.version, made.variant) == \
            (expected, str(expected), hash(expected), expected.version, expected.variant)
    assert source.counter == 2041


def test_call_activities_hand_over_copies_as_deepcopy_made_them():
    """The data a call activity hands over is copied: equal to what `deepcopy` gave when
    the histories were recorded, shared parts still shared, the original untouched by
    changes to the copy (also inside a list of dicts), and what only `deepcopy` knows
    (a function) still copied."""
    from copy import deepcopy
    from datetime import date
    from decimal import Decimal

    from engine.model.specs import copy_of

    shared = [{"tiltak": "Dobbeltkontroll", "frist": date(2026, 3, 2)}]
    data = {"tiltak": shared, "igjen": shared, "kostnad": Decimal("12.50"), "klinikk": "kir"}
    copied = copy_of(data)
    assert copied == deepcopy(data) == data
    assert copied["tiltak"] is copied["igjen"] and copied["tiltak"] is not shared
    copied["tiltak"][0]["tiltak"] = "endret"
    copied["tiltak"].append("ny")
    assert shared == [{"tiltak": "Dobbeltkontroll", "frist": date(2026, 3, 2)}]
    assert copied["igjen"][-1] == "ny"  # still one list in the copy
    looped: dict = {"navn": "sløyfe"}
    looped["selv"] = looped
    again = copy_of(looped)
    assert again["selv"] is again and again is not looped

    def rule(value):
        return value

    odd = copy_of({"regel": rule, "liste": [1, 2]})
    assert odd["regel"] is rule and odd["liste"] == [1, 2]
