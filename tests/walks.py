"""Walks through the routines as their real users would, shared by tests and benchmarks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from engine.clock import LOCAL_ZONE
from engine.runtime import Engine

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

SECRETARIAT = {"kir": "sigrid", "med": "magnus"}
KPU = {"kir": "kari", "med": "henrik"}
RESPONSIBLE = {"kir": "ola", "med": "nora"}

START_DATA = {
    "analyse_tittel": "Forsinket behandling av sepsis ved overflytting",
    "dokumentasjon": "Endelig rapport fra hendelsesanalyse HA-2026-17, versjon 1.0",
    "folgebrev": "Analysen foreslår tre tiltak for kirurgisk og medisinsk klinikk.",
    "klinikker": ["kir", "med"],
    "foreslatte_tiltak": [
        {"tittel": "Sepsisscreening ved overflytting", "beskrivelse": "NEWS2 ved mottak"},
        {"tittel": "Felles opplæring i sepsisforløpet", "beskrivelse": "Simulering"},
        {"tittel": "Ny varslingsrutine mellom klinikkene", "beskrivelse": ""},
    ],
}


def task_for(engine: Engine, user: str, element_id: str, instance_id: str | None = None):
    """The one open task with this element id that `user` may work on."""
    matches = [t for t in engine.tasks.find(actor=user)
               if t.element_id == element_id
               and (instance_id is None or t.instance_id == instance_id)]
    assert matches, f"{user} has no open task {element_id}"
    return matches[0]


def deadline_year(engine: Any = None) -> int:
    """The year of the walks' deadlines: 2026 on the tests' fixed clock (January 2026),
    the next year on a real clock past the first of March, since deadlines may not lie
    in the past."""
    clock = getattr(engine, "clock", None)
    now = clock.now() if clock is not None else datetime.now(UTC)
    return 2026 if now < datetime(2026, 3, 1, tzinfo=UTC) else now.year + 1


def review_rows(clinic: str, year: int = 2026) -> list[dict[str, Any]]:
    """Step 2: two measures carried out with owner and deadline, one not, with a reason."""
    owner = RESPONSIBLE[clinic]
    return [
        {"gjennomfores": "ja", "konkretisering": "NEWS2 skåres ved mottak fra annen klinikk",
         "ansvarlig": owner, "frist": f"{year}-03-01"},
        {"gjennomfores": "ja", "konkretisering": "Årlig simulering for begge klinikker",
         "ansvarlig": owner, "frist": f"{year}-06-01"},
        {"gjennomfores": "nei",
         "begrunnelse": "Dekkes av eksisterende rutine for overflytting (I.5.2.4-8)"},
    ]


Observer = Callable[[str, str, str], None]


def walk_six_step(engine: Engine, clinics: tuple[str, ...] = ("kir", "med"),
                  business_key: str = "HA-2026-17", observe: Observer | None = None) -> str:
    """Fagavdelingen starts; each clinic works steps 2-5; the incident closes at the end.

    `observe(step, clinic, instance_id)` is called after each step so that a test can
    look at the instance in between: reviewed, kpu_reviewed, minutes_sent (per clinic),
    minutes_received (after both), measures_done and clinic_closed (per clinic).
    """
    def seen(step: str, clinic: str = "") -> None:
        if observe is not None:
            observe(step, clinic, instance.id)

    data = dict(START_DATA, klinikker=list(clinics))
    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=data,
                                    business_key=business_key)
    for clinic in clinics:
        secretariat = SECRETARIAT[clinic]
        task = task_for(engine, secretariat, "Task_VurderTiltak", instance.id)
        engine.tasks.claim(task.id, actor=secretariat)
        engine.tasks.complete(task.id, actor=secretariat,
                              data={"tiltak_vurdering": review_rows(clinic, deadline_year(engine))})
        seen("reviewed", clinic)
        task = task_for(engine, KPU[clinic], "Task_KpuBehandling", instance.id)
        engine.tasks.complete(task.id, actor=KPU[clinic], data={
            "kpu_motedato": "2026-02-10", "kpu_innspill": "KPU støtter tiltakene",
            "kpu_slutter_seg_til": True})
        seen("kpu_reviewed", clinic)
        task = task_for(engine, secretariat, "Task_SendReferat", instance.id)
        engine.tasks.complete(task.id, actor=secretariat, data={
            "kpu_referat": f"Referat fra KPU {clinic}: tiltak 1 og 2 vedtatt, tiltak 3 ikke."})
        seen("minutes_sent", clinic)
    for clinic in clinics:
        for task in [t for t in engine.tasks.find(actor=SECRETARIAT[clinic],
                                                  instance_id=instance.id)
                     if t.element_id == "Task_MottaReferat"]:
            engine.tasks.complete(task.id, actor=SECRETARIAT[clinic],
                                  data={"referat_kvittert": True})
    seen("minutes_received")
    for clinic in clinics:
        for task in [t for t in engine.tasks.find(actor=RESPONSIBLE[clinic],
                                                  instance_id=instance.id)
                     if t.element_id == "Task_GjennomforTiltak"]:
            engine.tasks.complete(task.id, actor=RESPONSIBLE[clinic], data={
                "gjennomfort_dato": date(2026, 2, 20).isoformat(),
                "gjennomfort_beskrivelse": "Innført og kommunisert til alle vakter"})
        for task in [t for t in engine.tasks.find(actor=SECRETARIAT[clinic],
                                                  instance_id=instance.id)
                     if t.element_id == "Task_KontrollerTiltak"]:
            engine.tasks.complete(task.id, actor=SECRETARIAT[clinic],
                                  data={"tiltak_godkjent": True})
        seen("measures_done", clinic)
        task = task_for(engine, SECRETARIAT[clinic], "Task_BekreftAvslutning", instance.id)
        engine.tasks.complete(task.id, actor=SECRETARIAT[clinic], data={"klinikk_avsluttet": True})
        seen("clinic_closed", clinic)
    return instance.id


def at_measure(engine, frist: str | None = None, business_key: str | None = None) -> str:
    """One clinic, one measure for ola with a deadline (1 March); returns the instance id."""
    frist = frist or f"{deadline_year(engine)}-03-01"
    instance = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                    data=dict(START_DATA, klinikker=["kir"]),
                                    business_key=business_key)
    task = task_for(engine, "sigrid", "Task_VurderTiltak", instance.id)
    engine.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
        {"gjennomfores": "ja", "konkretisering": "NEWS2 ved mottak", "ansvarlig": "ola",
         "frist": frist},
        {"gjennomfores": "nei", "begrunnelse": "Dekket"},
        {"gjennomfores": "nei", "begrunnelse": "Dekket"}]})
    engine.tasks.complete(task_for(engine, "kari", "Task_KpuBehandling", instance.id).id,
                          actor="kari", data={"kpu_motedato": "2026-02-10", "kpu_innspill": "OK"})
    engine.tasks.complete(task_for(engine, "sigrid", "Task_SendReferat", instance.id).id,
                          actor="sigrid", data={"kpu_referat": "Referat"})
    return instance.id


def local_midnight(year: int, month: int, day: int) -> datetime:
    """The start of a local day (the engine's zone), in UTC: when a date timer fires."""
    return datetime(year, month, day, tzinfo=LOCAL_ZONE).astimezone(UTC)


def end_of_local_day(year: int, month: int, day: int) -> datetime:
    """The last second of a local day, in UTC: a deadline given as a date."""
    return datetime(year, month, day, 23, 59, 59, tzinfo=LOCAL_ZONE).astimezone(UTC)


def workflow_of(engine: Engine, instance_id: str):
    """An instance's SpiffWorkflow tree as it stands: restored from its state while it
    runs; rebuilt from its history once it has finished (its final record keeps no tree)."""
    from engine.history.replay import replay_steps

    with engine.db.reading() as session:
        workflow = engine.core._load(session, instance_id, lock=False).workflow
    if workflow is not None:
        return workflow
    step = None
    for step in replay_steps(engine, instance_id, engine.history.events(instance_id)):
        assert step.problem is None, step.problem
    return step.workflow


PASSWORD = "riktig-passord"


@functools.cache
def password_hash() -> str:
    """PASSWORD hashed once for the whole run: every user signing in by it may share the
    hash (each argon2 hash costs a good fraction of a second)."""
    from engine.identity.users import hash_password
    return hash_password(PASSWORD)


def app_with_users(engine: Engine, tmp_path: Path, users: dict[str, list[str]]):
    """The web UI over `engine`, with these users (name -> groups) signing in by
    PASSWORD."""
    from engine.identity.users import add_user
    from webui import create_app

    with engine.db.transaction() as session:
        for name, groups in users.items():
            add_user(session, name, groups, password_hash=password_hash())
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine)
