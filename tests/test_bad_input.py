"""Bad input gets a clear error that says what and where, and changes nothing."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.clock import zone
from engine.definitions import collect_files
from engine.errors import (
    Conflict,
    DefinitionError,
    ExecutionError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    TaskNotOpen,
)
from engine.history.replay import verify_all
from engine.models import HistoryEvent, ProcessDefinition, ProcessInstance

from walks import PROCESSES, START_DATA, task_for

BPMN_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
             'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="Defs" '
             'targetNamespace="http://bpmn.io/schema/bpmn">')


def process(body: str, key: str = "prosess") -> bytes:
    return (f'{BPMN_HEAD}<bpmn:process id="{key}" isExecutable="true">{body}'
            '</bpmn:process></bpmn:definitions>').encode()


SCRIPT = ('<bpmn:startEvent id="StartEvent_1"/><bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" '
          'targetRef="Script_Beregn"/><bpmn:scriptTask id="Script_Beregn" scriptFormat="{fmt}">'
          '<bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'
          '<bpmn:sequenceFlow id="F2" sourceRef="Script_Beregn" targetRef="End_1"/>'
          '<bpmn:endEvent id="End_1"/>')


SERVICE = ('<bpmn:startEvent id="StartEvent_1"/><bpmn:sequenceFlow id="F1" '
           'sourceRef="StartEvent_1" targetRef="Service_Tid"/>'
           '<bpmn:serviceTask id="Service_Tid" {attrs}/><bpmn:sequenceFlow id="F2" '
           'sourceRef="Service_Tid" targetRef="Task_Se"/><bpmn:userTask id="Task_Se" '
           'camunda:candidateGroups="ansatt"/><bpmn:sequenceFlow id="F3" '
           'sourceRef="Task_Se" targetRef="End_1"/><bpmn:endEvent id="End_1"/>')


def test_a_service_task_expression_stores_its_value_in_the_result_variable(engine, clock):
    """Camunda 7's `camunda:expression` with `camunda:resultVariable`: evaluated at the
    command's moment, kept as a process variable, and replayed to the same value."""
    started_by_staff = process(SERVICE.format(
        attrs='camunda:expression="${dateTime().plusDays(1).toString()}" '
              'camunda:resultVariable="frist_fra"')).replace(
        b'isExecutable="true"', b'isExecutable="true" camunda:candidateStarterGroups="ansatt"')
    engine.repository.deploy({"tid.bpmn": started_by_staff}, actor="per")
    row = engine.runtime.start("prosess", actor="per")
    expected = (clock.now().astimezone(zone()) + timedelta(days=1)).isoformat()
    assert engine.history.show(row.id)["data"]["frist_fra"] == expected
    assert all(v.ok for v in verify_all(engine))


def count(engine, model) -> int:
    with engine.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("name, content, message", [
    ("brutt.bpmn", BPMN_HEAD.encode() + b"<bpmn:process id='p'>", "brutt.bpmn"),
    ("xxe.bpmn", b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                 + BPMN_HEAD.split("\n", 1)[1].encode() + b"&x;</bpmn:definitions>",
     "document type"),
    ("latter.bpmn", b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "ha">'
                    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;</l>', "document type"),
    ("js.bpmn", process(SCRIPT.format(fmt="javascript", script="x = 1")), "javascript"),
    ("import.bpmn", process(SCRIPT.format(fmt="python", script="import os")), "Script_Beregn"),
    ("feil-uttrykk.bpmn", process(
        '<bpmn:startEvent id="StartEvent_1"/><bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" '
        'targetRef="Task_A"/><bpmn:userTask id="Task_A" camunda:assignee="${tiltak.}"/>'
        '<bpmn:sequenceFlow id="F2" sourceRef="Task_A" targetRef="End_A"/>'
        '<bpmn:endEvent id="End_A"/>'),
     "Task_A"),
    ("ikke-bpmn.bpmn", b"<html><body>nei</body></html>", "not a BPMN 2.0 file"),
    ("feil-navn.bpmn", process(
        '<bpmn:startEvent id="StartEvent_1"/><bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" '
        'targetRef="Task_A"/><bpmn:userTask id="Task_A" name="Gjør ${tiltak.}"/>'
        '<bpmn:sequenceFlow id="F2" sourceRef="Task_A" targetRef="End_A"/>'
        '<bpmn:endEvent id="End_A"/>'),
     "Task_A"),
    ("uten-resultat.bpmn", process(SERVICE.format(attrs='camunda:expression="${now()}"')),
     "'Service_Tid': a service task with camunda:expression needs camunda:resultVariable"),
    ("java-klasse.bpmn", process(SERVICE.format(attrs='camunda:class="no.sykehus.Varsle"')),
     "or with camunda:expression and camunda:resultVariable"),
    ("feil-i-service.bpmn", process(SERVICE.format(
        attrs='camunda:expression="${dateTime(}" camunda:resultVariable="t"')), "Service_Tid"),
    ("to-like.bpmn", process(SCRIPT.format(fmt="python", script="x = 1").replace(
        'id="End_1"', 'id="Script_Beregn"').replace('targetRef="End_1"',
                                                    'targetRef="Script_Beregn"')),
     "element 'Script_Beregn': the id 'Script_Beregn' is used by 2 elements"),
])
def test_a_bad_definition_is_refused_with_file_and_element(engine, name, content, message):
    with pytest.raises(DefinitionError) as err:
        engine.repository.deploy({name: content}, actor="per")
    assert message in str(err.value)
    assert name in str(err.value)
    assert count(engine, ProcessDefinition) == 0


def test_two_tasks_may_show_the_same_variable_in_their_forms(engine):
    """A form field's id names a variable, not an element: Camunda Modeler lets a second
    task's form show it again, and such a file deploys and runs."""
    field = ('<bpmn:extensionElements><camunda:formData><camunda:formField id="tittel" '
             'label="Tittel" type="string" /></camunda:formData></bpmn:extensionElements>')
    engine.repository.deploy({"to-skjema.bpmn": process(
        '<bpmn:startEvent id="StartEvent_1"/><bpmn:sequenceFlow id="F1" '
        'sourceRef="StartEvent_1" targetRef="Task_A"/>'
        f'<bpmn:userTask id="Task_A" camunda:candidateUsers="per">{field}</bpmn:userTask>'
        '<bpmn:sequenceFlow id="F2" sourceRef="Task_A" targetRef="Task_B"/>'
        f'<bpmn:userTask id="Task_B" camunda:candidateUsers="per">{field}</bpmn:userTask>'
        '<bpmn:sequenceFlow id="F3" sourceRef="Task_B" targetRef="End_1"/>'
        '<bpmn:endEvent id="End_1"/>').replace(
        b'isExecutable="true"', b'isExecutable="true" camunda:candidateStarterGroups="ansatt"'
    )}, actor="per")
    instance = engine.runtime.start("prosess", actor="per")
    for title in ("Første", "Andre"):
        [task] = engine.tasks.find(actor="per")
        engine.tasks.complete(task.id, actor="per", data={"tittel": title})
    assert engine.history.show(instance.id)["data"]["tittel"] == "Andre"


def test_the_line_of_a_syntax_error_is_named(engine):
    content = BPMN_HEAD.encode() + b"\n\n<bpmn:process id='p'>\n</bpmn:proces>"
    with pytest.raises(DefinitionError) as err:
        engine.repository.deploy({"linje.bpmn": content}, actor="per")
    assert err.value.line == 5


def test_an_unknown_process_key_lists_what_is_deployed(deployed):
    with pytest.raises(NotFound) as err:
        deployed.runtime.start("hendelsesanalyse", actor="frida", data=START_DATA)
    assert "hendelsesanalyse-oppfolging" in str(err.value)
    assert count(deployed, ProcessInstance) == 0


def test_a_missing_called_process_is_named_and_nothing_starts(engine):
    files = collect_files([str(PROCESSES / "hendelsesanalyse-oppfolging.bpmn"),
                           str(PROCESSES / "dokumentasjon.form")])
    engine.repository.deploy(files, actor="per")
    with pytest.raises(NotFound) as err:
        engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    assert "klinikk-oppfolging" in str(err.value) and "not deployed" in str(err.value)
    assert count(engine, ProcessInstance) == 0


def test_redeploying_identical_files_is_a_no_op_and_a_change_is_a_new_version(deployed):
    files = collect_files([str(PROCESSES)])
    again = deployed.repository.deploy(files, actor="per")
    assert not any(d.created for d in again)
    [name] = [n for n in files if n.endswith("tiltak.bpmn") and "/" in n]
    changed = {name: files[name].replace(
        b"Gjennomf\xc3\xb8r tiltak: ", b"Gjennomf\xc3\xb8r det vedtatte tiltaket: ")}
    [result] = deployed.repository.deploy(changed, actor="per")
    assert (result.key, result.version, result.created) == ("tiltak", 2, True)


@pytest.fixture
def at_kpu(deployed):
    """One clinic's instance waiting at step 3 (KPU review)."""
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
        {"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3})
    return instance, task_for(deployed, "kari", "Task_KpuBehandling", instance.id)


@pytest.mark.parametrize("data, field, message", [
    ({"kpu_motedato": "10.02.2026", "kpu_innspill": "OK"}, "kpu_motedato", "date"),
    ({"kpu_motedato": "2026-02-10", "kpu_innspill": ""}, "kpu_innspill", "required"),
    ({"kpu_motedato": "2026-02-10", "kpu_innspill": "OK", "kpu_slutter_seg_til": "kanskje"},
     "kpu_slutter_seg_til", "boolean"),
    ({"kpu_motedato": "2026-02-10", "kpu_innspill": "OK", "skjult": 1}, "skjult", "unknown"),
])
def test_a_wrong_form_value_is_refused_at_its_field(deployed, at_kpu, data, field, message):
    instance, task = at_kpu
    events = len(deployed.history.events(instance.id))
    with pytest.raises(InvalidInput) as err:
        deployed.tasks.complete(task.id, actor="kari", data=data)
    assert field in err.value.errors
    assert message in err.value.errors[field].lower()
    assert len(deployed.history.events(instance.id)) == events
    assert task_for(deployed, "kari", "Task_KpuBehandling", instance.id).id == task.id


def test_values_out_of_range_are_refused_all_at_once(deployed):
    with pytest.raises(InvalidInput) as err:
        deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=dict(
            START_DATA, analyse_tittel="x" * 201, klinikker=["kir", "tannlege"]))
    assert "200" in err.value.errors["analyse_tittel"]
    assert "tannlege" in err.value.errors["klinikker"]
    assert count(deployed, ProcessInstance) == 0


def test_rows_cannot_be_added_where_the_form_fixes_them(deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    with pytest.raises(InvalidInput) as err:
        deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
            {"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 4})
    assert "tiltak_vurdering" in err.value.errors


def test_only_candidates_may_claim_or_complete(deployed, at_kpu):
    instance, task = at_kpu
    for outsider in ("henrik", "frida", "rita"):
        with pytest.raises(PermissionDenied) as err:
            deployed.tasks.complete(task.id, actor=outsider,
                                    data={"kpu_motedato": "2026-02-10", "kpu_innspill": "OK"})
        assert outsider in str(err.value)
        with pytest.raises(PermissionDenied):
            deployed.tasks.claim(task.id, actor=outsider)
    with pytest.raises(NotFound):
        deployed.tasks.complete(task.id, actor="ukjent-bruker", data={})
    deployed.tasks.claim(task.id, actor="kari")
    assert [t.assignee for t in deployed.tasks.find(instance_id=instance.id)] == ["kari"]


def test_a_task_completed_twice_says_by_whom(deployed, at_kpu):
    instance, task = at_kpu
    deployed.tasks.complete(task.id, actor="kari",
                            data={"kpu_motedato": "2026-02-10", "kpu_innspill": "OK"})
    events = len(deployed.history.events(instance.id))
    with pytest.raises(TaskNotOpen) as err:
        deployed.tasks.complete(task.id, actor="kari",
                                data={"kpu_motedato": "2026-02-11", "kpu_innspill": "Igjen"})
    assert "already completed by kari" in str(err.value)
    assert len(deployed.history.events(instance.id)) == events


def test_two_writers_racing_on_one_task_one_wins_and_nothing_is_lost(deployed, at_kpu):
    instance, task = at_kpu
    results: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def worker(name: str, innspill: str) -> None:
        barrier.wait()
        try:
            deployed.tasks.complete(task.id, actor="kari",
                                    data={"kpu_motedato": "2026-02-10", "kpu_innspill": innspill})
            results[name] = "ok"
        except Conflict as err:
            results[name] = err

    threads = [threading.Thread(target=worker, args=(n, n)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [n for n, r in results.items() if r == "ok"]
    assert len(winners) == 1, results
    loser = next(r for r in results.values() if r != "ok")
    assert isinstance(loser, Conflict)
    # in the subprocess
    assert deployed.history.show(instance.id)["data"].get("kpu_innspill") is None
    completes = [e for e in deployed.history.events(instance.id) if e.type == "complete"]
    assert [json.loads(e.data)["values"]["kpu_innspill"] for e in completes[-1:]] == winners
    assert_chain_intact(deployed, instance.id)


def test_a_stale_writer_gets_a_conflict_not_an_overwrite(deployed, at_kpu):
    instance, task = at_kpu
    with deployed.db.transaction() as session:
        stale_row = session.get(ProcessInstance, instance.id)  # read, as a browser tab would
    deployed.tasks.complete(task.id, actor="kari",
                            data={"kpu_motedato": "2026-02-10", "kpu_innspill": "OK"})
    stale_row.status = "error"
    with pytest.raises(Conflict):
        with deployed.db.transaction() as session:
            session.merge(stale_row)
    assert deployed.history.show(instance.id)["status"] == "running"
    assert_chain_intact(deployed, instance.id)


def assert_chain_intact(engine, instance_id: str) -> None:
    with engine.db.transaction() as session:
        events = session.scalars(select(HistoryEvent).where(HistoryEvent.stream == instance_id)
                                 .order_by(HistoryEvent.seq)).all()
        assert [e.seq for e in events] == list(range(1, len(events) + 1))
        for before, after in zip(events, events[1:], strict=False):
            assert after.prev_hash == before.hash


def test_a_task_the_process_assigned_cannot_be_dropped_into_nobodys_hands(deployed):
    from walks import at_measure
    instance_id = at_measure(deployed)
    task = task_for(deployed, "ola", "Task_GjennomforTiltak", instance_id)
    with pytest.raises(PermissionDenied, match="assigned to ola by the process"):
        deployed.tasks.unclaim(task.id, actor="ola")
    assert task_for(deployed, "ola", "Task_GjennomforTiltak", instance_id).assignee == "ola"


def test_only_the_starter_and_process_owners_may_cancel_a_case(deployed):
    first = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    second = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    for outsider in ("sigrid", "rita"):
        with pytest.raises(PermissionDenied, match="may not cancel|auditors read"):
            deployed.runtime.cancel(first.id, actor=outsider)
    assert deployed.history.instance(first.id).status == "running"
    assert deployed.runtime.cancel(first.id, actor="frida").status == "cancelled"
    assert deployed.runtime.cancel(second.id, actor="per", reason="registrert to ganger").status \
        == "cancelled"


CONTEXT = ('<bpmn:startEvent id="StartEvent_1"><bpmn:extensionElements><camunda:properties>'
           '<camunda:property name="kontekst" value="{names}"/></camunda:properties>'
           '</bpmn:extensionElements></bpmn:startEvent>'
           '<bpmn:sequenceFlow id="F1" sourceRef="StartEvent_1" targetRef="Task_Se"/>'
           '<bpmn:userTask id="Task_Se" camunda:candidateGroups="ansatt"/>'
           '<bpmn:sequenceFlow id="F2" sourceRef="Task_Se" targetRef="End_1"/>'
           '<bpmn:endEvent id="End_1"/>')


def test_a_case_asking_for_context_the_installation_lacks_names_it_and_does_not_start(engine):
    """The start event's property `kontekst` names context variables (the organisation's
    lists) a case starts with; one that is not there is named, and nothing starts."""
    body = CONTEXT.format(names="klinikval regionsdata")
    engine.repository.deploy({"kontekst.bpmn": process(body, "kontekst").replace(
        b'isExecutable="true"', b'isExecutable="true" camunda:candidateStarterGroups="ansatt"')},
        actor="per")
    with pytest.raises(ExecutionError) as refused:
        engine.runtime.start("kontekst", actor="nora")
    assert "regionsdata" in str(refused.value) and "klinikval" not in \
        str(refused.value).split(":")[-1]
    assert count(engine, ProcessInstance) == 0

    body = CONTEXT.format(names="klinikval")
    engine.repository.deploy({"kontekst.bpmn": process(body, "kontekst").replace(
        b'isExecutable="true"', b'isExecutable="true" camunda:candidateStarterGroups="ansatt"')},
        actor="per")
    row = engine.runtime.start("kontekst", actor="nora")
    assert engine.history.show(row.id)["data"]["klinikval"] == \
        engine.context_variables()["klinikval"]
