"""Camunda 7 semantics that Modeler files rely on: a multi-instance activity reads its
collection and never writes it, its element variable and loopCounter stay inside each
instance, and what an instance submits lands in the case (the last write winning);
`camunda:initiator`; a required boolean answered with false; the element ids Start and
End. Every command runs as a new process would run it, and the case verifies after each.
"""

from __future__ import annotations

import re

import pytest
from process_per_command import ProcessPerCommand

from engine.definitions import collect_files
from engine.errors import DefinitionError, InvalidInput
from engine.identity.users import add_user

from walks import FIXTURES

SIGNERS = {"nina": ["ansatt", "leder-nord"], "sverre": ["ansatt", "leder-sor"],
           "ida": ["ansatt"]}


@pytest.fixture
def regions(engine):
    with engine.db.transaction() as session:
        for name, groups in SIGNERS.items():
            add_user(session, name, groups)
    engine.repository.deploy(collect_files([str(FIXTURES / name) for name in (
        "signering.bpmn", "signering-etter-tur.bpmn", "signering-forste.bpmn",
        "regionsvar.bpmn")]), actor="per")
    return ProcessPerCommand(engine, verify_each=True)


def only_task(engine, instance_id: str, user: str, element_id: str):
    [task] = [t for t in engine.tasks.find(actor=user, instance_id=instance_id)
              if t.element_id == element_id]
    return task


def prepared(engine, process_key: str) -> str:
    """Started by ida, who (as initiator) is the one to prepare it."""
    instance_id = engine.runtime.start(process_key, actor="ida").id
    forbered = only_task(engine, instance_id, "ida", "Task_Forbered")
    assert forbered.assignee == "ida"  # ${initiativtaker}
    engine.tasks.complete(forbered.id, actor="ida", data={"notat": "klar"})
    return instance_id


def test_each_region_signs_and_the_collection_is_left_as_it_was(regions):
    instance_id = prepared(regions, "signering")
    nord = only_task(regions, instance_id, "nina", "Task_Signer")
    sor = only_task(regions, instance_id, "sverre", "Task_Signer")
    assert (nord.candidate_groups, sor.candidate_groups) == (["leder-nord"], ["leder-sor"])
    assert regions.tasks.task_context(nord)["region"] == "nord"
    assert regions.tasks.task_context(sor)["loopCounter"] == 1

    regions.tasks.complete(sor.id, actor="sverre", data={"godkjent": True})
    running = regions.history.show(instance_id)["data"]
    assert running["regioner"] == ["nord", "sor"]
    assert "region" not in running and "loopCounter" not in running
    regions.tasks.complete(nord.id, actor="nina", data={"godkjent": True})

    shown = regions.history.show(instance_id)
    assert shown["status"] == "completed"
    assert shown["data"]["regioner"] == ["nord", "sor"]
    assert "region" not in shown["data"] and "loopCounter" not in shown["data"]
    # the form's value and the output parameter of the last instance to finish
    assert shown["data"]["godkjent"] is True
    assert shown["data"]["signert_av_region"] == "nord"
    assert shown["data"]["initiativtaker"] == "ida"
    assert regions.verified == 4  # start and three completions


def test_false_answers_a_required_boolean_and_takes_the_other_branch(regions):
    instance_id = prepared(regions, "signering")
    regions.tasks.complete(only_task(regions, instance_id, "nina", "Task_Signer").id,
                           actor="nina", data={"godkjent": True})
    sor = only_task(regions, instance_id, "sverre", "Task_Signer")
    with pytest.raises(InvalidInput, match="godkjent"):  # no value is not an answer
        regions.tasks.complete(sor.id, actor="sverre", data={})
    regions.tasks.complete(sor.id, actor="sverre", data={"godkjent": False})

    revise = only_task(regions, instance_id, "ida", "Task_Revider")
    assert revise.assignee == "ida"  # ${initiativtaker} resolves in a later task too
    assert regions.history.show(instance_id)["data"]["godkjent"] is False


def test_a_sequential_instance_sees_what_the_one_before_it_wrote(regions):
    instance_id = prepared(regions, "signering-etter-tur")
    assert [t.element_id for t in regions.tasks.find(actor="sverre", instance_id=instance_id)] == []
    first = only_task(regions, instance_id, "nina", "Task_Signer")
    assert regions.tasks.task_context(first)["loopCounter"] == 0
    regions.tasks.complete(first.id, actor="nina", data={"godkjent": False})

    second = only_task(regions, instance_id, "sverre", "Task_Signer")
    context = regions.tasks.task_context(second)
    assert (context["region"], context["loopCounter"], context["godkjent"]) == ("sor", 1, False)
    assert context["signert_av_region"] == "nord"
    regions.tasks.complete(second.id, actor="sverre", data={"godkjent": True})

    shown = regions.history.show(instance_id)
    assert shown["status"] == "completed"
    assert shown["data"]["regioner"] == ["nord", "sor"]
    assert shown["data"]["godkjent"] is True and "region" not in shown["data"]


def test_a_completion_condition_ends_the_other_instances(regions):
    instance_id = prepared(regions, "signering-forste")
    regions.tasks.complete(only_task(regions, instance_id, "sverre", "Task_Signer").id,
                           actor="sverre", data={"godkjent": True})
    shown = regions.history.show(instance_id)
    assert shown["status"] == "completed"
    assert regions.tasks.find(instance_id=instance_id) == []
    assert shown["data"]["signert_av_region"] == "sor"


def test_called_processes_get_their_own_element_and_return_their_out_mappings(regions):
    instance_id = regions.runtime.start("regionsrunde", actor="ida").id
    nord = only_task(regions, instance_id, "nina", "Task_Svar")
    sor = only_task(regions, instance_id, "sverre", "Task_Svar")
    regions.tasks.complete(nord.id, actor="nina", data={"svar": "Ja, i nord"})
    regions.tasks.complete(sor.id, actor="sverre", data={"svar": "Ja, i sør"})

    data = regions.history.show(instance_id)["data"]
    assert data["siste_svar"] == "Ja, i sør"  # camunda:out, the last instance to finish
    assert data["regioner"] == ["nord", "sor"]
    # the called processes changed their own copies of `runde`; no out mapping brings
    # it back, so the case's is untouched
    assert data["runde"] == {"tema": "Fallforebygging", "svar": []}
    assert "region" not in data and "svar" not in data


def test_elements_called_start_and_end_run_and_keep_their_ids(regions):
    instance_id = prepared(regions, "signering")
    history = regions.history.events(instance_id)
    assert history[0].type == "start"
    progress = regions.history.progress(instance_id)
    assert "Start" in progress[0]["completed"]
    for user in ("nina", "sverre"):
        regions.tasks.complete(only_task(regions, instance_id, user, "Task_Signer").id,
                               actor=user, data={"godkjent": True})
    assert "End" in regions.history.progress(instance_id)[0]["completed"]


def test_an_error_on_an_element_called_start_names_it_so(engine):
    bad = (FIXTURES / "signering.bpmn").read_bytes().replace(
        b'sourceRef="Start" targetRef="Script_Regioner"', b'sourceRef="Start" targetRef="Nowhere"')
    with pytest.raises(DefinitionError) as raised:
        engine.repository.deploy({"signering.bpmn": bad}, actor="per")
    flow = re.search(rb'id="([^"]+)" sourceRef="Start" targetRef="Nowhere"', bad).group(1)
    assert raised.value.element == flow.decode()
    assert "'Nowhere'" in str(raised.value) and "#" not in str(raised.value)


MI_PROCESS = (
    '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="D" targetNamespace="x">'
    '<bpmn:process id="mange" isExecutable="true"><bpmn:startEvent id="S"/>'
    '<bpmn:sequenceFlow id="f0" sourceRef="S" targetRef="Sett"/>'
    '<bpmn:scriptTask id="Sett" scriptFormat="python"><bpmn:script>{script}</bpmn:script>'
    '</bpmn:scriptTask><bpmn:sequenceFlow id="f1" sourceRef="Sett" targetRef="Hver"/>'
    '<bpmn:userTask id="Hver" camunda:candidateGroups="g">{loop}</bpmn:userTask>'
    '<bpmn:sequenceFlow id="f2" sourceRef="Hver" targetRef="E"/><bpmn:endEvent id="E"/>'
    '</bpmn:process></bpmn:definitions>')
CARDINALITY = ('<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality '
               'xsi:type="bpmn:tFormalExpression">${antall}</bpmn:loopCardinality>'
               '</bpmn:multiInstanceLoopCharacteristics>')
COLLECTION = ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="${liste}" '
              'camunda:elementVariable="x"/>')


@pytest.mark.parametrize(("loop", "script", "said"), [
    (CARDINALITY, "antall = 'mange'", "not a whole number"),
    (CARDINALITY, "antall = -3", "not a whole number"),
    (CARDINALITY, "antall = 100000", "at most 1000"),
    (COLLECTION, "pass", "has no value"),
    (COLLECTION, "liste = 'abc'", "is not a list"),
    (COLLECTION, "liste = list(range(999)) + [1, 2]", "at most 1000"),
])
def test_a_multi_instance_activity_fails_by_name_when_its_instances_cannot_be(
        engine, loop, script, said):
    from engine.errors import ExecutionError
    engine.repository.deploy({"mange.bpmn": MI_PROCESS.format(loop=loop, script=script).encode()})
    with pytest.raises(ExecutionError, match=said) as raised:
        engine.runtime.start("mange", actor="system")
    assert raised.value.element == "Hver"
    assert not engine.history.find_instance_ids()
