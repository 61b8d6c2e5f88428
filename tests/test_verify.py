"""`tiltak verify`: an untouched history verifies clean; any single change is found."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from engine import history
from engine.history.replay import verify_all, verify_instance
from engine.models import HistoryEvent
from engine.timers import sweep

from walks import at_measure, walk_six_step


@pytest.fixture
def walked(deployed, clock):
    """A closed six-step case, and an open one whose measure was reminded and escalated."""
    closed = walk_six_step(deployed)
    reminded = at_measure(deployed)
    clock.set(datetime(2026, 2, 22, 0, 0, 1, tzinfo=UTC))
    sweep(deployed)
    clock.set(datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC))
    sweep(deployed)
    return deployed, closed, reminded


def events(engine, instance_id):
    with engine.db.transaction() as session:
        return history.events_of(session, instance_id)


def test_an_untouched_history_verifies_clean(walked):
    engine, closed, reminded = walked
    verdicts = verify_all(engine)
    # every instance, also those other routines' timers started meanwhile
    assert {closed, reminded} <= {v.instance_id for v in verdicts}
    assert all(v.ok for v in verdicts), [v.as_dict() for v in verdicts]
    assert verify_instance(engine, closed).events > 20
    assert "timer" in [e.type for e in events(engine, reminded)]


def tamper(engine, statement) -> None:
    with engine.db.transaction() as session:
        session.execute(statement)


def test_a_changed_event_is_named(walked):
    engine, closed, _ = walked
    target = events(engine, closed)[5]
    tamper(engine, update(HistoryEvent).where(HistoryEvent.id == target.id)
           .values(actor="mallory"))
    verdict = verify_instance(engine, closed)
    assert not verdict.ok and verdict.seq == 6 and "altered" in verdict.problem


def test_a_deleted_event_is_named(walked):
    engine, closed, _ = walked
    target = events(engine, closed)[3]
    tamper(engine, delete(HistoryEvent).where(HistoryEvent.id == target.id))
    verdict = verify_instance(engine, closed)
    assert not verdict.ok and verdict.seq == 4 and "missing" in verdict.problem


def test_a_removed_last_event_is_found(walked):
    engine, closed, _ = walked
    target = events(engine, closed)[-1]
    tamper(engine, delete(HistoryEvent).where(HistoryEvent.id == target.id))
    verdict = verify_instance(engine, closed)
    assert not verdict.ok and "removed at the end" in verdict.problem


def test_reordered_events_are_found(walked):
    engine, closed, _ = walked
    first, second = events(engine, closed)[7:9]
    tamper(engine, update(HistoryEvent).where(HistoryEvent.id == first.id).values(seq=-1))
    tamper(engine, update(HistoryEvent).where(HistoryEvent.id == second.id).values(seq=8))
    tamper(engine, update(HistoryEvent).where(HistoryEvent.id == first.id).values(seq=9))
    verdict = verify_instance(engine, closed)
    assert not verdict.ok and verdict.seq == 8


def test_a_history_rewritten_with_fresh_hashes_is_caught_by_replay(walked):
    """Someone changes what a KPU decided and recomputes every hash after it."""
    engine, closed, _ = walked
    chain = events(engine, closed)
    index = next(i for i, e in enumerate(chain) if e.element_id == "Task_KpuBehandling")
    def overruled(row):
        if row.seq == index + 1:
            data = json.loads(row.data)
            data["values"]["kpu_innspill"] = "KPU avviser tiltakene"
            row.data = json.dumps(data, sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False)
    rewrite_chain(engine, closed, overruled)
    verdict = verify_instance(engine, closed)
    assert not verdict.ok and verdict.seq == index + 1
    assert "different state" in verdict.problem


def rewrite_chain(engine, instance_id, change) -> None:
    """Apply `change(row)` to every event of the instance and give the chain hashes that
    match, as a writer of the database could."""
    from engine.models import ProcessInstance
    with engine.db.transaction() as session:
        rows = session.scalars(select(HistoryEvent).where(HistoryEvent.stream == instance_id)
                               .order_by(HistoryEvent.seq)).all()
        previous = history.GENESIS
        for row in rows:
            change(row)
            row.prev_hash = previous
            row.hash = history.event_hash(row.stream, row.seq, row.type, row.actor,
                                          row.at if row.at.tzinfo else row.at.replace(tzinfo=UTC),
                                          row.element_id, row.task_id, row.data,
                                          row.state_hash, row.prev_hash,
                                          row.state_format, row.engine_version)
            previous = row.hash
        session.get(ProcessInstance, instance_id).last_hash = previous


def test_every_event_names_the_state_format_and_the_engine_that_wrote_it(walked):
    engine, closed, _ = walked
    chain = events(engine, closed)
    assert {(e.state_format, e.engine_version) for e in chain} == \
        {(history.STATE_FORMAT, history.ENGINE_VERSION)}


def test_a_history_from_an_engine_this_version_cannot_replay_says_so(walked):
    engine, closed, _ = walked

    def later(row):
        if row.seq >= 3:
            row.engine_version = "tiltak-engine/9.0"
    rewrite_chain(engine, closed, later)
    verdict = verify_instance(engine, closed)
    assert not verdict.ok and verdict.seq == 3
    assert "tiltak-engine/9.0" in verdict.problem and "cannot replay" in verdict.problem
