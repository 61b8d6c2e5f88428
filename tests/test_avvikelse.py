"""Region Halland's handling of deviations, risks and good examples (avvikelsehantering),
walked end to end as its Swedish users work it: report, the unit chief's assessment that
moves to the clinic head when it waits too long, the risk class from the decision table,
lex Maria with the chief physician's decision, the report to IVO with its deadline and
escalation, the investigation (with subject-matter expertise when serious), the measures
in the shared measure process, feedback, closing, and learning that reaches the other
clinics. Every command restores the case from the database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.definitions import collect_files
from engine.errors import InvalidInput, NotFound
from engine.execution.live import LiveWorkflows
from engine.history.replay import verify_instance
from engine.model import decisions
from engine.model.parsing import parse_bpmn
from engine.models import (
    CaseFacts,
    HistoryEvent,
    Notification,
    OutboxMail,
    ProcessInstance,
    TaskRecord,
)
from engine.notifications import content
from engine.timers import sweep
from routines import indicators

from walks import PROCESSES, task_for

PROCESS = "avvikelsehantering"
REPORTER = "astrid"  # sjuksköterska, Kirurgavdelningen Halmstad
UNIT_CHIEF = "nils"  # avdelningschef, Kirurgavdelningen Halmstad (leder-hs-kir-halmstad)
OTHER_UNIT_CHIEF = "sara"  # avdelningschef, Kirurgavdelningen Varberg
CHIEF = "johan"  # verksamhetschef, Kirurgkliniken (leder-hs-kir)
OTHER_CHIEF = "karin"  # verksamhetschef, Medicinkliniken
PHYSICIAN = "birgitta"  # chefsläkare
COORDINATOR = "lena"  # patientsäkerhetssamordnare, Kirurgkliniken
OTHER_COORDINATOR = "erik"  # patientsäkerhetssamordnare, Medicinkliniken
OWNER = UNIT_CHIEF  # the avdelningschef carries out a measure in his own unit
MANAGEMENT = "goran"  # förvaltningsledningen
LEADER_TASKS = ("Task_Utredning", "Task_UtredningAllvarlig", "Task_BeslutaAtgarder",
                "Task_Aterkoppling", "Task_Avsluta", "Task_Lardomar")

REPORT = {
    "vad_hande": "Patienten fick dubbel dos insulin vid skiftbytet på natten.",
    "handelsedatum": "2026-01-04",
    "klinikk": "hs-kir",
    "enhet": "hs-kir-halmstad",
    "omedelbara_atgarder": "Blodsocker kontrollerat varje timme, jourläkare kontaktad.",
}
MEASURE = {"titel": "Dubbelkontroll av insulin vid skiftbyte",
           "beskrivning": "Två sjuksköterskor signerar", "ansvarig": OWNER,
           "tidsfrist": "2026-03-01"}


class Halland:
    """The routine's people at work, with some time passing before each step. The
    leader's steps are done by `leader`: the unit chief, or the clinic head once the
    assessment has moved to them. `groups` keeps the candidate groups of each task done."""

    def __init__(self, engine, clock):
        self.engine, self.clock = engine, clock
        self.leader = UNIT_CHIEF
        self.groups: dict[str, list[str]] = {}

    def report(self, **changes):
        return self.engine.runtime.start(PROCESS, actor=REPORTER, data=dict(REPORT, **changes))

    def complete(self, user, element, instance_id, data):
        self.clock.advance(hours=2)
        task = task_for(self.engine, user, element, instance_id)
        self.groups[element] = task.candidate_groups
        self.engine.tasks.complete(task.id, actor=user, data=data)
        return task

    def assess(self, instance_id, konsekvens, sannolikhet, vardskada=False,
               element="Task_Bedomning"):
        return self.complete(self.leader, element, instance_id, {
            "konsekvens": str(konsekvens), "sannolikhet": str(sannolikhet),
            "vardskada": vardskada,
            "bedomning": "Rutinen för överrapportering vid skiftbyte följdes inte."})

    def decide_lex_maria(self, instance_id, report_to_ivo: bool):
        return self.complete(PHYSICIAN, "Task_LexMariaBedomning", instance_id, {
            "anmalan_ivo": "ja" if report_to_ivo else "nej",
            "lex_maria_motivering": "Händelsen hade kunnat medföra en allvarlig vårdskada."
            if report_to_ivo else "Ingen vårdskada och ingen risk för allvarlig vårdskada."})

    def report_to_ivo(self, instance_id):
        return self.complete(PHYSICIAN, "Task_AnmalanIVO", instance_id, {
            "ivo_anmalan_datum": "2026-01-09", "ivo_diarienummer": "IVO 3.7.1-01234/2026",
            "ivo_anmalan_sammanfattning": "Dubbel dos insulin vid skiftbyte, patienten stabil.",
            "patient_informerad": True})

    def investigate(self, instance_id, *, serious: bool):
        data = {"utredning_resultat": "Överrapporteringen saknade läkemedelsgenomgång.",
                "utredningsdeltagare": "Johan Bergström, Lena Franzén",
                "forslag_atgarder": "Dubbelkontroll av insulin vid skiftbyte."}
        if serious:
            data.update(sakkompetens=True,
                        sakkompetens_vem="Överläkare i endokrinologi, Medicinkliniken")
        element = "Task_UtredningAllvarlig" if serious else "Task_Utredning"
        return self.complete(self.leader, element, instance_id, data)

    def decide_measures(self, instance_id, measures, *, red: bool = False):
        """The chief's measures; with none, why (on a red case, in the field the rule
        asks for)."""
        data = {"beslutade_atgarder": measures}
        if not measures:
            data["motivering_utan_atgarder" if red else "atgarder_motivering"] = \
                "Utredningen visar att rutinen redan täcker detta."
        return self.complete(self.leader, "Task_BeslutaAtgarder", instance_id, data)

    def carry_out_measures(self, instance_id, ended: dict[str, str] | None = None):
        """Each owner does their measure and the coordinator approves it, or ends the
        measures named in `ended` (title -> reason) without their being carried out."""
        engine, ended = self.engine, ended or {}
        while tasks := [t for t in engine.tasks.find(instance_id=instance_id)
                        if t.element_id == "Task_GenomforAtgard"]:
            for task in tasks:
                self.clock.advance(days=3)
                engine.tasks.complete(task.id, actor=task.assignee, data={
                    "gjennomfort_dato": "2026-02-20",
                    "gjennomfort_beskrivelse": "Införd och kommunicerad till alla pass"})
            for task in [t for t in engine.tasks.find(actor=COORDINATOR, instance_id=instance_id)
                         if t.element_id == "Task_KontrolleraAtgard"]:
                self.clock.advance(hours=4)
                title = engine.tasks.task_context(task)["tiltak"]["tittel"]
                engine.tasks.complete(task.id, actor=COORDINATOR, data={
                    "tiltak_avsluttes": True, "avslutningsgrunn": ended[title]}
                    if title in ended else {"tiltak_godkjent": True})

    def close(self, instance_id, feedback="Tack! Dubbelkontroll av insulin är nu införd.",
              spread=("enhet", "klinik")):
        self.complete(self.leader, "Task_Aterkoppling", instance_id,
                      {"tilbakemelding": feedback})
        self.complete(self.leader, "Task_Avsluta", instance_id, {
            "avslut_sammanfattning": "Åtgärden är genomförd och kontrollerad."})
        self.learn(instance_id, spread)

    def learn(self, instance_id, spread=("enhet", "klinik")):
        self.complete(self.leader, "Task_Lardomar", instance_id, {
            "lardomar": "Läkemedel ska ingå i överrapporteringen vid varje skiftbyte.",
            "spridning": list(spread)})


@pytest.fixture
def halland(deployed, clock):
    deployed.core._live = LiveWorkflows(size=0)  # every command restores the case from the database
    return Halland(deployed, clock)


def variables(engine, instance_id) -> dict:
    """The process variables as the next open task sees them."""
    return engine.tasks.task_context(engine.tasks.find(instance_id=instance_id)[0])


def elements(engine, instance_id) -> list[str]:
    return [e.element_id for e in engine.history.events(instance_id) if e.type == "complete"]


def records(engine, instance_id) -> dict[str, TaskRecord]:
    with engine.db.transaction() as session:
        rows = session.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == instance_id)).all()
        session.expunge_all()
    return {r.element_id: r for r in rows}


def facts(engine, instance_id) -> CaseFacts:
    with engine.db.transaction() as session:
        row = session.get(CaseFacts, instance_id)
        session.expunge(row)
    return row


def notes(engine) -> list[tuple[str, str, str, str]]:
    with engine.db.transaction() as session:
        return [(n.user_name, n.template, n.language, n.body)
                for n in session.scalars(select(Notification).order_by(Notification.id))]


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def test_the_risk_matrix_is_unique_and_gives_green_yellow_and_red():
    files = collect_files([str(PROCESSES / f"{PROCESS}.bpmn"), str(PROCESSES / "riskklass.dmn"),
                           str(PROCESSES / "tiltakskrav.dmn")])
    parsed = parse_bpmn({k: v for k, v in files.items() if k.endswith(".bpmn")},
                        {k: v for k, v in files.items() if k.endswith(".dmn")})
    table = parsed[PROCESS].spec.task_specs["BusinessRule_Riskklass"].dmnEngine.decision_table
    assert (table.hit_policy or "UNIQUE") == "UNIQUE"
    matrix = {}
    for konsekvens in range(1, 5):
        for sannolikhet in range(1, 5):
            results = decisions.decide(table, {"konsekvens": str(konsekvens),
                                               "sannolikhet": sannolikhet})
            assert len(results) == 1, (konsekvens, sannolikhet)
            matrix[konsekvens, sannolikhet] = decisions.result_variables(
                results, "risikoklasse", "singleEntry")["risikoklasse"]
    for (konsekvens, sannolikhet), klass in matrix.items():
        risk = konsekvens * sannolikhet
        assert klass == ("grön" if risk <= 3 else "gul" if risk <= 6 else "röd")


def test_a_deviation_that_is_not_serious_goes_from_report_to_learning(halland, clock):
    """The unit chief assesses in time, so the case stays with the unit chief."""
    engine = halland.engine
    started = clock.now()
    row = halland.report(anonym=False)
    assert engine.history.instance(row.id).started_by == REPORTER
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_Bedomning",
                                                        ["leder-hs-kir-halmstad"])
    assert utc(task.due_at) == started + timedelta(days=3)
    for other in (CHIEF, OTHER_CHIEF, OTHER_UNIT_CHIEF):
        assert not engine.tasks.find(actor=other, instance_id=row.id), other

    clock.set(started + timedelta(days=2, hours=22))  # just in time
    halland.assess(row.id, konsekvens=2, sannolikhet=1)
    assert engine.history.instance(row.id).next_timer_at is None  # the move is off
    data = variables(engine, row.id)
    assert (data["risikoklasse"], data["alvorlig"]) == ("grön", False)
    assert data["ansvarig_grupp"] == "leder-hs-kir-halmstad"
    assert not engine.tasks.find(actor=CHIEF, instance_id=row.id)
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == ["Task_Utredning"]
    halland.investigate(row.id, serious=False)  # expertise is not required
    assert variables(engine, row.id)["sakkompetens"] is False
    halland.decide_measures(row.id, [MEASURE])
    [measure] = engine.tasks.find(actor=OWNER, instance_id=row.id)
    assert (measure.element_id, measure.assignee, measure.clinic) == \
        ("Task_GenomforAtgard", OWNER, "hs-kir")
    halland.carry_out_measures(row.id)
    assert engine.history.instance(row.id).status == "running"
    halland.close(row.id)

    shown = engine.history.show(row.id)
    assert shown["status"] == "completed"
    assert shown["data"]["antal_atgarder"] == 1
    assert elements(engine, row.id) == [
        "Task_Bedomning", "Task_Utredning", "Task_BeslutaAtgarder", "Task_GenomforAtgard",
        "Task_KontrolleraAtgard", "Task_Aterkoppling", "Task_Avsluta", "Task_Lardomar"]
    assert {element: halland.groups[element] for element in LEADER_TASKS
            if element in halland.groups} == {
        element: ["leder-hs-kir-halmstad"] for element in (
            "Task_Utredning", "Task_BeslutaAtgarder", "Task_Aterkoppling", "Task_Avsluta",
            "Task_Lardomar")}
    assert "Task_BedomningVerksamhetschef" not in records(engine, row.id)
    case = facts(engine, row.id)
    assert (case.clinic, case.unit, case.serious, case.risk_class, case.expertise) == \
        ("hs-kir", "hs-kir-halmstad", False, "grön", False)
    done = records(engine, row.id)
    assert done["Task_Utredning"].indicator == "undersokelse"
    assert done["Task_Aterkoppling"].indicator == "tilbakemelding"
    assert done["Task_GenomforAtgard"].indicator == "tiltak"
    assert "Task_AnmalanIVO" not in done and "Task_LexMariaBedomning" not in done
    feedback = [n for n in notes(engine) if n[1] == "tilbakemelding"]
    assert [(n[0], n[2]) for n in feedback] == [(REPORTER, "sv")]  # one, in Swedish
    assert "Dubbelkontroll av insulin är nu införd" in feedback[0][3]


def test_a_serious_deviation_is_reported_to_ivo_in_time_and_the_investigation_follows(
        halland, clock):
    engine = halland.engine
    row = halland.report()
    halland.assess(row.id, konsekvens=3, sannolikhet=2, vardskada=True)
    data = variables(engine, row.id)
    assert (data["risikoklasse"], data["alvorlig"]) == ("gul", True)  # serious: vårdskada
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_LexMariaBedomning",
                                                        ["chefslakare"])
    assert not engine.tasks.find(actor=UNIT_CHIEF, instance_id=row.id)
    assert not engine.tasks.find(actor=CHIEF, instance_id=row.id)

    clock.advance(days=1)
    halland.decide_lex_maria(row.id, report_to_ivo=True)
    decided = clock.now()
    notification = task_for(engine, PHYSICIAN, "Task_AnmalanIVO", row.id)
    assert records(engine, row.id)["Task_AnmalanIVO"].indicator == "lovpalagt-varsel"
    assert utc(notification.due_at) == decided + timedelta(days=7)  # "snarast"
    assert utc(engine.history.instance(row.id).next_timer_at) == decided + timedelta(days=7)

    clock.advance(days=2)
    halland.report_to_ivo(row.id)
    assert engine.history.instance(row.id).next_timer_at is None
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == \
        ["Task_UtredningAllvarlig"]
    halland.investigate(row.id, serious=True)
    # the investigation goes to IVO after the report, as soon as it is done
    halland.complete(PHYSICIAN, "Task_SkickaUtredningIVO", row.id, {
        "ivo_utredning_datum": "2026-01-20"})
    assert records(engine, row.id)["Task_SkickaUtredningIVO"].indicator is None  # once
    halland.decide_measures(row.id, [])  # none needed: straight on to the feedback
    halland.close(row.id)
    assert engine.history.instance(row.id).status == "completed"
    assert elements(engine, row.id) == [
        "Task_Bedomning", "Task_LexMariaBedomning", "Task_AnmalanIVO",
        "Task_UtredningAllvarlig", "Task_SkickaUtredningIVO", "Task_BeslutaAtgarder",
        "Task_Aterkoppling", "Task_Avsluta", "Task_Lardomar"]
    assert [n for n in notes(engine) if n[1] == "avvikelse-eskalering"] == []

    clock.advance(days=30)
    [total] = [f for f in indicators.figures(engine) if f.group == ""]
    assert (total.notifications_on_time.part, total.notifications_on_time.whole) == (1, 1)
    assert (total.expertise.part, total.expertise.whole) == (1, 1)
    case = facts(engine, row.id)
    assert (case.serious, case.expertise, case.risk_class) == (True, True, "gul")


def test_a_late_report_to_ivo_is_escalated_to_the_management(halland, clock):
    engine = halland.engine
    row = halland.report()
    halland.assess(row.id, konsekvens=4, sannolikhet=4)  # red: serious without vårdskada
    assert variables(engine, row.id)["alvorlig"] is True
    halland.decide_lex_maria(row.id, report_to_ivo=True)
    due = clock.now() + timedelta(days=7)

    clock.set(due - timedelta(minutes=1))
    assert sweep(engine).fired == 0
    clock.set(due + timedelta(seconds=1))
    assert sweep(engine).fired == 1
    assert sweep(engine).fired == 0  # once only
    [(user, template, language, body)] = [n for n in notes(engine)
                                          if n[1] == "avvikelse-eskalering"]
    assert (user, language) == (MANAGEMENT, "sv")
    assert "lex Maria" in body and "2026-01-04" in body and "hs-kir" in body
    with engine.db.transaction() as session:
        mail = session.scalars(select(OutboxMail).where(
            OutboxMail.to_address == "goran@regionhalland.example")).one()
        assert content(session, mail)[0] == "Meddelande från Tiltak"

    late = task_for(engine, PHYSICIAN, "Task_AnmalanIVO", row.id)  # still to be done
    clock.advance(days=1)
    engine.tasks.complete(late.id, actor=PHYSICIAN, data={
        "ivo_anmalan_datum": "2026-01-14",
        "ivo_anmalan_sammanfattning": "Anmälan skickad efter tidsfristen."})
    assert [e.type for e in engine.history.events(row.id)].count("timer") == 1
    [total] = [f for f in indicators.figures(engine) if f.group == ""]
    assert (total.notifications_on_time.part, total.notifications_on_time.whole) == (0, 1)
    record = records(engine, row.id)["Task_AnmalanIVO"]
    assert utc(record.ended_at) > utc(record.due_at)


def test_an_assessment_waiting_three_days_moves_to_the_clinic_head_who_keeps_the_case(
        halland, clock):
    """The unit chief has three days; then the clinic head gets the assessment and every
    later leader step, and is reminded when the five days of the assessment are over."""
    engine = halland.engine
    started = clock.now()
    row = halland.report()
    first = task_for(engine, UNIT_CHIEF, "Task_Bedomning", row.id)
    assert utc(engine.history.instance(row.id).next_timer_at) == started + timedelta(days=3)
    assert not engine.tasks.find(actor=CHIEF, instance_id=row.id)

    clock.set(started + timedelta(days=2, hours=23))
    assert sweep(engine).fired == 0
    clock.set(started + timedelta(days=3, seconds=1))
    assert sweep(engine).fired == 1
    assert sweep(engine).fired == 0  # once only
    moved = clock.now()
    assert not engine.tasks.find(actor=UNIT_CHIEF, instance_id=row.id)
    with pytest.raises(NotFound):  # the unit chief's task is gone
        engine.tasks.complete(first.id, actor=UNIT_CHIEF, data={})
    assert records(engine, row.id)["Task_Bedomning"].outcome == "cancelled"
    task = task_for(engine, CHIEF, "Task_BedomningVerksamhetschef", row.id)
    assert task.candidate_groups == ["leder-hs-kir"]
    assert utc(task.due_at) == moved + timedelta(days=2)  # five days from the report
    assert not engine.tasks.find(actor=OTHER_CHIEF, instance_id=row.id)
    assert variables(engine, row.id)["ansvarig_grupp"] == "leder-hs-kir"

    clock.set(moved + timedelta(days=1, hours=23))
    assert sweep(engine).fired == 0
    clock.set(moved + timedelta(days=2, seconds=1))
    assert sweep(engine).fired == 1
    reminders = [n for n in notes(engine) if n[1] == "avvikelse-paminnelse"]
    assert [(n[0], n[2]) for n in reminders] == [(CHIEF, "sv")]  # not the other clinic
    assert "inte bedömts inom fem dagar" in reminders[0][3]
    assert "hs-kir-halmstad" in reminders[0][3]
    assert task_for(engine, CHIEF, "Task_BedomningVerksamhetschef", row.id).id == task.id

    halland.leader = CHIEF
    halland.assess(row.id, konsekvens=1, sannolikhet=2, element="Task_BedomningVerksamhetschef")
    assert engine.history.instance(row.id).next_timer_at is None
    assert records(engine, row.id)["Task_BedomningVerksamhetschef"].outcome == "completed"
    assert variables(engine, row.id)["risikoklasse"] == "grön"
    halland.investigate(row.id, serious=False)
    assert not engine.tasks.find(actor=UNIT_CHIEF, instance_id=row.id)  # the case stays moved
    halland.decide_measures(row.id, [])
    halland.close(row.id)
    assert engine.history.instance(row.id).status == "completed"
    assert {element: halland.groups[element] for element in LEADER_TASKS
            if element in halland.groups} == {
        element: ["leder-hs-kir"] for element in (
            "Task_Utredning", "Task_BeslutaAtgarder", "Task_Aterkoppling", "Task_Avsluta",
            "Task_Lardomar")}
    assert elements(engine, row.id) == [
        "Task_BedomningVerksamhetschef", "Task_Utredning", "Task_BeslutaAtgarder",
        "Task_Aterkoppling", "Task_Avsluta", "Task_Lardomar"]
    assert verify_instance(engine, row.id).ok


def test_a_serious_investigation_does_not_go_on_without_subject_matter_expertise(halland):
    engine = halland.engine
    row = halland.report()
    halland.assess(row.id, konsekvens=3, sannolikhet=3)  # red
    halland.decide_lex_maria(row.id, report_to_ivo=False)
    task = task_for(engine, UNIT_CHIEF, "Task_UtredningAllvarlig", row.id)
    findings = {"utredning_resultat": "Överrapporteringen saknade läkemedelsgenomgång."}

    with pytest.raises(InvalidInput) as refused:
        engine.tasks.complete(task.id, actor=UNIT_CHIEF, data=findings)
    assert refused.value.errors == {"sakkompetens": "is required",
                                    "sakkompetens_vem": "is required"}
    with pytest.raises(InvalidInput) as refused:
        engine.tasks.complete(task.id, actor=UNIT_CHIEF, data=dict(
            findings, sakkompetens=False, sakkompetens_vem="Ingen"))
    assert refused.value.errors == {"sakkompetens": "must be checked"}
    assert task_for(engine, UNIT_CHIEF, "Task_UtredningAllvarlig", row.id).id == task.id
    assert "Task_UtredningAllvarlig" not in elements(engine, row.id)
    assert facts(engine, row.id).expertise is None

    halland.clock.advance(hours=1)
    engine.tasks.complete(task.id, actor=UNIT_CHIEF, data=dict(
        findings, sakkompetens=True, sakkompetens_vem="Överläkare i endokrinologi"))
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == ["Task_BeslutaAtgarder"]
    assert facts(engine, row.id).expertise is True


def test_the_chief_physician_may_decide_not_to_report_and_says_why(halland):
    engine = halland.engine
    row = halland.report()
    halland.assess(row.id, konsekvens=2, sannolikhet=2, vardskada=True)
    halland.decide_lex_maria(row.id, report_to_ivo=False)
    data = variables(engine, row.id)
    assert data["anmalan_ivo"] == "nej"
    assert data["lex_maria_motivering"].startswith("Ingen vårdskada")
    [decision] = [e for e in engine.history.events(row.id)
                  if e.element_id == "Task_LexMariaBedomning"]
    assert decision.actor == PHYSICIAN
    assert json.loads(decision.data)["values"]["lex_maria_motivering"] == \
        data["lex_maria_motivering"]
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == \
        ["Task_UtredningAllvarlig"]

    halland.investigate(row.id, serious=True)
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == ["Task_BeslutaAtgarder"]
    halland.decide_measures(row.id, [MEASURE, dict(MEASURE, titel="Utbildning i insulin",
                                                   ansvarig="lena")])
    assert sorted(t.assignee for t in engine.tasks.find(instance_id=row.id)) == ["lena", OWNER]
    # one measure is carried out, the other ended with a reason; both are needed to close
    halland.carry_out_measures(row.id, ended={
        "Utbildning i insulin": "Ersätts av den regionala utbildningen i läkemedelshantering"})
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == ["Task_Aterkoppling"]
    halland.close(row.id)
    assert engine.history.instance(row.id).status == "completed"
    assert elements(engine, row.id).count("Task_KontrolleraAtgard") == 2
    done = records(engine, row.id)
    assert "Task_AnmalanIVO" not in done and "Task_SkickaUtredningIVO" not in done
    with engine.db.transaction() as session:
        assert not session.scalars(select(TaskRecord).where(
            TaskRecord.indicator == "lovpalagt-varsel")).all()


def test_a_red_deviation_is_not_closed_without_a_measure_or_the_chiefs_reason(halland):
    """The rule of tiltakskrav.dmn, shared with the Norwegian routine."""
    engine = halland.engine
    row = halland.report()
    halland.assess(row.id, konsekvens=4, sannolikhet=2)
    data = variables(engine, row.id)
    assert (data["risikoklasse"], data["tiltak_kreves"]) == ("röd", True)
    halland.decide_lex_maria(row.id, report_to_ivo=False)
    halland.investigate(row.id, serious=True)
    with pytest.raises(InvalidInput) as refused:
        halland.decide_measures(row.id, [])  # the optional reason is not enough
    assert set(refused.value.errors) == {"motivering_utan_atgarder"}
    with pytest.raises(InvalidInput):  # nor is saying the rule does not apply
        halland.complete(UNIT_CHIEF, "Task_BeslutaAtgarder", row.id,
                         {"beslutade_atgarder": [], "tiltak_kreves": False})
    halland.decide_measures(row.id, [], red=True)
    assert variables(engine, row.id)["motivering_utan_atgarder"].startswith("Utredningen")
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == ["Task_Aterkoppling"]


def test_an_anonymous_reporter_is_named_nowhere_and_reads_the_feedback(halland):
    engine = halland.engine
    row = halland.report(anonym=True, sensitiv=False,
                 epost_tilbakemelding="privat@example.org")
    code = row.receipt_code
    assert engine.history.instance(row.id).started_by == "anonym"
    assert engine.history.receipt(code)["feedback"] is None
    halland.assess(row.id, konsekvens=1, sannolikhet=2)
    halland.investigate(row.id, serious=False)
    halland.decide_measures(row.id, [])
    halland.close(row.id, feedback="Tack för din rapport. Rutinen för skiftbyte är ändrad.")

    seen = engine.history.receipt(code)
    assert (seen["status"], seen["feedback"]) == \
        ("completed", "Tack för din rapport. Rutinen för skiftbyte är ändrad.")
    assert seen["process"] == "Avvikelsehantering i Region Halland"
    with engine.db.transaction() as session:
        recorded = " ".join(f"{e.actor} {e.data}" for e in session.scalars(
            select(HistoryEvent).where(HistoryEvent.stream == row.id)))
        mail = session.scalars(select(OutboxMail).where(
            OutboxMail.to_address == "privat@example.org")).one()
        assert mail.subject.startswith("Återkoppling på din anmälan")  # the reporter's sv
        assert "Rutinen för skiftbyte är ändrad" in mail.body
        assert session.scalars(select(Notification).where(
            Notification.user_name == REPORTER)).all() == []
    shown = str(engine.history.show(row.id))
    for trace in (REPORTER, "Astrid", "privat@example.org"):
        assert trace not in recorded and trace not in shown
    assert facts(engine, row.id).anonymous is True
    assert not engine.history.may_view(REPORTER, row.id)



def test_a_risk_is_assessed_investigated_and_followed_by_measures_but_not_lex_maria(halland):
    """A risk has not happened: even a red one goes to the investigation with
    subject-matter expertise, never to the chief physician's lex Maria decision."""
    engine = halland.engine
    row = halland.report(rapporttyp="risk", vad_hande="Insulinpennorna för två patienter "
                         "förvaras i samma fack och förväxlas lätt.")
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_Bedomning",
                                                        ["leder-hs-kir-halmstad"])
    halland.assess(row.id, konsekvens=4, sannolikhet=3)
    data = variables(engine, row.id)
    assert (data["rapporttyp"], data["risikoklasse"], data["alvorlig"]) == \
        ("risk", "röd", True)
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_UtredningAllvarlig",
                                                        ["leder-hs-kir-halmstad"])
    assert not engine.tasks.find(actor=PHYSICIAN, instance_id=row.id)
    halland.investigate(row.id, serious=True)
    halland.decide_measures(row.id, [dict(MEASURE, titel="Separata fack för insulinpennor")])
    halland.carry_out_measures(row.id)
    halland.close(row.id)
    assert engine.history.instance(row.id).status == "completed"
    assert elements(engine, row.id) == [
        "Task_Bedomning", "Task_UtredningAllvarlig", "Task_BeslutaAtgarder",
        "Task_GenomforAtgard", "Task_KontrolleraAtgard", "Task_Aterkoppling", "Task_Avsluta",
        "Task_Lardomar"]
    assert (facts(engine, row.id).serious, facts(engine, row.id).expertise) == (True, True)


def test_a_good_example_is_acknowledged_by_the_unit_chief_and_goes_to_the_lessons(halland):
    engine = halland.engine
    row = halland.report(rapporttyp="gott_exempel", anonym=False, vad_hande=(
        "Nattpasset gick igenom alla insulinordinationer tillsammans vid skiftbytet."))
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_GottExempel",
                                                        ["leder-hs-kir-halmstad"])
    with pytest.raises(InvalidInput) as refused:  # the reporter is thanked, always
        engine.tasks.complete(task.id, actor=UNIT_CHIEF, data={
            "gott_exempel_bedomning": "Gemensam genomgång fångar dubbla doser."})
    assert refused.value.errors == {"tilbakemelding": "is required"}
    halland.complete(UNIT_CHIEF, "Task_GottExempel", row.id, {
        "tilbakemelding": "Tack! Vi tar upp arbetssättet på nästa APT.",
        "gott_exempel_bedomning": "Gemensam genomgång fångar dubbla doser."})

    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_Lardomar",
                                                        ["leder-hs-kir-halmstad"])
    data = variables(engine, row.id)
    assert "risikoklasse" not in data and "tiltak_kreves" not in data  # no risk class
    halland.learn(row.id, spread=("enhet", "klinik"))  # not beyond the clinic
    assert engine.history.instance(row.id).status == "completed"
    assert elements(engine, row.id) == ["Task_GottExempel", "Task_Lardomar"]
    assert records(engine, row.id)["Task_GottExempel"].indicator == "tilbakemelding"
    feedback = [n for n in notes(engine) if n[1] == "tilbakemelding"]
    assert [(n[0], n[2]) for n in feedback] == [(REPORTER, "sv")]
    assert "nästa APT" in feedback[0][3]


def test_a_lesson_spread_in_the_region_reaches_the_other_clinics_coordinators(halland):
    """Marked for the whole region, the lesson becomes a task for the patient-safety
    coordinators of every other Halland clinic (not the own one, not Norway's), and the
    case ends when each has acknowledged it."""
    engine = halland.engine
    row = halland.report(rapporttyp="gott_exempel")
    assert [c["value"] for c in engine.history.show(row.id)["data"]["klinikval"]] == \
        ["hs-kir", "hs-med"]  # the region's clinics, kept with the case at the start
    halland.complete(UNIT_CHIEF, "Task_GottExempel", row.id, {
        "tilbakemelding": "Tack för att du delar med dig!",
        "gott_exempel_bedomning": "Enkelt att införa på alla vårdavdelningar."})
    halland.learn(row.id, spread=("klinik", "region"))

    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_KvitteraLardom",
                                                        ["kpu-sekretariat-hs-med"])
    assert not engine.tasks.find(actor=COORDINATOR, instance_id=row.id)  # the own clinic
    assert engine.history.instance(row.id).status == "running"
    context = engine.tasks.task_context(task)
    assert context["lardomar"].startswith("Läkemedel ska ingå")
    with pytest.raises(InvalidInput) as refused:
        engine.tasks.complete(task.id, actor=OTHER_COORDINATOR, data={"lardom_mottagen": False})
    assert refused.value.errors == {"lardom_mottagen": "must be checked"}

    halland.complete(OTHER_COORDINATOR, "Task_KvitteraLardom", row.id, {
        "lardom_mottagen": True,
        "lardom_spridning_klinik": "Tas upp i Medicinklinikens patientsäkerhetsråd."})
    assert engine.history.instance(row.id).status == "completed"
    [received] = [e for e in engine.history.events(row.id) if e.element_id == "Task_KvitteraLardom"]
    assert received.actor == OTHER_COORDINATOR
    engine.context_variables = dict  # a replay needs no organisation file
    assert verify_instance(engine, row.id).ok


def test_a_deviation_whose_lesson_goes_to_the_forvaltning_also_reaches_the_other_clinic(
        halland):
    engine = halland.engine
    row = halland.report(klinikk="hs-med", enhet="hs-med-varberg")
    halland.leader = "maria"  # avdelningschef, Medicinavdelningen Varberg
    halland.assess(row.id, konsekvens=1, sannolikhet=1)
    halland.investigate(row.id, serious=False)
    halland.decide_measures(row.id, [])
    halland.close(row.id, spread=("forvaltning",))
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_KvitteraLardom",
                                                        ["kpu-sekretariat-hs-kir"])
    halland.complete(COORDINATOR, "Task_KvitteraLardom", row.id, {"lardom_mottagen": True})
    assert engine.history.instance(row.id).status == "completed"


def test_the_report_offers_the_organisations_swedish_units_and_refuses_others(halland):
    engine = halland.engine
    for unit in ("hs-kir-kungsbacka", "kir-gastro"):  # unknown; a Norwegian unit
        with pytest.raises(InvalidInput) as refused:
            halland.report(enhet=unit)
        assert set(refused.value.errors) == {"enhet"}
        assert "hs-kir-halmstad" in refused.value.errors["enhet"]
    with pytest.raises(InvalidInput) as refused:
        halland.report(klinikk="kir")
    assert set(refused.value.errors) == {"klinikk"}
    with pytest.raises(InvalidInput) as refused:
        halland.report(rapporttyp="klagomal")
    assert set(refused.value.errors) == {"rapporttyp"}
    with engine.db.transaction() as session:
        assert session.scalars(select(ProcessInstance)).first() is None  # nothing started

