"""Routines walked through the command line, one process per command, as an operator's
script or several web processes would drive them; `tiltak verify` must find every case
clean after every step, and every routine's random walks must verify.
"""

from __future__ import annotations

import pytest
import random_walk
from command_line import FAKETIME, CommandLine, WalkedThroughCommandLine
from random_walk import Model

from engine.clock import FixedClock
from installation import services

from walks import FIXTURES, PROCESSES, walk_six_step


@pytest.fixture
def tiltak(database_url, tmp_path) -> CommandLine:
    cli = CommandLine(database_url, tmp_path)
    cli.run("demo")
    return cli


def test_the_six_step_routine_through_the_command_line_verifies_after_every_step(tiltak):
    steps: list[str] = []

    def verified(step: str, clinic: str, instance_id: str) -> None:
        tiltak.verify(instance_id)
        steps.append(f"{step} {clinic}".strip())

    instance_id = walk_six_step(tiltak, observe=verified)
    shown = tiltak.history.show(instance_id)
    assert shown["status"] == "completed"
    assert "klinikk" not in shown["data"] and "loopCounter" not in shown["data"]
    assert shown["data"]["klinikker"] == ["kir", "med"]
    assert shown["data"]["initiator"] == "frida"
    assert len(steps) == 11 and tiltak.commands > 40


def test_a_multi_instance_sign_off_through_the_command_line_verifies(tiltak):
    tiltak.run("deploy", str(FIXTURES / "signering.bpmn"))
    for name, groups in (("nina", "ansatt,leder-nord"), ("sverre", "ansatt,leder-sor"),
                         ("ida", "ansatt")):
        tiltak.run("users", "add", name, "--groups", groups)
    instance_id = tiltak.runtime.start("signering", actor="ida").id
    tiltak.verify(instance_id)
    [prepare] = tiltak.tasks.find(actor="ida", instance_id=instance_id)
    assert prepare.assignee == "ida"
    tiltak.tasks.complete(prepare.id, actor="ida", data={"notat": "klar"})
    tiltak.verify(instance_id)
    for user, answer in (("nina", True), ("sverre", False)):
        [sign] = tiltak.tasks.find(actor=user, instance_id=instance_id)
        tiltak.tasks.complete(sign.id, actor=user, data={"godkjent": answer})
        tiltak.verify(instance_id)
    data = tiltak.history.show(instance_id)["data"]
    assert data["regioner"] == ["nord", "sor"] and data["godkjent"] is False
    assert "region" not in data
    [revise] = tiltak.tasks.find(actor="ida", instance_id=instance_id)
    assert revise.element_id == "Task_Revider"


@pytest.mark.skipif(FAKETIME is None, reason="Debian's faketime is not installed")
def test_a_random_walk_of_every_routine_through_the_command_line_verifies(database_url,
                                                                           tmp_path):
    """The walker of test_random_paths, its people's commands each a `tiltak` process at
    the walk's moment, its timers (the management review's timer start too) fired by a
    new engine as a worker would."""
    clock = FixedClock()
    cli = CommandLine(database_url, tmp_path, clock)
    cli.run("demo")
    engine = services.build_engine(database_url, clock=clock)
    try:
        model = Model.of_folder(PROCESSES)
        walked = WalkedThroughCommandLine(engine, cli)
        routines = model.startable + model.timer_started
        assert "ledelsens-gjennomgang" in routines
        for seed, process in enumerate(routines, start=20261206):
            done = random_walk.walk(walked, clock, process, seed, model)
            cli.verify(done.instance_id)
        assert cli.commands > 4 * len(routines)
    finally:
        engine.db.dispose()
