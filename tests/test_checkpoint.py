"""Verifying again against an auditor's checkpoint: unchanged histories are not replayed,
and nothing that would have been found by a full replay is missed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import update

import engine
from engine import history
from engine.history import checkpoint
from engine.history.checkpoint import Checkpoint, CheckpointError
from engine.history.replay import _utc, verify_all
from engine.models import HistoryEvent, ProcessDefinition, ProcessInstance

from walks import at_measure, walk_six_step


@pytest.fixture
def checked(deployed, tmp_path):
    """A closed and an open six-step case, verified clean, and the checkpoint kept."""
    closed, open_ = walk_six_step(deployed), at_measure(deployed)
    verdicts = verify_all(deployed)
    assert all(v.ok and v.replayed for v in verdicts)
    checkpoint = Checkpoint.now(deployed)
    checkpoint.instances = {v.instance_id: (v.events, v.last_hash) for v in verdicts}
    path = tmp_path / "revisjon.checkpoint.json"
    checkpoint.save(path)
    return deployed, closed, open_, path


def again(engine, path):
    earlier = Checkpoint.load(path)
    assert earlier.usable_with(Checkpoint.now(engine)) is None
    return {v.instance_id: v for v in verify_all(engine, known=earlier.instances)}


def test_an_unchanged_archive_is_checked_without_replaying(checked):
    engine, closed, open_, path = checked
    verdicts = again(engine, path)
    assert verdicts[closed].ok and not verdicts[closed].replayed
    assert verdicts[open_].ok and not verdicts[open_].replayed
    assert verdicts[closed].events > 20


def test_a_case_that_went_on_is_replayed(checked):
    engine, closed, open_, path = checked
    engine.runtime.cancel(open_, actor="frida", reason="Dobbeltregistrert")
    verdicts = again(engine, path)
    assert verdicts[open_].ok and verdicts[open_].replayed
    assert not verdicts[closed].replayed


def test_an_event_changed_in_place_is_still_named(checked):
    engine, closed, _, path = checked
    target = engine.history.events(closed)[7]
    with engine.db.transaction() as session:
        session.execute(update(HistoryEvent).where(HistoryEvent.id == target.id)
                        .values(actor="mallory"))
    verdict = again(engine, path)[closed]
    assert not verdict.ok and verdict.seq == 8 and "altered" in verdict.problem


def test_a_history_rewritten_with_fresh_hashes_is_replayed_and_caught(checked):
    """Someone able to rewrite the chain changes a decision and hashes everything anew:
    the chain now ends elsewhere than the checkpoint says, so the case is replayed."""
    engine, closed, _, path = checked
    with engine.db.transaction() as session:
        rows = session.query(HistoryEvent).filter(HistoryEvent.stream == closed) \
            .order_by(HistoryEvent.seq).all()
        index = next(i for i, row in enumerate(rows) if row.element_id == "Task_KpuBehandling")
        rows[index].data = rows[index].data.replace("KPU støtter tiltakene", "KPU avviser")
        previous = rows[index - 1].hash
        for row in rows[index:]:
            row.prev_hash = previous
            row.hash = history.event_hash(row.stream, row.seq, row.type, row.actor,
                                          _utc(row.at), row.element_id, row.task_id,
                                          row.data, row.state_hash, row.prev_hash,
                                          row.state_format, row.engine_version)
            previous = row.hash
        session.get(ProcessInstance, closed).last_hash = previous
    verdict = again(engine, path)[closed]
    assert verdict.replayed and not verdict.ok and verdict.seq == index + 1
    assert "different state" in verdict.problem


def test_a_changed_definition_or_engine_sets_the_checkpoint_aside(checked):
    engine, _, _, path = checked
    earlier = Checkpoint.load(path)
    assert "engine has changed" in earlier.usable_with(
        Checkpoint("another engine", Checkpoint.now(engine).definitions))
    with engine.db.transaction() as session:
        definition = session.query(ProcessDefinition).first()
        definition.spec += " "  # the same meaning, but not the same text
        changed = definition.id
    assert f"definition {changed} has changed" in earlier.usable_with(Checkpoint.now(engine))


def test_a_file_that_is_no_checkpoint_is_refused_and_left_alone(checked, tmp_path):
    _, _, _, path = checked
    for text in ("{not json", json.dumps({"format": "noe annet"}),
                 json.dumps({"format": "tiltak-verify-checkpoint/1", "engine": "x"})):
        broken = tmp_path / "broken.json"
        broken.write_text(text)
        with pytest.raises(CheckpointError, match="broken.json"):
            Checkpoint.load(broken)
        assert broken.read_text() == text


def test_the_engine_fingerprint_covers_every_room_of_the_engine(tmp_path, monkeypatch):
    assert checkpoint.ENGINE_DIR == Path(engine.__file__).resolve().parent
    copy = tmp_path / "engine"
    shutil.copytree(checkpoint.ENGINE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(checkpoint, "ENGINE_DIR", copy)
    before = checkpoint.engine_fingerprint()
    for room in ("execution/walking.py", "model/expressions.py", "store/state_format.py",
                 "core.py"):
        with (copy / room).open("a", encoding="utf-8") as module:
            module.write("\n# changed\n")
        after = checkpoint.engine_fingerprint()
        assert after != before, f"a change to engine/{room} leaves the fingerprint alone"
        before = after
