"""Tiltak's own state format (tiltak-state/2): lossless, canonical, readable without
SpiffWorkflow's serializer, and clear about a state it cannot restore."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import random_walk
from test_random_paths import FIXTURE_HINTS

from engine import history, values
from engine.definitions import collect_files
from engine.history.replay import replay_steps
from engine.serialization import state_to_json
from engine.store import state_format

from walks import FIXTURES, START_DATA, walk_six_step


def restored(engine, workflow, text):
    return state_format.read(text, workflow.spec, workflow.subprocess_specs,
                             engine.core.script_engine)


def as_spiff(workflow):
    """The instance as SpiffWorkflow's serializer has it (keys in any order)."""
    return json.loads(state_to_json(workflow))


def test_every_state_of_a_six_step_case_reads_back_to_the_same_instance(deployed):
    instance_id = walk_six_step(deployed)
    steps = list(replay_steps(deployed, instance_id, deployed.history.events(instance_id)))
    assert len(steps) > 20
    keeping = state_format.Writer()  # as the replay writes: again only what changed
    for step in steps:
        assert step.problem is None
        text = state_format.write(step.workflow)
        assert keeping.write(step.workflow) == text
        # canonical: read and written again, the same text
        assert state_format._encode(state_format.decode(text)) == text
        again = restored(deployed, step.workflow, text)
        assert state_format.write(again) == text
        # nothing SpiffWorkflow's own serializer would keep is lost either
        assert as_spiff(again) == as_spiff(step.workflow), step.event.seq


def test_the_keeping_writer_writes_again_what_changed_in_place(deployed):
    """The replay's writer keeps each workflow's text and each task's entry between
    steps; a change made in place, with nothing else about the task or workflow changed,
    is written all the same (so it would fail the hash, not hide behind a kept text)."""
    instance_id = walk_six_step(deployed)
    *_, step = replay_steps(deployed, instance_id, deployed.history.events(instance_id))
    workflow = step.workflow
    keeping = state_format.Writer()
    assert keeping.write(workflow) == state_format.write(workflow)
    sub = workflow.subprocesses[next(iter(workflow.subprocesses))]
    done = [t for t in sub.tasks.values() if t.data and t.parent is not None]
    listed = next(t for t in done if any(isinstance(v, list) for v in t.data.values()))
    changes = [
        lambda: done[-1].data.update(endret=True),
        lambda: next(v for v in listed.data.values() if isinstance(v, list))
        .append({"tittel": "lagt til i ettertid"}),
        lambda: done[1].data.pop(next(iter(done[1].data))),
        lambda: done[2].internal_data.update(merket=True),
        lambda: done[0].data.update(endret="i forelderen"),  # its children's differences
        lambda: setattr(done[3], "last_state_change", done[3].last_state_change + 1),
        lambda: workflow.data.update(endret=True),
        lambda: sub.data.update(x=1),
    ]
    for change in changes:
        before = keeping.write(workflow)
        change()
        after = keeping.write(workflow)
        assert after == state_format.write(workflow)
        assert after != before


def test_events_a_gateway_has_seen_read_back_with_their_definitions(engine, clock):
    """An event-based gateway keeps the events it has seen (SpiffWorkflow's objects) in
    its task: they are stored by kind and name and get their definitions from the spec."""
    files = collect_files([str(FIXTURES / "timerformer.bpmn")])
    engine.repository.deploy(files, actor="per")
    walk = random_walk.walk(engine, clock, "timerformer", seed=20260106,
                            hints=FIXTURE_HINTS)
    assert any("message svar-mottatt" in move for move in walk.moves)
    seen = 0
    for step in replay_steps(engine, walk.instance_id, engine.history.events(walk.instance_id)):
        assert step.problem is None
        text = state_format.write(step.workflow)
        seen += text.count('"$event"')
        again = restored(engine, step.workflow, text)
        assert state_format.write(again) == text
        assert as_spiff(again) == as_spiff(step.workflow)
    assert seen


def test_the_hash_in_each_event_is_taken_over_the_state_in_this_format(deployed):
    instance_id = walk_six_step(deployed)
    for step in replay_steps(deployed, instance_id, deployed.history.events(instance_id)):
        assert step.event.state_format == state_format.FORMAT
        assert step.event.state_hash == history.sha256(state_format.write(step.workflow))


def loaded(engine):
    """A six-step case just started, as a command restores it."""
    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    with engine.db.reading() as session:
        return engine.core._load(session, instance.id, lock=False)


def test_the_document_names_tasks_by_element_and_state_by_name(deployed):
    doc = json.loads(loaded(deployed).row.state)
    assert doc["format"] == "tiltak-state/2"
    entries = doc["process"]["tasks"]
    assert {entry[2] for entry in entries} <= set(state_format.STATE_NAMES)
    assert entries[0][3] is None and all(e[3] is not None for e in entries[1:])
    assert entries[0][7]["analyse_tittel"] == START_DATA["analyse_tittel"]  # the root: whole
    assert doc["subprocesses"] and {"task", "spec", "tasks"} <= set(doc["subprocesses"][0])


def test_typed_values_keep_their_type_and_data_order_does_not_change_the_text(deployed):
    values = {"frist": date(2026, 3, 1), "meldt": datetime(2026, 1, 5, 8, 30, tzinfo=UTC),
              "belop": Decimal("1250.50"), "klinikker": {"med", "kir"},
              "varighet": timedelta(days=2, seconds=5), "liste": [1, 2.5, None, True]}
    case = loaded(deployed)
    workflow = case.workflow
    task = workflow.get_tasks()[-1]
    task.data.update(values)
    text = state_format.write(workflow)
    again = restored(deployed, workflow, text).get_task_from_id(task.id).data
    for key, value in values.items():
        assert again[key] == value and type(again[key]) is type(value), key
    task.data = dict(reversed(list(task.data.items())))  # the same data, in another order
    assert state_format.write(workflow) == text


def test_a_state_naming_an_element_the_process_lacks_is_refused_by_name(deployed):
    case = loaded(deployed)
    doc = json.loads(case.row.state)
    doc["process"]["tasks"][1][1] = "Task_Finnes_Ikke"
    with pytest.raises(ValueError, match="Task_Finnes_Ikke"):
        restored(deployed, case.workflow, json.dumps(doc))


def test_a_value_no_format_can_hold_is_refused_by_type():
    with pytest.raises(TypeError, match="complex"):
        values.encode_readable({"x": 1j})
