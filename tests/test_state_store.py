"""The stored state: a snapshot and deltas that give back the very text that was hashed,
while each command writes only what it changed."""

from __future__ import annotations

import json
import re
import uuid
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, func, select

from engine import history
from engine.models import HistoryEvent, InstanceState
from engine.store import states
from engine.store.prepared import Writes

from walks import START_DATA, walk_six_step

# texts shaped like states: lists of entries that open with a string, nested and not
_entry = st.lists(st.one_of(st.text(max_size=8), st.integers(), st.none()), min_size=1,
                  max_size=4).map(lambda items: [str(items[0]), *items[1:]])
_texts = st.lists(st.one_of(_entry, st.dictionaries(st.text(max_size=4), _entry, max_size=2)),
                  max_size=12).map(lambda doc: json.dumps({"tasks": doc}))


@settings(max_examples=300, deadline=None)
@given(_texts, _texts)
def test_a_delta_makes_exactly_the_new_text_of_the_old(old, new):
    ops = states.delta(states.cut(old), states.cut(new))
    made = states.applied(states.cut(old), json.loads(json.dumps(ops)))
    assert "".join(made) == new
    assert made == states.cut(new)  # the next delta is taken against the same pieces


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='[],"ab', max_size=40) | _texts)
def test_the_text_is_cut_where_the_format_says(text):
    """Before every '["' that follows '[' or ',': the stored deltas count on it."""
    assert states.cut(text) == re.split(r'(?<=[\[,])(?=\[")', text)


def test_a_delta_carries_only_the_changed_entries():
    before = json.dumps({"tasks": [[f"task-{n}", "READY", {"x": n}] for n in range(50)]},
                        separators=(",", ":"))  # as the state format writes
    after = before.replace('["task-30","READY"', '["task-30","COMPLETED"')
    ops = states.delta(states.cut(before), states.cut(after))
    literal = "".join("".join(op) for op in ops if isinstance(op[0], str))
    assert literal == '["task-30","COMPLETED",{"x":30}],'
    assert len(json.dumps(ops)) < len(after) / 20


def compact(doc) -> str:
    return json.dumps(doc, separators=(",", ":"))  # as the state format writes


def _rows(engine, instance_id):
    with engine.db.reading() as session:
        return session.execute(select(InstanceState.seq, InstanceState.snapshot,
                                      func.length(InstanceState.body))
                               .where(InstanceState.instance_id == instance_id)
                               .order_by(InstanceState.seq)).all()


def test_each_command_of_a_six_step_case_stores_a_state_that_hashes_as_its_event(deployed):
    """After every step (each command restored from the database), the stored rows are
    one snapshot and the deltas since (bounded by a few times the state), and they
    give back the text whose hash the last event holds; the finished case keeps only
    its final record, with that hash, its variables and its diagram."""
    written: list[int] = []
    wholes: list[int] = []

    @event.listens_for(deployed.db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO instance_states"):
            body = parameters[3] if isinstance(parameters, tuple) else parameters["body"]
            written.append(len(getattr(body, "obj", body)))  # psycopg wraps it in Binary

    def check(step, clinic, instance_id):
        rows = _rows(deployed, instance_id)
        assert rows[0].snapshot and not any(r.snapshot for r in rows[1:]), step
        with deployed.db.reading() as session:
            stored = states.read(session.connection(), [instance_id])[instance_id]
            last = session.scalars(select(HistoryEvent.state_hash)
                                   .where(HistoryEvent.stream == instance_id)
                                   .order_by(HistoryEvent.seq.desc()).limit(1)).one()
        if stored.final is not None:
            assert stored.final.hash == last, step
            return
        assert history.sha256(stored.text) == last, step
        whole = len(zlib.compress(stored.text.encode(), 6))
        wholes.append(whole)
        assert sum(r[2] for r in rows[1:]) <= 4 * whole, step

    instance_id = walk_six_step(deployed, observe=check)
    event.remove(deployed.db.engine, "before_cursor_execute", count)
    # what the commands wrote is far less than the whole state each time
    assert len(written) > 15
    assert sum(written) < max(wholes) * len(written) / 2, f"{written} {max(wholes)}"
    # finished: the final record alone, a fraction of the last state, and the case still
    # shows its data and its diagram from it
    rows = _rows(deployed, instance_id)
    assert [row.snapshot for row in rows] == [True]
    assert rows[0][2] < max(wholes) / 3, (rows[0][2], max(wholes))
    with deployed.db.reading() as session:
        final = states.read(session.connection(), [instance_id])[instance_id].final
        last = session.scalars(select(HistoryEvent.state_hash)
                               .where(HistoryEvent.stream == instance_id)
                               .order_by(HistoryEvent.seq.desc()).limit(1)).one()
    assert final is not None and final.hash == last
    shown = deployed.history.show(instance_id)
    assert shown["status"] == "completed"
    assert shown["data"]["analyse_tittel"] == START_DATA["analyse_tittel"]
    diagrams = deployed.history.progress(instance_id)
    assert diagrams[0]["process_key"] == "hendelsesanalyse-oppfolging"
    assert "End_HendelseLukket" in diagrams[0]["completed"]
    assert not any(d["active"] for d in diagrams)


def test_a_snapshot_is_taken_again_and_the_rows_before_it_let_go(deployed):
    """Deltas are capped in number whatever their sizes; a restore reads one snapshot
    and the deltas after it."""
    instance_id = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                         data=START_DATA).id
    base = [[f"task-{n}", "READY", uuid.uuid4().hex] for n in range(1000)]  # compresses little
    with deployed.db.transaction() as session:
        conn = session.connection()
        conn.execute(delete(InstanceState).where(InstanceState.instance_id == instance_id))
        stored = None  # from the start: a snapshot first
        for step in range(states.MAX_DELTAS + 10):
            base[step][1] = f"STATE-{step}"
            writes = Writes()
            stored = states.write(writes, instance_id, stored, compact(base))
            writes.send(conn)
    rows = _rows(deployed, instance_id)
    assert rows[0].snapshot and not any(r.snapshot for r in rows[1:])
    # a snapshot, 64 deltas, the next snapshot (the rows before it gone), 8 deltas
    assert rows[0].seq == states.MAX_DELTAS + 2 and len(rows) == 9
    assert rows[-1].seq == states.MAX_DELTAS + 10
    with deployed.db.reading() as session:
        assert states.read(session.connection(), [instance_id])[instance_id].text == \
            compact(base)
