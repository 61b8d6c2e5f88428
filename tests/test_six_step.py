"""The six-step routine (I.5.2.4-18) walked by its real users, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date

import pytest

from engine.definitions import collect_files
from engine.errors import InvalidInput, PermissionDenied

from walks import (
    FIXTURES,
    KPU,
    RESPONSIBLE,
    SECRETARIAT,
    START_DATA,
    at_measure,
    end_of_local_day,
    task_for,
    walk_six_step,
)


def elements_open(engine, instance_id) -> list[str]:
    return sorted(t.element_id for t in engine.tasks.find(instance_id=instance_id))


def test_two_clinics_follow_up_the_measures_and_the_incident_closes_last(deployed):
    engine = deployed
    seen: list[tuple[str, str]] = []

    def observe(step: str, clinic: str, instance_id: str) -> None:
        seen.append((step, clinic))
        other = "med" if clinic == "kir" else "kir"
        if step == "reviewed":
            # step 3 goes to this clinic's KPU only
            assert task_for(engine, KPU[clinic], "Task_KpuBehandling", instance_id)
            assert not [t for t in engine.tasks.find(actor=KPU[other], instance_id=instance_id)
                        if t.element_id == "Task_KpuBehandling"]
        if step == "minutes_sent" and clinic == "med":
            # step 4: each secretariat receives the other clinic's minutes
            for receiver, sender in (("kir", "med"), ("med", "kir")):
                tasks = [t for t in engine.tasks.find(actor=SECRETARIAT[receiver],
                                                      instance_id=instance_id)
                         if t.element_id == "Task_MottaReferat"]
                assert len(tasks) == 1
                context = engine.tasks.task_context(tasks[0])
                assert context["kpu_referat"].startswith(f"Referat fra KPU {sender}")
        if step == "minutes_received":
            # step 5: two measures per clinic, assigned with the deadline the secretariat set
            for c in ("kir", "med"):
                mine = [t for t in engine.tasks.find(actor=RESPONSIBLE[c], instance_id=instance_id)
                        if t.element_id == "Task_GjennomforTiltak"]
                assert [t.assignee for t in mine] == [RESPONSIBLE[c]] * 2
                assert sorted(t.due_at.date() for t in mine) == \
                    [date(2026, 3, 1), date(2026, 6, 1)]
        if step == "clinic_closed":
            status = engine.history.show(instance_id)["status"]
            assert status == ("running" if clinic == "kir" else "completed")

    instance_id = walk_six_step(engine, observe=observe)

    assert ("clinic_closed", "med") in seen
    shown = engine.history.show(instance_id)
    assert shown["status"] == "completed"
    assert shown["open_tasks"] == []
    assert shown["process_key"] == "hendelsesanalyse-oppfolging"
    events = engine.history.events(instance_id)
    who = [(e.type, e.element_id, e.actor) for e in events if e.type == "complete"]
    assert ("complete", "Task_VurderTiltak", "sigrid") in who
    assert ("complete", "Task_KpuBehandling", "henrik") in who
    assert sum(1 for e in who if e[1:] == ("Task_GjennomforTiltak", "ola")) == 2
    assert events[0].type == "start" and events[0].actor == "frida"
    assert events[-1].type == "complete"


def test_the_secretariat_decision_is_validated_row_by_row(deployed):
    engine = deployed
    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                    data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(engine, "sigrid", "Task_VurderTiltak", instance.id)
    rows = [{"gjennomfores": "ja", "konkretisering": "", "ansvarlig": "Ola Nordmann",
             "frist": "2026-13-01"},
            {"gjennomfores": "nei"},
            {"gjennomfores": "kanskje"}]
    with pytest.raises(InvalidInput) as err:
        engine.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": rows})
    errors = err.value.errors
    assert set(errors) >= {"tiltak_vurdering[0].konkretisering",
                           "tiltak_vurdering[0].ansvarlig", "tiltak_vurdering[0].frist",
                           "tiltak_vurdering[1].begrunnelse",
                           "tiltak_vurdering[2].gjennomfores"}
    # nothing changed: the task is still open and unanswered
    assert task_for(engine, "sigrid", "Task_VurderTiltak", instance.id).id == task.id
    assert [e.type for e in engine.history.events(instance.id)] == ["start"]


def test_a_clinic_variant_is_used_for_that_clinic_only(deployed):
    engine = deployed
    variant = collect_files([str(FIXTURES / "klinikk-oppfolging-kir.bpmn")])
    [deployed_variant] = engine.repository.deploy(variant, actor="per", tenant="kir")
    assert deployed_variant.tenant == "kir" and deployed_variant.created

    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    for clinic in ("kir", "med"):
        task = task_for(engine, SECRETARIAT[clinic], "Task_VurderTiltak", instance.id)
        engine.tasks.complete(task.id, actor=SECRETARIAT[clinic],
                              data={"tiltak_vurdering": [{"gjennomfores": "nei",
                                                          "begrunnelse": "Ikke relevant"}] * 3})
    assert elements_open(engine, instance.id) == ["Task_KpuBehandling", "Task_Risikovurdering"]
    risk = task_for(engine, "sigrid", "Task_Risikovurdering", instance.id)
    with pytest.raises(PermissionDenied):
        engine.tasks.complete(risk.id, actor="magnus", data={"risiko_vurdert": True})
    engine.tasks.complete(risk.id, actor="sigrid", data={"risiko_vurdert": True})
    assert elements_open(engine, instance.id) == ["Task_KpuBehandling", "Task_KpuBehandling"]
    assert engine.history.show(instance.id)["called"]["klinikk-oppfolging@kir"]


def test_running_instances_stay_on_their_version(deployed):
    engine = deployed
    before = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                  data=dict(START_DATA, klinikker=["kir"]))
    engine.repository.deploy(collect_files([str(FIXTURES / "klinikk-oppfolging-kir.bpmn")]),
                             actor="per",
                  tenant="kir")
    after = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                 data=dict(START_DATA, klinikker=["kir"]))
    for instance in (before, after):
        task = task_for(engine, "sigrid", "Task_VurderTiltak", instance.id)
        engine.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
            {"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3})
    assert elements_open(engine, before.id) == ["Task_KpuBehandling"]
    assert elements_open(engine, after.id) == ["Task_Risikovurdering"]


def test_the_start_form_is_checked_and_only_fagavdelingen_may_start(deployed):
    engine = deployed
    with pytest.raises(PermissionDenied) as err:
        engine.runtime.start("hendelsesanalyse-oppfolging", actor="ola", data=START_DATA)
    assert "fagavdeling" in str(err.value)
    with pytest.raises(InvalidInput) as err:
        engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                             data=dict(START_DATA, klinikker=["kir", "tannlege"],
                                       analyse_tittel=""))
    assert set(err.value.errors) >= {"klinikker", "analyse_tittel"}


def test_due_dates_are_stored_as_the_end_of_the_deadline_day(deployed):
    engine = deployed
    at_measure(engine, frist="2026-03-01")
    [measure] = [t for t in engine.tasks.find(actor="ola")
                 if t.element_id == "Task_GjennomforTiltak"]
    assert measure.due_at.replace(tzinfo=UTC) == end_of_local_day(2026, 3, 1)
