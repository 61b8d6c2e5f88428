"""Workflows kept alive between commands: used only at the version the database holds,
never after a failed command, and giving exactly the states a restore gives."""

from __future__ import annotations

import itertools

import pytest

from engine import core
from engine.clock import FixedClock
from engine.definitions import collect_files
from engine.errors import InvalidInput
from engine.execution.live import LiveWorkflows
from engine.history.replay import verify_instance
from installation import services

from walks import PROCESSES, START_DATA, review_rows, task_for, walk_six_step

FIXED_ID = "6b1f4c52-9a0e-4d7b-8f37-2f1e5d0c9a11"


@pytest.fixture
def restores(monkeypatch):
    """How many times a command restored a state from the database."""
    count = [0]
    real = core.restore_state

    def counted(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(core, "restore_state", counted)
    return count


def _engine(url):
    engine = services.build_engine(url, clock=FixedClock())
    engine.db.create_schema()
    return engine


def test_the_next_command_runs_on_the_workflow_the_last_one_left(deployed, restores):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    deployed.tasks.claim(task.id, actor="sigrid")  # a claim moves the row's version on
    deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": review_rows("kir")})
    assert restores[0] == 0
    assert verify_instance(deployed, instance.id).ok


def test_a_failed_command_leaves_no_workflow_behind(deployed, restores):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    wrong = review_rows("kir")
    wrong[0]["frist"] = "not a date"
    with pytest.raises(InvalidInput):
        deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": wrong})
    deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": review_rows("kir")})
    assert restores[0] == 1  # the workflow the failure had was let go
    assert verify_instance(deployed, instance.id).ok


class _Servers:
    """Several server processes on one database, each command sent to the next: each
    keeps its own workflows, most of them stale by the time it is asked again."""

    def __init__(self, engines):
        self._engines = engines
        self._next = itertools.cycle(engines)

    def __getattr__(self, name):
        return getattr(next(self._next), name)


def _hashes(engine, instance_id):
    return [(e.seq, e.type, e.state_hash) for e in engine.history.events(instance_id)]


def test_processes_with_stale_workflows_write_what_restoring_writes(database_url, tmp_path):
    """The same walk through three engines taking turns and through one that restores
    before every command: the same states, hash for hash, and the history verifies."""
    first = _engine(database_url)
    services.load_demo_users(first, passwords=False)
    first.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    first.new_id = lambda: FIXED_ID
    turns = [first, *(_engine(database_url) for _ in range(2))]
    for engine in turns[1:]:
        engine.new_id = first.new_id
    walk_six_step(_Servers(turns))
    assert verify_instance(first, FIXED_ID).ok
    taking_turns = _hashes(first, FIXED_ID)

    alone = _engine(f"sqlite:///{tmp_path / 'restoring.sqlite3'}")
    services.load_demo_users(alone, passwords=False)
    alone.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    alone.new_id = first.new_id
    alone.core._live = LiveWorkflows(size=0)  # keeps nothing: restores every time
    walk_six_step(alone)
    assert _hashes(alone, FIXED_ID) == taking_turns
    for engine in [*turns, alone]:
        engine.db.dispose()


def test_a_start_takes_the_version_another_process_has_just_deployed(database_url):
    """Each server process remembers the latest version of a process it started; when
    another process deploys a newer one, the next start takes that one all the same."""
    here, there = _engine(database_url), _engine(database_url)
    services.load_demo_users(here, passwords=False)
    here.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    first = here.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    bpmn = (PROCESSES / "hendelsesanalyse-oppfolging.bpmn").read_bytes()
    there.repository.deploy({"hendelsesanalyse-oppfolging.bpmn": bpmn + b"<!-- version 2 -->\n"},
                 actor="per")
    second = here.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    assert [here.history.show(i.id)["version"] for i in (first, second)] == [1, 2]
    third = here.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    assert here.history.show(third.id)["version"] == 2
    assert verify_instance(here, second.id).ok
    for engine in (here, there):
        engine.db.dispose()


def test_a_kept_workflow_is_found_by_its_open_tasks_until_it_is_let_go():
    live = LiveWorkflows(size=2)
    live.keep("a", 1, "workflow a", frozenset({"t1", "t2"}))
    live.keep("b", 1, "workflow b", frozenset({"t3"}))
    assert live.holds_task("t1") and live.holds_task("t3")
    live.keep("a", 2, "workflow a", frozenset({"t2", "t4"}))  # t1 completed
    assert not live.holds_task("t1") and live.holds_task("t4")
    assert live.take("b", 1) == "workflow b"
    assert not live.holds_task("t3")  # taken out while a command runs on it
    live.keep("c", 1, "workflow c", frozenset({"t5"}))
    live.keep("d", 1, "workflow d", frozenset({"t6"}))  # the least recently kept goes
    assert not live.holds_task("t2") and not live.holds_task("t4") and "a" not in live
    assert live.take("c", 2) is None and not live.holds_task("t5")  # a stale version
    live.forget("d")
    assert not live.holds_task("t6")
