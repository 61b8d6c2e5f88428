"""Histories recorded by earlier versions of the engine still verify.

An auditor verifies an archive years after it was written, with whatever version of
Tiltak runs then; so the engine must go on producing exactly the states it recorded:
the same tasks, ids, timestamps and data after every command, hence the same state
hashes. These tests walk the routines in processes/ along fixed paths (the six-step
routine as its users work it, and a seeded random walk of every startable process) with
fixed instance ids and clock, and compare the state hash of every event with the hashes
recorded in tests/fixtures/recorded-states.json by an earlier version, the states
written in the format the fixture names. (The engine that first wrote tiltak-state/2
passed this test against the tiltak-state/1 hashes recorded before it; the fixture was
recorded again, in tiltak-state/2, when the walks stopped letting auditors work on
tasks, which the engine now refuses.)

A change to a process file gives other states by design; the fixture holds a digest of
processes/ and says so. After such a change, record again with
`TILTAK_RECORD_STATES=1 pytest tests/test_recorded_states.py` and commit the fixture
together with the process change. An engine change that gives other states breaks
every archive written before it: record again only to correct wrong behaviour, and say
in docs/DESIGN.md which cases it touches.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest
import random_walk
from random_walk import Model, World

from engine.history import STATE_FORMAT, sha256
from engine.history.replay import replay_steps
from engine.history.state_writer import StateWriter
from engine.serialization import LEGACY_FORMAT
from engine.store import state_format

from walks import PROCESSES, walk_six_step

FIXTURE = Path(__file__).parent / "fixtures" / "recorded-states.json"
ID_SPACE = uuid.UUID("0e7d3f52-2b1a-4c55-8f0e-6b9d1c2a4e30")
FIRST_SEED = 20261130
RECORDING = os.environ.get("TILTAK_RECORD_STATES") == "1"


def processes_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in PROCESSES.rglob("*") if p.is_file()):
        digest.update(path.relative_to(PROCESSES).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fixed_ids(engine) -> None:
    """Instance ids that follow from the order the instances are started in."""
    count = iter(range(1, 10_000))
    engine.new_id = lambda: str(uuid.uuid5(ID_SPACE, f"recorded/{next(count)}"))


# a new writer of each format for each instance (the legacy one keeps what it wrote)
WRITERS = {LEGACY_FORMAT: lambda: StateWriter().write,
           state_format.FORMAT: lambda: state_format.write}


def recorded(engine, instance_id: str, written_in: str) -> list[list]:
    """The instance's events (seq, type, hash of the state after each), the states
    written in the format the fixture was recorded in: replayed, since the engine writes
    today's format. (The replay holds every state to the hash its event recorded, so these
    are the engine's own states.)"""
    write = WRITERS[written_in]()
    found = []
    for step in replay_steps(engine, instance_id, engine.history.events(instance_id)):
        assert step.problem is None, f"event {step.event.seq}: {step.problem}"
        found.append([step.event.seq, step.event.type, sha256(write(step.workflow))])
    return found


def walked(engine, clock, written_in: str) -> dict[str, list[list]]:
    """Every walk's events (seq, type, state hash), by the walk's name."""
    fixed_ids(engine)
    walks = {"six-step": recorded(engine, walk_six_step(engine), written_in)}
    model, world = Model.of_folder(PROCESSES), World.demo()
    for seed, process in enumerate(model.startable, FIRST_SEED):
        walk = random_walk.walk(engine, clock, process, seed, model, world)
        walks[f"{process} (seed {seed})"] = recorded(engine, walk.instance_id, written_in)
    return walks


def as_fixture(digest: str, walks: dict[str, list[list]]) -> str:
    """The fixture's text: JSON, one event a line."""
    parts = [f'{{"processes": {json.dumps(digest)},\n "format": {json.dumps(STATE_FORMAT)},'
             '\n "walks": {']
    for i, (name, events) in enumerate(walks.items()):
        lines = ",\n  ".join(json.dumps(event) for event in events)
        parts.append(f'{"," if i else ""}\n {json.dumps(name)}: [\n  {lines}]')
    return "".join(parts) + "}}\n"


def test_the_engine_records_the_states_earlier_versions_recorded(deployed, clock):
    if RECORDING:
        walks = walked(deployed, clock, STATE_FORMAT)
        FIXTURE.write_text(as_fixture(processes_digest(), walks))
        pytest.skip(f"recorded {sum(map(len, walks.values()))} events in {FIXTURE.name}")
    fixture = json.loads(FIXTURE.read_text())
    walks = walked(deployed, clock, fixture.get("format", LEGACY_FORMAT))
    assert fixture["processes"] == processes_digest(), \
        "the files in processes/ changed since the states were recorded: record again " \
        "(see this module's docstring), in the same commit as the process change"
    assert list(walks) == list(fixture["walks"]), "the walks are not the recorded ones"
    for name, events in walks.items():
        before = fixture["walks"][name]
        for now, then in zip(events, before, strict=False):
            assert now == then, \
                f"{name}: event {then[0]} ({then[1]}) leads to another state than it did " \
                f"when recorded ({now[2][:12]}... instead of {then[2][:12]}...)"
        assert len(events) == len(before), \
            f"{name}: {len(events)} events where {len(before)} were recorded"

