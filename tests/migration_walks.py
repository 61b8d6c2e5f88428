"""Walking cases of the six-step routine to a chosen step, and the changed clinic part
a process owner deploys to move them onto: shared by the migration tests of the engine,
the pages and the browser."""

from __future__ import annotations

from datetime import date

from walks import KPU, PROCESSES, RESPONSIBLE, SECRETARIAT, deadline_year, review_rows

STEP_2, STEP_4 = {"Task_KpuBehandling"}, {"Task_MottaReferat"}  # where a case waits

RENAMED = "Behandle analysen og tiltakene i KPU-møtet"


def changed_routine(*, drop: str | None = None) -> dict[str, bytes]:
    """The clinic's part of the six-step routine with a renamed task and a deadline on
    the minutes; `drop`: an element id renamed away (so that it is missing)."""
    text = (PROCESSES / "klinikk-oppfolging.bpmn").read_text(encoding="utf-8")
    text = text.replace('name="Behandle analysen og tiltakene i KPU"', f'name="{RENAMED}"')
    text = text.replace('<bpmn:userTask id="Task_SendReferat"',
                        '<bpmn:userTask id="Task_SendReferat" '
                        'camunda:dueDate="${kpu_motedato}"', 1)
    if drop:
        text = text.replace(f'"{drop}"', f'"{drop}_Ny"')
    return {"klinikk-oppfolging.bpmn": text.encode("utf-8")}


def work(engine, task, clinic: str) -> None:
    """Complete one open task of the routine as its real user would."""
    by_element = {
        "Task_VurderTiltak": (SECRETARIAT, {"tiltak_vurdering": review_rows(
            clinic, deadline_year(engine))}),
        "Task_KpuBehandling": (KPU, {"kpu_motedato": "2026-02-10", "kpu_innspill": "Støttes",
                                     "kpu_slutter_seg_til": True}),
        "Task_SendReferat": (SECRETARIAT, {"kpu_referat": f"Referat fra KPU {clinic}"}),
        "Task_MottaReferat": (SECRETARIAT, {"referat_kvittert": True}),
        "Task_MottaReferat_Ny": (SECRETARIAT, {"referat_kvittert": True}),
        "Task_GjennomforTiltak": (RESPONSIBLE, {
            "gjennomfort_dato": date(2026, 2, 20).isoformat(),
            "gjennomfort_beskrivelse": "Innført"}),
        "Task_KontrollerTiltak": (SECRETARIAT, {"tiltak_godkjent": True}),
        "Task_BekreftAvslutning": (SECRETARIAT, {"klinikk_avsluttet": True}),
    }
    users, data = by_element[task.element_id]
    engine.tasks.complete(task.id, actor=users[clinic], data=data)


def clinic_of(task) -> str:
    """The clinic whose people work on the task (a clinic's minutes go to the others)."""
    for group in task.candidate_groups:
        for clinic in SECRETARIAT:
            if group.endswith("-" + clinic):
                return clinic
    return task.clinic


def walk_until(engine, instance_id: str, stop: set[str] | None) -> None:
    """Work the case's open tasks until one of `stop` is open in every clinic (None:
    to its end)."""
    for _ in range(200):
        tasks = engine.tasks.find(instance_id=instance_id)
        if not tasks:
            return
        if stop is not None and all(t.element_id in stop for t in tasks):
            return
        task = next(t for t in tasks if stop is None or t.element_id not in stop)
        work(engine, task, clinic_of(task))
    raise AssertionError("the case did not get there")
