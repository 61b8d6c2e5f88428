"""Ledelsens gjennomgang as Oslo University Hospital writes it: each clinic every tertial
(`ledelsens-gjennomgang-klinikk`) and the whole system every year (`ledelsens-gjennomgang`).

Walked by their real users with a moved clock, every command on a new engine that
restores the case from the database, on SQLite and PostgreSQL. What a finished review
leaves for the next one (`innspill_neste`) is shown to the next review of the same clinic,
or of the system, when its basis is prepared, and kept in that case; decisions become
measures in the shared measure process; the figures Tiltak measures are filled in for
the clinic under review.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from lxml import html
from process_per_command import ProcessPerCommand
from sqlalchemy import select

from engine.errors import DefinitionError
from engine.history.replay import verify_all
from engine.identity.users import add_user
from engine.models import HistoryEvent, ProcessInstance
from engine.serialization import data_from_json
from engine.timers import sweep

from walks import PROCESSES

TERTIAL, SYSTEM = "ledelsens-gjennomgang-klinikk", "ledelsens-gjennomgang"
QUALITY, MANAGEMENT = "tone", "are"  # kvalitetsavdeling, ledelse
SECRETARIAT = {"kir": "sigrid", "med": "magnus", "psyk": "pia"}  # kpu-sekretariat-<clinic>
# R/2026-01-15T08:00:00+01:00/P4M: the clinics' reviews after each tertial
FIRST_TERM = datetime(2026, 1, 15, 7, 0, 1, tzinfo=UTC)
SECOND_TERM = datetime(2026, 5, 15, 7, 0, 1, tzinfo=UTC)
# R/2026-02-02T08:00:00+01:00/P1Y: the review of the whole system
FIRST_YEAR, SECOND_YEAR = (datetime(year, 2, 2, 7, 0, 1, tzinfo=UTC) for year in (2026, 2027))
PREVIOUS = "forrige_innspill_neste"

BASIS = {
    "antall_meldte_hendelser": 212, "antall_alvorlige_hendelser": 2,
    "antall_forfalte_tiltak": 3, "apne_tilsynspalegg": 0,
    "antall_interne_revisjoner": 1, "apne_revisjonsavvik": 2,
    "interne_revisjoner": "Revisjon av legemiddelsamstemming: to avvik, rettes innen mars.",
    "antall_klager": 14, "pasienterfaringer": "Flere klager på informasjon ved utskrivning.",
    "medarbeidererfaringer": "ForBedring: lav score på tilbakemelding etter meldte hendelser.",
    "antall_risikovurderinger": 4, "risikovurderinger": "Overbelegg på sengepost om vinteren.",
    "tilsyn": "Ingen tilsyn i perioden.",
    "vurdering": "Klinikken melder og følger opp hendelser, men tilbakemelding til melder "
                 "og informasjon ved utskrivning må bli bedre.",
}


@pytest.fixture
def reviews(deployed):
    """Every command as a new process runs it; each case verifies after each command."""
    return ProcessPerCommand(deployed, verify_each=True)


def instances(engine, process_key: str) -> list[str]:
    with engine.db.transaction() as session:
        return list(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.process_key == process_key).order_by(ProcessInstance.started_at)))


def task_of(engine, user: str, element_id: str, instance_id: str, clinic: str | None = None):
    """The one open task `user` may work on with this element, in the case (and clinic)."""
    [task] = [t for t in engine.tasks.find(actor=user) if t.element_id == element_id
              and t.instance_id == instance_id and (clinic is None or t.clinic == clinic)]
    return task


def open_in(engine, instance_id: str, clinic: str) -> list[str]:
    return sorted(t.element_id for t in engine.tasks.find(instance_id=instance_id)
                  if t.clinic == clinic)


def replays_ok(engine) -> None:
    bad = [v.as_dict() for v in verify_all(engine) if not v.ok]
    assert not bad, bad


# ------------------------------------------------------------------ the tertial, walked
def opened_term(engine, clock, moment: datetime, period: str, clinics: list[str]) -> str:
    """The timer starts the tertial; the quality department names it and picks clinics."""
    clock.set(moment)
    before = instances(engine, TERTIAL)
    sweep(engine)
    [term] = [i for i in instances(engine, TERTIAL) if i not in before]
    task = task_of(engine, QUALITY, "Task_ApneTertial", term)
    engine.tasks.complete(task.id, actor=QUALITY, data={"periode": period, "klinikker": clinics})
    return term


def preparation(engine, term: str, clinic: str):
    return task_of(engine, SECRETARIAT[clinic], "Task_ForberedGjennomgang", term, clinic)


def prepared(engine, term: str, clinic: str, **extra) -> dict:
    """The clinic's KPU secretariat prepares the basis; returns what its form was shown."""
    task = preparation(engine, term, clinic)
    shown = engine.tasks.task_context(task)
    engine.tasks.complete(task.id, actor=SECRETARIAT[clinic], data={**BASIS, **extra})
    return shown


def decided(engine, term: str, clinic: str, measures: list[dict]) -> dict:
    """Management reviews the clinic and decides; returns what its form was shown."""
    task = task_of(engine, MANAGEMENT, "Task_Ledelsesmote", term, clinic)
    shown = engine.tasks.task_context(task)
    engine.tasks.complete(task.id, actor=MANAGEMENT, data={
        "motedato": "2026-02-10", "styringssystemet_fungerer": "delvis",
        "deltakere": "Administrerende direktør, klinikkleder, kvalitetsleder",
        "konklusjon": "Tilbakemeldingen til melderne skal følges opp hvert tertial.",
        "vedtatte_tiltak": measures})
    return shown


def carried_out(engine, instance_id: str, clinic: str, done: str = "2026-02-20") -> None:
    """Each measure of the clinic done by its owner and checked by the secretariat."""
    for task in [t for t in engine.tasks.find(instance_id=instance_id)
                 if t.element_id == "Task_GjennomforTiltak" and t.clinic == clinic]:
        engine.tasks.complete(task.id, actor=task.assignee, data={
            "gjennomfort_dato": done, "gjennomfort_beskrivelse": "Innført i alle enheter"})
    for task in [t for t in engine.tasks.find(instance_id=instance_id)
                 if t.element_id == "Task_KontrollerTiltak" and t.clinic == clinic]:
        engine.tasks.complete(task.id, actor=SECRETARIAT[clinic], data={"tiltak_godkjent": True})


def reported(engine, term: str, clinic: str, next_input: str) -> None:
    task = task_of(engine, SECRETARIAT[clinic], "Task_Oppsummer", term, clinic)
    engine.tasks.complete(task.id, actor=SECRETARIAT[clinic], data={
        "rapport": "Gjennomgangen er behandlet i klinikkens KPU; tiltakene er fulgt opp.",
        "rapportert_til": ["klinikkledelsen", "kpu"], "innspill_neste": next_input})


def measure(title: str, owner: str, deadline: str) -> dict:
    return {"tittel": title, "beskrivelse": "", "ansvarlig": owner, "frist": deadline}


KIR_FIRST = "Se om tilbakemeldingen til melderne er kommet opp mot 80 %."
MED_FIRST = "Følg klagene på informasjon ved utskrivning."


def test_a_clinic_review_is_shown_what_the_last_finished_review_of_that_clinic_left(
        reviews, clock):
    engine = reviews
    term = opened_term(engine, clock, FIRST_TERM, "3. tertial 2025", ["kir", "med"])
    # each clinic's secretariat prepares its own basis; nothing before the first review
    assert preparation(engine, term, "kir").candidate_groups == ["kpu-sekretariat-kir"]
    assert [t.element_id for t in engine.tasks.find(actor="pia")] == []  # psyk was not picked
    for clinic in ("kir", "med"):
        shown = prepared(engine, term, clinic)
        assert (shown["klinikk"], shown["periode"]) == (clinic, "3. tertial 2025")
        assert PREVIOUS not in shown

    # management decides one measure for kir: it runs through the measure lifecycle in kir
    clock.set(datetime(2026, 2, 10, 9, 0, tzinfo=UTC))
    decided(engine, term, "kir", [measure("Tilbakemelding til melder innen 14 dager", "ola",
                                          "2026-03-01")])
    decided(engine, term, "med", [])
    [doing] = [t for t in engine.tasks.find(actor="ola") if t.instance_id == term]
    assert (doing.element_id, doing.clinic) == ("Task_GjennomforTiltak", "kir")
    assert engine.tasks.task_context(doing)["tiltak"]["tittel"].startswith("Tilbakemelding")
    assert open_in(engine, term, "kir") == ["Task_GjennomforTiltak"]  # no report before it
    assert open_in(engine, term, "med") == ["Task_Oppsummer"]
    carried_out(engine, term, "kir")
    assert engine.tasks.task_context(task_of(engine, "sigrid", "Task_Oppsummer", term))[
        "antall_tiltak"] == 1
    reported(engine, term, "kir", KIR_FIRST)  # med's report is late: not done this term

    # the next tertial: kir is shown its own input, med none (its review is not finished),
    # psyk none (it has had no review)
    term2 = opened_term(engine, clock, SECOND_TERM, "1. tertial 2026", ["kir", "med", "psyk"])
    for clinic, expected in (("kir", KIR_FIRST), ("med", None), ("psyk", None)):
        assert engine.tasks.task_context(preparation(engine, term2, clinic)).get(PREVIOUS) == \
            expected, clinic
    shown = prepared(engine, term2, "kir")
    assert shown[PREVIOUS] == KIR_FIRST
    # a value sent for the read-only field is not taken
    prepared(engine, term2, "psyk", **{PREVIOUS: "Et innspill ingen har skrevet"})

    reported(engine, term, "med", MED_FIRST)  # med's first review finishes late
    assert engine.history.show(term)["status"] == "completed"
    clock.advance(days=3)
    assert engine.tasks.task_context(preparation(engine, term2, "med"))[PREVIOUS] == MED_FIRST
    prepared(engine, term2, "med")

    # what each clinic was shown is kept in its case: its meeting sees it, the history has it
    for clinic, expected in (("kir", KIR_FIRST), ("med", MED_FIRST), ("psyk", None)):
        assert decided(engine, term2, clinic, []).get(PREVIOUS) == expected, clinic
    with engine.db.transaction() as session:
        recorded = [data_from_json(text)["values"].get(PREVIOUS) for text in session.scalars(
            select(HistoryEvent.data).where(
                HistoryEvent.stream == term2, HistoryEvent.type == "complete",
                HistoryEvent.element_id == "Task_ForberedGjennomgang"))]
    assert sorted(recorded, key=str) == sorted([KIR_FIRST, MED_FIRST, None], key=str)
    replays_ok(engine)


def test_the_figures_tiltak_measures_are_filled_in_for_the_clinic_under_review(
        reviews, clock, tmp_path):
    from webui import create_app

    engine = reviews
    term = opened_term(engine, clock, FIRST_TERM, "3. tertial 2025", ["kir", "med"])
    for clinic in ("kir", "med"):
        prepared(engine, term, clinic)
    clock.set(datetime(2026, 2, 10, 9, 0, tzinfo=UTC))
    decided(engine, term, "kir", [measure("Sjekkliste ved utskrivning", "ola", "2026-03-01"),
                                  measure("Opplæring i meldesystemet", "ola", "2026-02-15")])
    decided(engine, term, "med", [measure("Klagesaker i KPU hver måned", "nora",
                                          "2026-03-01")])
    clock.set(datetime(2026, 2, 20, 9, 0, tzinfo=UTC))
    carried_out(engine, term, "med")
    # kir: one measure done in time, the other (due 15 February) late
    carried_out(engine, term, "kir")

    term2 = opened_term(engine, clock, SECOND_TERM, "1. tertial 2026", ["kir", "med"])
    with engine.db.transaction() as session:
        for clinic, user in (("kir", "sigrid"), ("med", "magnus")):
            add_user(session, user, [f"kpu-sekretariat-{clinic}", "ansatt"],
                     password="kpu-sekretariat-1")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine)
    shown = {}
    for clinic, user in (("kir", "sigrid"), ("med", "magnus")):
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        client.post("/login", data={"csrf_token": csrf, "username": user,
                                    "password": "kpu-sekretariat-1"})
        response = client.get(f"/tasks/{preparation(engine, term2, clinic).id}")
        assert response.status_code == 200
        text = response.get_data(as_text=True)
        assert "2026-01-15" in text and "2026-05-15" in text  # the last four months
        shown[clinic] = {i.get("name"): i.get("value")
                         for i in html.fromstring(text).iter("input")}
    on_time = {clinic: float(shown[clinic]["andel_tiltak_i_tide"].replace(",", "."))
               for clinic in shown}
    assert on_time == {"kir": 50.0, "med": 100.0}  # not the 66.7 % of both together
    assert shown["kir"]["antall_forfalte_tiltak"] == "0"
    assert not shown["kir"].get("andel_tilbakemelding")  # no deviation closed in kir


# ------------------------------------------------------------------ the yearly review
def test_the_yearly_review_is_shown_what_the_last_yearly_review_left_and_decides_measures(
        reviews, clock):
    engine = reviews
    clock.set(FIRST_YEAR)
    sweep(engine)  # the yearly review, and the clinics' tertial of 15 January
    [year] = instances(engine, SYSTEM)
    [term] = instances(engine, TERTIAL)
    task = task_of(engine, QUALITY, "Task_ApneTertial", term)
    engine.tasks.complete(task.id, actor=QUALITY, data={"periode": "3. tertial 2025",
                                                        "klinikker": ["kir"]})
    prepared(engine, term, "kir")
    decided(engine, term, "kir", [])
    reported(engine, term, "kir", KIR_FIRST)  # a clinic's input is not the system's

    preparing = task_of(engine, QUALITY, "Task_ForberedGjennomgang", year)
    assert preparing.clinic is None and PREVIOUS not in engine.tasks.task_context(preparing)
    engine.tasks.complete(preparing.id, actor=QUALITY, data={**BASIS, "periode": "2025"})
    meeting = task_of(engine, MANAGEMENT, "Task_Ledelsesmote", year)
    engine.tasks.complete(meeting.id, actor=MANAGEMENT, data={
        "motedato": "2026-02-16", "styringssystemet_fungerer": "delvis",
        "konklusjon": "Klinikkenes tertialgjennomganger må følges opp i linjen.",
        "vedtatte_tiltak": [{"tittel": "Felles mal for tertialgjennomgangen",
                             "ansvarlig": "nora", "frist": "2026-04-01", "klinikk": "med"}]})
    # the decision is a measure: nora carries it out, med's secretariat checks it
    [doing] = [t for t in engine.tasks.find(actor="nora") if t.instance_id == year]
    assert (doing.element_id, doing.clinic) == ("Task_GjennomforTiltak", "med")
    carried_out(engine, year, "med", done="2026-03-20")
    report = task_of(engine, QUALITY, "Task_Oppsummer", year)
    assert engine.tasks.task_context(report)["antall_tiltak"] == 1
    engine.tasks.complete(report.id, actor=QUALITY, data={
        "rapport": "Behandlet i ledergruppen og styret; tiltaket er gjennomført.",
        "rapportert_til": ["styret"], "innspill_neste": "Vurder tertialgjennomgangene samlet."})
    assert engine.history.show(year)["status"] == "completed"

    clock.set(SECOND_YEAR)
    sweep(engine)
    [next_year] = [i for i in instances(engine, SYSTEM) if i != year]
    preparing = task_of(engine, QUALITY, "Task_ForberedGjennomgang", next_year)
    assert engine.tasks.task_context(preparing)[PREVIOUS] == "Vurder tertialgjennomgangene samlet."
    engine.tasks.complete(preparing.id, actor=QUALITY, data={**BASIS, "periode": "2026"})
    meeting = task_of(engine, MANAGEMENT, "Task_Ledelsesmote", next_year)
    assert engine.tasks.task_context(meeting)[PREVIOUS] == "Vurder tertialgjennomgangene samlet."
    replays_ok(engine)


# ------------------------------------------------------------------ the property, checked
def with_source(text: str) -> dict[str, bytes]:
    path = PROCESSES / f"{TERTIAL}.bpmn"
    changed, count = re.subn(r'name="fra_forrige" value="[^"]*"',
                             f'name="fra_forrige" value="{text}"',
                             path.read_text(encoding="utf-8"))
    assert count == 1
    return {path.name: changed.encode("utf-8")}


@pytest.mark.parametrize(("source", "said"), [
    ("Task_Oppsumer.innspill_neste", "'Task_Oppsumer', which is not a user task"),
    ("Script_KlargjorTiltak.antall_tiltak", "'Script_KlargjorTiltak', which is not a user"),
    ("innspill_neste", "'innspill_neste' is not ELEMENT.FIELD"),
    ("Task_Oppsummer.innspill_neste, Task_Ledelsesmote.innspill_neste",
     "the field 'innspill_neste' is named twice"),
])
def test_a_source_that_names_no_user_task_field_is_refused_at_deploy(deployed, source, said):
    with pytest.raises(DefinitionError) as err:
        deployed.repository.deploy(with_source(source), actor="per")
    assert said in str(err.value) and "Task_ForberedGjennomgang" in str(err.value)
    [version] = deployed.repository.deploy(with_source(
        "Task_Oppsummer.innspill_neste, Task_Ledelsesmote.konklusjon"), actor="per")
    assert version.created
