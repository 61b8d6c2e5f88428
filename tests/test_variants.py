"""Step 6 of routine I.5.2.4-18 as a contract: a clinic may adapt its part of the routine,
but not how the clinics deal with each other. A variant that drops or redirects the
exchange of KPU minutes is refused at deploy; one that keeps it exchanges minutes with
a clinic on the default routine."""

from __future__ import annotations

import re

import pytest

from engine.definitions import latest_definition
from engine.errors import DefinitionError

from walks import FIXTURES, KPU, SECRETARIAT, START_DATA, review_rows, task_for

VARIANT = (FIXTURES / "klinikk-oppfolging-kir.bpmn").read_text(encoding="utf-8")


def deploy_variant(engine, text: str):
    return engine.repository.deploy({"klinikk-oppfolging-kir.bpmn": text.encode("utf-8")},
                                    actor="per",
                         tenant="kir")


def without_receiving_minutes(text: str) -> str:
    """The variant with the other clinics' "receive minutes" task taken out and the flow
    going straight on: a valid diagram that cuts the other clinics off."""
    text = re.sub(r'\s*<bpmn:userTask id="Task_MottaReferat".*?</bpmn:userTask>', "", text,
                  flags=re.S)
    text = re.sub(r'\s*<bpmn:sequenceFlow id="Flow_0p8n1ye"[^>]*/>', "", text)
    text = text.replace('targetRef="Task_MottaReferat"', 'targetRef="Gateway_Samle"')
    text = text.replace("<bpmn:incoming>Flow_0p8n1ye</bpmn:incoming>", "")
    text = re.sub(r'\s*<bpmndi:BPMNShape id="Task_MottaReferat_di".*?</bpmndi:BPMNShape>', "",
                  text, flags=re.S)
    return re.sub(r'\s*<bpmndi:BPMNEdge id="Flow_0p8n1ye_di".*?</bpmndi:BPMNEdge>', "", text,
                  flags=re.S)


@pytest.mark.parametrize(("change", "said"), [
    (without_receiving_minutes, "element 'Task_MottaReferat' (userTask) is missing"),
    (lambda text: text.replace('camunda:candidateGroups="${mottaker}"',
                               'camunda:candidateGroups="kpu-sekretariat-${klinikk}"'),
     "has candidateGroups 'kpu-sekretariat-${klinikk}', the default has '${mottaker}'"),
    (lambda text: text.replace('for k in klinikker if k != klinikk]',
                               'for k in [] if k != klinikk]'),
     "'Script_Fordel' has a script"),
    (lambda text: re.sub(r'<camunda:formField id="kpu_referat".*?</camunda:formField>',
                         '<camunda:formField id="notat" type="string" />', text, flags=re.S),
     "'Task_SendReferat' has form fields"),
])
def test_a_variant_that_changes_how_the_clinics_exchange_minutes_is_refused(deployed, change,
                                                                            said):
    changed = change(VARIANT)
    assert changed != VARIANT
    with pytest.raises(DefinitionError) as refused:
        deploy_variant(deployed, changed)
    assert said in str(refused.value)
    assert "klinikk-oppfolging-kir.bpmn" in str(refused.value)
    with deployed.db.reading() as session:  # nothing of it was kept
        assert latest_definition(session, "klinikk-oppfolging", "kir") is None


def test_a_variant_exchanges_minutes_with_a_clinic_on_the_default_routine(deployed):
    engine = deployed
    [variant] = deploy_variant(engine, VARIANT)
    assert variant.created
    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                    data=dict(START_DATA, klinikker=["kir", "med"]))
    for clinic in ("kir", "med"):
        task = task_for(engine, SECRETARIAT[clinic], "Task_VurderTiltak", instance.id)
        engine.tasks.complete(task.id, actor=SECRETARIAT[clinic],
                              data={"tiltak_vurdering": review_rows(clinic)})
    risk = task_for(engine, SECRETARIAT["kir"], "Task_Risikovurdering", instance.id)
    engine.tasks.complete(risk.id, actor=SECRETARIAT["kir"], data={"risiko_vurdert": True})
    for clinic in ("kir", "med"):  # step 3 and 4 in each clinic, the variant's and not
        task = task_for(engine, KPU[clinic], "Task_KpuBehandling", instance.id)
        engine.tasks.complete(task.id, actor=KPU[clinic], data={
            "kpu_motedato": "2026-02-10", "kpu_innspill": "KPU støtter tiltakene",
            "kpu_slutter_seg_til": True})
        task = task_for(engine, SECRETARIAT[clinic], "Task_SendReferat", instance.id)
        engine.tasks.complete(task.id, actor=SECRETARIAT[clinic],
                              data={"kpu_referat": f"Referat fra KPU {clinic}"})
    received = {}
    for clinic in ("kir", "med"):
        [task] = [t for t in engine.tasks.find(actor=SECRETARIAT[clinic], instance_id=instance.id)
                  if t.element_id == "Task_MottaReferat"]
        received[clinic] = engine.tasks.task_context(task)["kpu_referat"]
        engine.tasks.complete(task.id, actor=SECRETARIAT[clinic], data={"referat_kvittert": True})
    assert received == {"kir": "Referat fra KPU med", "med": "Referat fra KPU kir"}
