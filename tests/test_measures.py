"""The measure lifecycle, in Norwegian (`tiltak`) and Swedish (`atgard`), on SQLite and
PostgreSQL: the controller approves, sends back or ends a measure with a recorded
reason; an approval may set a date for evaluating the effect, and the owner evaluates
it on that date (moved clock); without a date the measure ends at the approval.

Each lifecycle is called as the routines call it: the measure as the variable `tiltak`
(tittel, beskrivelse, ansvarlig, frist, klinikk) and the clinic as `klinikk`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from random_walk import Model
from sqlalchemy import select
from test_random_paths import replay_problems, summary, walk_until_covered

from engine.definitions import collect_files
from engine.errors import InvalidInput
from engine.execution.projection import element_label
from engine.models import TaskRecord
from engine.timers import sweep

from walks import PROCESSES, at_measure, end_of_local_day, local_midnight, task_for


@dataclass(frozen=True)
class Lifecycle:
    key: str
    files: tuple[str, ...]
    do: str
    control: str
    evaluate: str
    done: str
    ended: str
    evaluated: str


LIFECYCLES = {
    "tiltak": Lifecycle("tiltak", ("tiltak.bpmn", "tiltak-kontroll.form"),
                        "Task_GjennomforTiltak", "Task_KontrollerTiltak", "Task_EvaluerEffekt",
                        "End_TiltakFerdig", "End_TiltakAvsluttet", "End_EffektEvaluert"),
    "atgard": Lifecycle("atgard", ("atgard.bpmn", "atgard-kontroll.form"),
                        "Task_GenomforAtgard", "Task_KontrolleraAtgard",
                        "Task_UtvarderaEffekt", "End_AtgardGenomford", "End_AtgardAvslutad",
                        "End_EffektUtvarderad"),
}

CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" \
xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Definitions_kaller_{key}" \
targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="kaller-{key}" name="Vedtar ett tiltak" isExecutable="true" \
camunda:candidateStarterGroups="fagavdeling">
    <bpmn:startEvent id="StartEvent_Vedtak">
      <bpmn:extensionElements>
        <camunda:formData>
          <camunda:formField id="tittel" label="Tiltak" type="string">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="ansvarlig" label="Ansvarlig" type="string">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="frist" label="Frist" type="date">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
          <camunda:formField id="klinikk" label="Klinikk" type="string">
            <camunda:validation><camunda:constraint name="required" /></camunda:validation>
          </camunda:formField>
        </camunda:formData>
      </bpmn:extensionElements>
      <bpmn:outgoing>Flow_1</bpmn:outgoing>
    </bpmn:startEvent>
    <bpmn:scriptTask id="Script_Tiltak" scriptFormat="python">
      <bpmn:incoming>Flow_1</bpmn:incoming>
      <bpmn:outgoing>Flow_2</bpmn:outgoing>
      <bpmn:script>tiltak = {{"tittel": tittel, "beskrivelse": "", "ansvarlig": ansvarlig, \
"frist": frist, "klinikk": klinikk}}</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:callActivity id="Activity_Tiltak" calledElement="{key}" \
camunda:calledElementBinding="latest">
      <bpmn:extensionElements>
        <camunda:in source="tiltak" target="tiltak" />
        <camunda:in sourceExpression="${{tiltak.klinikk}}" target="klinikk" />
      </bpmn:extensionElements>
      <bpmn:incoming>Flow_2</bpmn:incoming>
      <bpmn:outgoing>Flow_3</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="End_Vedtak"><bpmn:incoming>Flow_3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="Flow_1" sourceRef="StartEvent_Vedtak" targetRef="Script_Tiltak" />
    <bpmn:sequenceFlow id="Flow_2" sourceRef="Script_Tiltak" targetRef="Activity_Tiltak" />
    <bpmn:sequenceFlow id="Flow_3" sourceRef="Activity_Tiltak" targetRef="End_Vedtak" />
  </bpmn:process>
</bpmn:definitions>
"""

MEASURE = {"tittel": "Sepsisscreening i mottak", "ansvarlig": "ola", "frist": "2026-03-01",
           "klinikk": "kir"}
DONE = {"gjennomfort_dato": "2026-02-20",
        "gjennomfort_beskrivelse": "NEWS2 innført i mottak, alle vakter informert"}


def files_of(lifecycle: Lifecycle) -> dict[str, bytes]:
    files = collect_files([str(PROCESSES / name) for name in lifecycle.files])
    files[f"kaller-{lifecycle.key}.bpmn"] = CALLER.format(key=lifecycle.key).encode()
    return files


@pytest.fixture(params=sorted(LIFECYCLES))
def lifecycle(request, engine) -> Lifecycle:
    """The engine with one lifecycle and a process that calls it deployed."""
    chosen = LIFECYCLES[request.param]
    engine.repository.deploy(files_of(chosen), actor="per")
    return chosen


def assign(engine, lifecycle: Lifecycle) -> str:
    """A decided measure for ola in the surgical clinic; returns the caller's instance id."""
    instance = engine.runtime.start(f"kaller-{lifecycle.key}", actor="frida", data=MEASURE)
    return instance.id


def carry_out(engine, lifecycle: Lifecycle, instance_id: str):
    """Ola reports the measure done; returns the secretariat's control task."""
    task = task_for(engine, "ola", lifecycle.do, instance_id)
    engine.tasks.complete(task.id, actor="ola", data=DONE)
    return task_for(engine, "sigrid", lifecycle.control, instance_id)


def called(engine, instance_id: str, key: str) -> dict:
    [diagram] = [d for d in engine.history.progress(instance_id) if d["process_key"] == key]
    return diagram


def submitted(engine, instance_id: str, element_id: str) -> dict:
    """The values recorded by the last completion of `element_id`."""
    [*_, event] = [e for e in engine.history.events(instance_id)
                   if e.type == "complete" and e.element_id == element_id]
    return json.loads(event.data)["values"]


@pytest.mark.parametrize("no_date", [{}, {"effekt_evalueres": ""},
                                     {"effekt_evalueres": None}],
                         ids=["left-out", "empty", "null"])
def test_without_an_effect_date_the_measure_ends_at_the_approval(engine, lifecycle, no_date):
    instance_id = assign(engine, lifecycle)
    control = carry_out(engine, lifecycle, instance_id)
    assert engine.tasks.task_context(control)["gjennomfort_beskrivelse"] == \
        DONE["gjennomfort_beskrivelse"]
    engine.tasks.complete(control.id, actor="sigrid", data={"tiltak_godkjent": True, **no_date})

    shown = engine.history.show(instance_id)
    assert shown["status"] == "completed" and shown["next_timer_at"] is None
    diagram = called(engine, instance_id, lifecycle.key)
    assert lifecycle.done in diagram["completed"]
    assert {lifecycle.ended, lifecycle.evaluated, lifecycle.evaluate}.isdisjoint(
        diagram["completed"])


def test_the_owner_evaluates_the_effect_on_the_date_the_controller_set(engine, lifecycle,
                                                                        clock):
    instance_id = assign(engine, lifecycle)
    control = carry_out(engine, lifecycle, instance_id)
    engine.tasks.complete(control.id, actor="sigrid", data={
        "tiltak_godkjent": True, "effekt_evalueres": "2026-06-01",
        "kontroll_kommentar": "Godt gjennomført"})

    assert engine.tasks.find(instance_id=instance_id) == []
    row = engine.history.instance(instance_id)
    assert row.status == "running"
    assert row.next_timer_at.replace(tzinfo=UTC) == local_midnight(2026, 6, 1)
    assert lifecycle.done not in called(engine, instance_id, lifecycle.key)["completed"]

    clock.set(local_midnight(2026, 6, 1) - timedelta(minutes=1))
    sweep(engine)
    assert engine.tasks.find(instance_id=instance_id) == []
    clock.set(local_midnight(2026, 6, 1) + timedelta(seconds=1))
    sweep(engine)
    task = task_for(engine, "ola", lifecycle.evaluate, instance_id)
    assert task.assignee == "ola"
    assert task.due_at.replace(tzinfo=UTC) == end_of_local_day(2026, 6, 15)
    assert not [t for t in engine.tasks.find(actor="sigrid", instance_id=instance_id)]

    with pytest.raises(InvalidInput) as err:
        engine.tasks.complete(task.id, actor="ola", data={"effekt_oppnadd": True})
    assert "effekt_beskrivelse" in err.value.errors
    engine.tasks.complete(task.id, actor="ola", data={
        "effekt_oppnadd": False, "effekt_beskrivelse": "Fortsatt forsinkelser om natten"})

    assert engine.history.show(instance_id)["status"] == "completed"
    diagram = called(engine, instance_id, lifecycle.key)
    assert {lifecycle.done, lifecycle.evaluated} & set(diagram["completed"]) == \
        {lifecycle.evaluated}
    assert submitted(engine, instance_id, lifecycle.evaluate) == {
        "effekt_oppnadd": False, "effekt_beskrivelse": "Fortsatt forsinkelser om natten"}
    assert [e.type for e in engine.history.events(instance_id)].count("timer") == 1


def test_a_measure_is_ended_only_with_a_recorded_reason(engine, lifecycle):
    instance_id = assign(engine, lifecycle)
    control = carry_out(engine, lifecycle, instance_id)
    # first sent back with a comment, which the owner sees
    engine.tasks.complete(control.id, actor="sigrid", data={
        "tiltak_godkjent": False, "kontroll_kommentar": "Gjelder også observasjonsposten"})
    redo = task_for(engine, "ola", lifecycle.do, instance_id)
    assert engine.tasks.task_context(redo)["kontroll_kommentar"] == \
        "Gjelder også observasjonsposten"
    control = carry_out(engine, lifecycle, instance_id)
    events = len(engine.history.events(instance_id))

    for reason in ({}, {"avslutningsgrunn": ""}, {"avslutningsgrunn": None}):
        with pytest.raises(InvalidInput) as err:
            engine.tasks.complete(control.id, actor="sigrid",
                                  data={"tiltak_avsluttes": True, **reason})
        assert err.value.errors == {"avslutningsgrunn": "is required"}
        assert "avslutningsgrunn" in str(err.value)
    assert task_for(engine, "sigrid", lifecycle.control, instance_id).id == control.id
    assert len(engine.history.events(instance_id)) == events

    reason = "Dekkes av ny regional prosedyre for sepsis"
    engine.tasks.complete(control.id, actor="sigrid", data={
        "tiltak_avsluttes": True, "avslutningsgrunn": reason,
        "tiltak_godkjent": True, "effekt_evalueres": "2026-06-01"})  # ending wins
    shown = engine.history.show(instance_id)
    assert shown["status"] == "completed" and shown["next_timer_at"] is None
    diagram = called(engine, instance_id, lifecycle.key)
    assert lifecycle.ended in diagram["completed"]
    assert {lifecycle.done, lifecycle.evaluated}.isdisjoint(diagram["completed"])
    recorded = submitted(engine, instance_id, lifecycle.control)
    assert recorded["tiltak_avsluttes"] is True and recorded["avslutningsgrunn"] == reason
    assert "tiltak_godkjent" not in recorded and "effekt_evalueres" not in recorded


def test_only_carrying_out_the_measure_counts_for_the_measure_indicators(engine, lifecycle,
                                                                         clock):
    instance_id = assign(engine, lifecycle)
    control = carry_out(engine, lifecycle, instance_id)
    engine.tasks.complete(control.id, actor="sigrid",
                          data={"tiltak_godkjent": True, "effekt_evalueres": "2026-04-01"})
    clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    sweep(engine)
    task = task_for(engine, "ola", lifecycle.evaluate, instance_id)
    engine.tasks.complete(task.id, actor="ola", data={"effekt_oppnadd": True,
                                                      "effekt_beskrivelse": "Ingen forsinkelser"})
    with engine.db.transaction() as session:
        records = {(r.element_id, r.indicator, r.clinic, r.outcome) for r in session.scalars(
            select(TaskRecord).where(TaskRecord.instance_id == instance_id))}
    assert records == {(lifecycle.do, "tiltak", "kir", "completed"),
                       (lifecycle.control, None, "kir", "completed"),
                       (lifecycle.evaluate, None, "kir", "completed")}


CALLER_HINTS = {
    "ansvarlig": lambda world: world.people.writers,  # an auditor carries out no measure
    # the controller is the clinic's KPU secretariat, so a clinic where it has members
    "klinikk": lambda world: world.clinics_with("kpu-sekretariat-{}"),
}


def test_random_walks_take_every_branch_of_the_lifecycle(engine, lifecycle, clock):
    files = files_of(lifecycle)
    model = Model.of_files(files)
    assert model.startable == [f"kaller-{lifecycle.key}"]
    walks, first_taken = walk_until_covered(engine, clock, model, at_least=16, at_most=120,
                                            hints=CALLER_HINTS)
    report = summary(walks, first_taken, model, 0.0)
    assert set(first_taken) == model.branches, report
    assert {b.element for b in model.branches if b.process == lifecycle.key} >= \
        {"Timer_Paminnelse", "Timer_Eskalering"}
    evaluated = [w for w in walks if any(f"complete {lifecycle.evaluate}" in m
                                         for m in w.moves)]
    assert evaluated, report
    problems = replay_problems(engine, walks)
    assert not problems, "\n".join(problems)


def test_a_measure_task_names_the_measure_it_is_about(deployed, clock):
    """`name="Gjennomfør tiltak: ${tiltak.tittel}"`: the owner's worklist says which
    measure; an export lists the activity under one label for every case."""
    at_measure(deployed)
    [task] = deployed.tasks.find(actor="ola")
    assert task.name == "Gjennomfør tiltak: Sepsisscreening ved overflytting"
    assert element_label("Gjennomfør tiltak: ${tiltak.tittel}") == "Gjennomfør tiltak"
    assert element_label("Vurder (${a}) ") == "Vurder"
