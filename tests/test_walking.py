"""The engine's fast task walks find the same tasks in the same order as SpiffWorkflow.

Which of several ready tasks runs first decides the recorded state, so a walk that
differed would make new instances record other states than before, and histories
recorded before would no longer verify. Beside these tests, the whole suite runs with
`walking.CHECKED` (conftest.py): every walk the engine makes is compared as it happens.
"""

from __future__ import annotations

import logging

import pytest
import random_walk
from random_walk import Model, World
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.util.task import TaskFilter, TaskIterator, TaskState

from engine.clock import FixedClock
from engine.definitions import collect_files
from engine.execution import task_states, walking
from engine.history import events_of
from engine.history.replay import replay_steps
from engine.store import state_format
from installation import services

from walks import PROCESSES, walk_six_step

STATES = [TaskState.MAYBE, TaskState.LIKELY, TaskState.FUTURE, TaskState.WAITING,
          TaskState.READY, TaskState.STARTED, TaskState.COMPLETED, TaskState.ERROR,
          TaskState.CANCELLED, TaskState.FINISHED_MASK, TaskState.NOT_FINISHED_MASK,
          TaskState.PREDICTED_MASK, TaskState.DEFINITE_MASK, TaskState.ANY_MASK,
          TaskState.READY | TaskState.WAITING]


@pytest.fixture
def walked(sqlite_url):
    """An engine with a six-step case and a seeded random walk of every routine."""
    clock = FixedClock()
    engine = services.build_engine(sqlite_url, clock=clock)
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    ids = [walk_six_step(engine)]
    model, world = Model.of_folder(PROCESSES), World.demo()
    for seed, process in enumerate(model.startable, 20261130):
        ids.append(random_walk.walk(engine, clock, process, seed, model, world).instance_id)
    yield engine, ids
    engine.db.dispose()


def every_tree(engine, ids):
    """Each instance's workflow after each of its events, rebuilt from its history."""
    for instance_id in ids:
        with engine.db.transaction() as session:
            events = events_of(session, instance_id)
        for step in replay_steps(engine, instance_id, events):
            assert step.problem is None, step.problem
            yield step.workflow


def spiff_tasks(workflow, first=None, **kwargs) -> list:
    return list(BpmnTaskIterator(first or workflow.task_tree, **kwargs))


def test_every_filter_on_every_tree_finds_what_spiffworkflow_finds(walked):
    engine, ids = walked
    trees = 0
    for workflow in every_tree(engine, ids):
        trees += 1
        names = sorted({t.task_spec.name for t in workflow.get_tasks_iterator()})
        for sub in [workflow, *workflow.subprocesses.values()]:
            for state in STATES:
                for extra in ({}, {"manual": True}, {"manual": False}):
                    assert sub.get_tasks(state=state, **extra) == \
                        spiff_tasks(sub, state=state, **extra), (state, extra)
                assert list(sub.get_tasks_iterator(state=state, skip_subprocesses=True)) \
                    == spiff_tasks(sub, state=state, skip_subprocesses=True)
        for depth in (1, 2, 3, 5, 8):  # SpiffWorkflow's depth counting, cut short
            assert list(workflow.get_tasks_iterator(max_depth=depth)) == \
                spiff_tasks(workflow, max_depth=depth), depth
        for name in names[::3]:
            assert list(workflow.get_tasks_iterator(end_at_spec=name)) == \
                spiff_tasks(workflow, end_at_spec=name), name
            assert workflow.get_tasks(spec_name=name) == spiff_tasks(workflow, spec_name=name)
        assert list(walking.walk(workflow.task_tree, TaskFilter(state=TaskState.WAITING),
                                 into_subprocesses=False)) == \
            list(TaskIterator(workflow.task_tree, state=TaskState.WAITING))
    assert trees > 100


def test_the_ready_tasks_are_picked_from_the_tables_without_a_walk(walked):
    """Where few tasks are ready, they are found by their paths; the order still is
    SpiffWorkflow's (the test above), and only reachable tasks count."""
    engine, ids = walked
    picked = 0
    for workflow in every_tree(engine, ids[:1]):
        found = walking.found_in_order(workflow, TaskFilter(state=TaskState.READY))
        assert found is not None
        picked += len(found)
        assert found == spiff_tasks(workflow, state=TaskState.READY)
        assert walking.found_in_order(workflow, TaskFilter(state=TaskState.COMPLETED)) is None
    assert picked > 20


def test_a_walk_that_strays_is_caught(walked, monkeypatch):
    """The suite-wide check can fail: a walk in another order stops the command."""
    engine, _ = walked
    original = walking.found_in_order

    def reversed_order(workflow, task_filter):
        found = original(workflow, task_filter)
        return found[::-1] if found else found

    monkeypatch.setattr(walking, "found_in_order", reversed_order)
    with pytest.raises(walking.WalkMismatch):
        walk_six_step(engine, business_key="HA-2026-18")


def test_state_changes_are_logged_as_before_when_someone_listens(deployed, caplog):
    """The engine skips building SpiffWorkflow's log details only when no one logs them."""
    with caplog.at_level(logging.INFO, logger="spiff.task"):
        walk_six_step(deployed, clinics=("kir",))
    changes = [r for r in caplog.records if r.getMessage().startswith("State changed to")]
    assert len(changes) > 100
    assert {"workflow_spec", "task_spec", "task_id", "state", "elapsed"} <= set(vars(changes[0]))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spiff.task"):
        walk_six_step(deployed, clinics=("kir",), business_key="HA-2026-19")
    assert not [r for r in caplog.records if r.name == "spiff.task"]


def test_workflows_are_logged_as_before_when_someone_listens(deployed, caplog):
    """A workflow's own records (a called process set up, a workflow completed) keep
    their details, with every task listed when the logger is set to DEBUG."""
    with caplog.at_level(logging.DEBUG, logger="spiff.workflow"):
        walk_six_step(deployed, clinics=("kir",))
    started = [r for r in caplog.records if r.getMessage() == "Initialized workflow"]
    assert len(started) >= 2
    assert {"workflow_spec", "success", "completed", "root", "tasks"} <= set(vars(started[-1]))
    assert started[-1].tasks and started[-1].parent_task_id is not None
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="spiff.workflow"):
        walk_six_step(deployed, clinics=("kir",), business_key="HA-2026-20")
    assert not [r for r in caplog.records if r.name == "spiff.workflow"]


def test_the_task_notes_follow_every_state_change(walked, monkeypatch):
    """Each workflow's note of its waiting, ready, started and failed tasks holds exactly
    the tasks its table holds in those states: after every step of every walk, for a
    task taken out and set ready afterwards (as SpiffWorkflow sometimes does), and for a
    workflow restored from its state."""
    monkeypatch.setattr(walking, "CHECKED", False)  # compared here, by hand
    engine, ids = walked

    def scanned(workflow, wanted):
        return {task for task in workflow.tasks.values() if task._state & wanted}

    checked = 0
    for workflow in every_tree(engine, ids):
        for sub in [workflow, *workflow.subprocesses.values()]:
            for wanted in (TaskState.READY, TaskState.WAITING, task_states.SPARSE):
                assert set(task_states.in_states([sub], wanted)) == scanned(sub, wanted)
                checked += 1
    assert checked > 300

    workflow = next(tree for n, tree in enumerate(every_tree(engine, ids[:1])) if n == 4)
    restored = state_format.read(state_format.write(workflow), workflow.spec,
                                 workflow.subprocess_specs, workflow.script_engine)
    for old, new in zip([workflow, *workflow.subprocesses.values()],
                        [restored, *map(restored.subprocesses.get, workflow.subprocesses)],
                        strict=True):
        assert {t.id for t in task_states.in_states([new], task_states.SPARSE)} == \
            {t.id for t in scanned(old, task_states.SPARSE)}

    leaf = next(task for sub in [restored, *restored.subprocesses.values()]
                for task in sub.tasks.values()
                if not task._children and task._state & TaskState.PREDICTED_MASK)
    owner = leaf.workflow
    task_states.in_states([owner], TaskState.READY)  # the note made, then kept
    owner._remove_task(leaf.id)
    leaf._set_state(TaskState.READY)
    assert leaf not in task_states.in_states([owner], TaskState.READY)
    assert set(task_states.in_states([owner], TaskState.READY)) == \
        scanned(owner, TaskState.READY)
