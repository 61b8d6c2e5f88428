"""The Norwegian deviation-handling routine (`avvikshandtering`), walked end to end by its
real users with a moved clock, on SQLite and PostgreSQL.

An employee reports; the leader of the unit where it happened assesses within three days,
else the clinic head does (reminded at five), and that leader has the case from then on;
the decision table gives the risk class; a serious event is notified to Statens
helsetilsyn and Ukom by the end of the day after it became known, counted from the report
(created at once when reported as serious; management is told when it is late); the
patient, the relatives and the staff involved are followed up; the investigation of a
serious event cannot go on without subject-matter expertise; a cross-clinic event
analysis runs the six-step routine inside the case; the measures run through the shared
measure process, the reporter gets feedback (also an anonymous one, with the receipt
code), and the case closes only when every measure is finished, followed by a learning
note for the quality committee that other clinics' secretariats acknowledge.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from random_walk import Values, World
from sqlalchemy import select

from engine.errors import DefinitionError, InvalidInput, PermissionDenied
from engine.history.replay import verify_all
from engine.models import CaseFacts, OutboxMail, TaskRecord
from engine.timers import sweep
from forms.resolve import form_for
from routines import indicators

from walks import KPU, PROCESSES, SECRETARIAT, review_rows, task_for

PROCESS = "avvikshandtering"
# the case is in kir-gastro: ola leads the unit, kirsten the clinic, mats another clinic
REPORTER, LEADER, CLINIC_HEAD, OTHER_LEADER = "nora", "ola", "kirsten", "mats"
NOTIFIER, MANAGEMENT, ANALYSTS = "vilde", "are", "frida"
REPORTED_AT = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the FixedClock's start
REPORT = {
    "hva_skjedde": "Pasienten fikk dobbel dose insulin etter overflytting fra intensiv.",
    "hendelsesdato": "2026-01-04", "klinikk": "kir", "enhet": "kir-gastro",
    "hendelsestype": "legemiddel", "strakstiltak": "Blodsukker målt hver time, lege tilkalt.",
}
GREEN = {"konsekvens": "1", "sannsynlighet": "2", "alvorlig": False,
         "vurdering": "Avvik i dobbeltkontrollen, ingen skade på pasienten."}
OSLO = ZoneInfo("Europe/Oslo")  # the engine's local zone unless TILTAK_TIMEZONE says else
SERIOUS = {"konsekvens": "4", "sannsynlighet": "2", "alvorlig": True,
           "vurdering": "Pasienten fikk alvorlig hypoglykemi og ble lagt på intensiv."}
NOTIFIED = {"varsel_sendt": True, "varsel_tidspunkt": "2026-01-05",
            "varsel_referanse": "HT-2026-0042", "pasient_informert": True}
FINDINGS = {"funn": "Ordinasjonen ble ført inn to ganger ved overflyttingen.",
            "arsaker": "Ingen felles rutine for legemiddelsamstemming ved overflytting."}


def utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment and not moment.tzinfo else moment


def later(clock, **delta) -> None:
    """People take their time between steps (one command's moment is frozen)."""
    clock.advance(**(delta or {"hours": 2}))


def open_elements(engine, instance_id: str) -> list[str]:
    return sorted(t.element_id for t in engine.tasks.find(instance_id=instance_id))


def risk_class(engine, instance_id: str) -> str:
    """What the decision table gave, as the open task sees it."""
    task = engine.tasks.find(instance_id=instance_id)[0]
    return engine.tasks.task_context(task)["risikoklasse"]


def facts(engine, instance_id: str) -> CaseFacts:
    with engine.db.transaction() as session:
        return session.get(CaseFacts, instance_id)


def records(engine, instance_id: str, element_id: str) -> list[TaskRecord]:
    with engine.db.transaction() as session:
        return list(session.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == instance_id, TaskRecord.element_id == element_id)
            .order_by(TaskRecord.created_at)))


def replays_ok(engine) -> None:
    bad = [v.as_dict() for v in verify_all(engine) if not v.ok]
    assert not bad, bad


def report(engine, actor: str = REPORTER, **changes):
    data = {**REPORT, "anonym": False, "sensitiv": False, **changes}
    return engine.runtime.start(PROCESS, actor=actor, data=data, business_key="AVVIK-2026-0001")


def complete(engine, clock, user: str, element_id: str, instance_id: str, data: dict):
    later(clock)
    task = task_for(engine, user, element_id, instance_id)
    engine.tasks.complete(task.id, actor=user, data=data)
    return task


def assess(engine, clock, instance_id: str, assessment: dict) -> None:
    complete(engine, clock, LEADER, "Task_Vurdering", instance_id, assessment)


PEOPLE = ("Task_OppfolgingPasient", "Task_OppfolgingPersonell")


def follow_up_people(engine, clock, instance_id: str, leader: str = LEADER) -> None:
    """After a serious event: the patient and relatives, and the staff involved."""
    complete(engine, clock, leader, "Task_OppfolgingPasient", instance_id, {
        "kontaktet": ["pasient", "parorende"], "pasient_samtale_dato": "2026-01-06",
        "pasient_oppfolging": "Informert om hendelsen og tilbudt møte med overlegen.",
        "pasient_kontaktperson": "Seksjonsleder Ola Olsen"})
    complete(engine, clock, leader, "Task_OppfolgingPersonell", instance_id, {
        "personell_tiltak": ["samtale", "debrifing"],
        "personell_oppfolging": "Samtale etter vakt, oppfølging om to uker.",
        "personell_kontaktperson": "Seksjonsleder Ola Olsen"})


def investigate(engine, clock, instance_id: str, *, expertise: bool = True,
                analysis: bool = False) -> None:
    data = {**FINDINGS, "sakkompetens": expertise, "hendelsesanalyse": analysis}
    if expertise:
        data["sakkompetanse_hvem"] = "Overlege i endokrinologi, farmasøyt"
    complete(engine, clock, LEADER, "Task_Undersokelse", instance_id, data)


def decide(engine, clock, instance_id: str, measures: list[dict], reason: str = "",
           *, red: bool = False) -> None:
    """The leader's measures; with none on a red case, the reason the rule asks for."""
    data = {"vedtatte_tiltak": measures}
    if reason:
        data["begrunnelse_uten_tiltak" if red and not measures else "tiltak_begrunnelse"] = reason
    complete(engine, clock, LEADER, "Task_BestemTiltak", instance_id, data)


def feedback(engine, clock, instance_id: str, text: str) -> None:
    complete(engine, clock, LEADER, "Task_Tilbakemelding", instance_id,
             {"tilbakemelding": text})


def close_and_learn(engine, clock, instance_id: str, spread_to: tuple[str, ...] = ()) -> None:
    complete(engine, clock, LEADER, "Task_Avslutt", instance_id, {
        "avslutning_oppsummering": "Samstemming ved overflytting er innført og kontrollert.",
        "tiltak_fulgt_opp": True})
    complete(engine, clock, LEADER, "Task_Laeringsnotat", instance_id, {
        "laeringsnotat_tittel": "Dobbel ordinasjon ved overflytting",
        "laeringsnotat": "Ved overflytting ble insulin ordinert to ganger. Vi har innført "
                         "samstemming av legemiddellisten ved hver overflytting.",
        "spredning_forslag": ["klinikk", "regionalt"]})
    complete(engine, clock, KPU["kir"], "Task_KpuLaering", instance_id, {
        "kpu_laering_dato": "2026-03-10", "spredning": ["klinikk", "foretak"],
        "laering_mottakere": list(spread_to),
        "kpu_laering_vurdering": "Notatet spres til alle sengeposter i foretaket."})


MEASURES = [
    {"tittel": "Samstemming av legemiddellisten ved overflytting",
     "beskrivelse": "Sjekkliste i mottakende post", "ansvarlig": "ola",
     "frist": "2026-02-15"},
    {"tittel": "Felles opplæring i insulinbehandling", "ansvarlig": "nora",
     "frist": "2026-03-01", "klinikk": "med"},
]


def measure_tasks(engine, instance_id: str) -> list:
    return [t for t in engine.tasks.find(instance_id=instance_id) if t.process_key == "tiltak"]


def finish_measure(engine, clock, instance_id: str, title: str, *,
                   end_with_reason: str | None = None, seed: int = 1) -> None:
    """Walk every measure with this title through the shared measure process, whatever
    its tasks are now: carried out and approved (or ended with a reason at the control),
    any other task of it filled in with valid values from its form."""
    world, rng = World.demo(), random.Random(seed)
    for _ in range(40):
        mine = [t for t in measure_tasks(engine, instance_id)
                if engine.tasks.task_context(t)["tiltak"]["tittel"] == title]
        if not mine:
            return
        task = mine[0]
        user = task.assignee or world.people.members(task.candidate_groups)[0]
        later(clock)
        if task.element_id == "Task_GjennomforTiltak":
            data = {"gjennomfort_dato": clock.now().date().isoformat(),
                    "gjennomfort_beskrivelse": "Innført og gjennomgått med alle vakter"}
        elif task.element_id == "Task_KontrollerTiltak":
            data = {"tiltak_avsluttes": True, "avslutningsgrunn": end_with_reason} \
                if end_with_reason else {"tiltak_godkjent": True}
        else:
            form = form_for(task.form or {}, lambda ref, t=task: engine.repository.form_document(
                ref, t.definition_id))
            data = Values(rng, world, clock.now().date(), task.process_key).for_form(
                form, engine.tasks.task_context(task))
        engine.tasks.complete(task.id, actor=user, data=data)
    raise AssertionError(f"measure {title!r} did not finish")


# ------------------------------------------------------------------ the whole routine
def test_a_green_case_is_assessed_investigated_followed_up_and_closed(deployed, clock):
    engine = deployed
    row = report(engine)
    assert row.receipt_code and row.started_by == REPORTER

    # the unit's leader assesses, within three days; not the clinic head, not another clinic
    [task] = engine.tasks.find(instance_id=row.id)
    assert (task.element_id, task.candidate_groups) == ("Task_Vurdering", ["leder-kir-gastro"])
    assert utc(task.due_at) == REPORTED_AT + timedelta(days=3)
    assert task.clinic == "kir"
    assert engine.tasks.find(actor=OTHER_LEADER) == []
    assert engine.tasks.find(actor=CLINIC_HEAD) == []
    later(clock)
    with pytest.raises(PermissionDenied):
        engine.tasks.complete(task.id, actor=OTHER_LEADER, data=GREEN)
    with pytest.raises(InvalidInput) as err:
        engine.tasks.complete(task.id, actor=LEADER, data={**GREEN, "konsekvens": "5"})
    assert set(err.value.errors) == {"konsekvens"}
    assess(engine, clock, row.id, GREEN)

    # the decision table: consequence 1 x probability 2 is green; no notification
    assert open_elements(engine, row.id) == ["Task_Undersokelse"]
    assert risk_class(engine, row.id) == "grønn"
    assert facts(engine, row.id).risk_class == "grønn"  # the dashboard sees it at once
    investigate(engine, clock, row.id, expertise=False)  # not required: not serious
    decide(engine, clock, row.id, MEASURES[:1])

    # the measure runs, the reporter can be told meanwhile; closing waits for both
    [measure] = measure_tasks(engine, row.id)
    assert (measure.assignee, utc(measure.due_at).date()) == ("ola", date(2026, 2, 15))
    assert task_for(engine, LEADER, "Task_Tilbakemelding", row.id).candidate_groups == \
        ["leder-kir-gastro"]  # the leader who assessed has the case
    assert engine.tasks.task_context(measure)["tiltak"]["klinikk"] == "kir"  # the case's clinic
    assert open_elements(engine, row.id) == ["Task_GjennomforTiltak", "Task_Tilbakemelding"]
    feedback(engine, clock, row.id, "Takk for meldingen. Vi innfører samstemming ved "
                                    "overflytting.")
    assert [n.template for n in engine.identity.notifications(REPORTER)] == ["tilbakemelding"]
    assert "Task_Avslutt" not in open_elements(engine, row.id)
    finish_measure(engine, clock, row.id, MEASURES[0]["tittel"])
    assert open_elements(engine, row.id) == ["Task_Avslutt"]

    close_and_learn(engine, clock, row.id)
    shown = engine.history.show(row.id)
    assert shown["status"] == "completed" and shown["open_tasks"] == []
    [diagram] = [d for d in engine.history.progress(row.id) if d["process_key"] == PROCESS]
    assert "End_Lukket" in diagram["completed"]
    assert "Task_LovpalagtVarsel" not in diagram["completed"]
    case = facts(engine, row.id)
    assert (case.clinic, case.unit, case.serious, case.risk_class) == \
        ("kir", "kir-gastro", False, "grønn")
    assert engine.history.receipt(row.receipt_code)["status"] == "completed"
    replays_ok(engine)


def test_a_serious_case_is_notified_in_time_and_investigated_with_expertise(deployed,
                                                                          clock):
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, SERIOUS)
    assert risk_class(engine, row.id) == "rød"  # 4 x 2
    assert (facts(engine, row.id).serious, facts(engine, row.id).risk_class) == (True, "rød")

    # the statutory notice: straks, at the latest by the end of the local day after the
    # report; the patient, the relatives and the staff involved are followed up meanwhile
    assert open_elements(engine, row.id) == sorted(["Task_LovpalagtVarsel", *PEOPLE])
    task = task_for(engine, NOTIFIER, "Task_LovpalagtVarsel", row.id)
    assert task.candidate_groups == ["leder-kir", "varslingsansvarlig"]
    end_of_next_day = end_of_local_day(REPORTED_AT, days_later=1)
    assert utc(task.due_at) == end_of_next_day
    assert utc(engine.history.instance(row.id).next_timer_at) == end_of_next_day + \
        timedelta(seconds=1)
    assert [t.id for t in engine.tasks.find(actor=NOTIFIER)] == [task.id]
    for element in PEOPLE:  # the leader who has the case, not the notifier
        assert task_for(engine, LEADER, element, row.id).candidate_groups == \
            ["leder-kir-gastro"]
    later(clock)
    with pytest.raises(InvalidInput) as err:
        engine.tasks.complete(task.id, actor=NOTIFIER, data={**NOTIFIED, "varsel_sendt": False})
    assert set(err.value.errors) == {"varsel_sendt"}
    engine.tasks.complete(task.id, actor=NOTIFIER, data=NOTIFIED)
    [record] = records(engine, row.id, "Task_LovpalagtVarsel")
    assert (record.indicator, record.outcome, record.completed_by) == \
        ("lovpalagt-varsel", "completed", NOTIFIER)
    assert utc(record.ended_at) <= utc(record.due_at)

    clock.set(end_of_next_day + timedelta(days=1))
    assert sweep(engine).fired == 0  # sent in time: nothing to escalate
    assert engine.identity.notifications(MANAGEMENT) == []
    investigate(engine, clock, row.id, expertise=True)
    assert open_elements(engine, row.id) == sorted(["Task_BestemTiltak", *PEOPLE])
    case = facts(engine, row.id)
    assert (case.serious, case.risk_class, case.expertise) == (True, "rød", True)
    replays_ok(engine)


def test_closing_a_serious_case_waits_for_the_follow_up_of_the_people_involved(deployed,
                                                                               clock):
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, SERIOUS)
    complete(engine, clock, NOTIFIER, "Task_LovpalagtVarsel", row.id, NOTIFIED)
    investigate(engine, clock, row.id, expertise=True)
    decide(engine, clock, row.id, [], reason="Dekkes av tiltak i en annen sak.", red=True)
    feedback(engine, clock, row.id, "Hendelsen er varslet og undersøkt.")
    assert open_elements(engine, row.id) == list(PEOPLE)  # not Task_Avslutt yet
    with pytest.raises(InvalidInput) as err:  # who was contacted is not optional
        complete(engine, clock, LEADER, "Task_OppfolgingPasient", row.id,
                 {"pasient_oppfolging": "Informert.", "pasient_kontaktperson": "Ola"})
    assert set(err.value.errors) == {"kontaktet", "pasient_samtale_dato"}
    follow_up_people(engine, clock, row.id)
    assert open_elements(engine, row.id) == ["Task_Avslutt"]
    data = engine.history.show(row.id)["data"]
    assert data["pasient_kontaktperson"] and data["personell_tiltak"] == ["samtale", "debrifing"]
    close_and_learn(engine, clock, row.id)
    assert engine.history.show(row.id)["status"] == "completed"
    replays_ok(engine)


def end_of_local_day(moment: datetime, days_later: int) -> datetime:
    """The last second, in UTC, of the local day that many days after `moment`'s own."""
    day = moment.astimezone(OSLO).date() + timedelta(days=days_later)
    return datetime.combine(day, time(23, 59, 59), OSLO).astimezone(UTC)


@pytest.mark.parametrize("reported", [
    datetime(2026, 1, 9, 23, 30, tzinfo=UTC),  # 00:30 on 10 January in Oslo
    datetime(2026, 1, 10, 22, 30, tzinfo=UTC),  # 23:30 on 10 January in Oslo
    datetime(2026, 6, 9, 22, 30, tzinfo=UTC),  # 00:30 on 10 June (summer time)
])
def test_a_report_marked_serious_is_to_be_notified_by_the_next_local_day_around_midnight(
        deployed, clock, reported):
    """Reported as serious at 00:30 on 10 January (Oslo): the notice is a task at once,
    before any assessment, due by the end of 11 January, escalated only after."""
    engine = deployed
    clock.set(reported)
    row = report(engine, alvorlig_meldt=True)
    assert open_elements(engine, row.id) == ["Task_VarselStraks", "Task_Vurdering"]
    task = task_for(engine, NOTIFIER, "Task_VarselStraks", row.id)
    deadline = utc(task.due_at)
    assert deadline == end_of_local_day(reported, days_later=1)
    assert deadline.astimezone(OSLO).date() == \
        reported.astimezone(OSLO).date() + timedelta(days=1)
    assert utc(engine.history.instance(row.id).next_timer_at) == deadline + timedelta(seconds=1)
    clock.set(deadline)  # the last second of the next local day: not late yet
    sweep(engine)  # (the unit leader's three days may run out too; in June the review)
    assert engine.identity.notifications(MANAGEMENT) == []
    clock.set(deadline + timedelta(seconds=2))
    sweep(engine)
    assert [n.template for n in engine.identity.notifications(MANAGEMENT)] == \
        ["avvik-varsel-eskalering"]
    assert task_for(engine, NOTIFIER, "Task_VarselStraks", row.id)  # still to be sent
    replays_ok(engine)


def test_a_report_marked_serious_is_not_notified_twice(deployed, clock):
    engine = deployed
    row = report(engine, alvorlig_meldt=True)
    complete(engine, clock, NOTIFIER, "Task_VarselStraks", row.id, NOTIFIED)
    [record] = records(engine, row.id, "Task_VarselStraks")
    assert record.indicator == "lovpalagt-varsel" and record.outcome == "completed"
    assess(engine, clock, row.id, SERIOUS)  # the leader agrees: no second notice
    assert open_elements(engine, row.id) == sorted(["Task_Undersokelse", *PEOPLE])
    replays_ok(engine)


def test_the_legal_clock_runs_from_the_report_not_from_the_assessment(deployed, clock):
    """Not marked serious by the reporter, found serious by the leader two days later:
    the day after the report is already over, so management is told at once."""
    engine = deployed
    row = report(engine, kjent_dato="2026-01-04")  # known the day before the report
    assert engine.history.show(row.id)["data"]["kjent_fra"] == "2026-01-04"
    clock.set(REPORTED_AT + timedelta(days=2))
    assess(engine, clock, row.id, SERIOUS)
    task = task_for(engine, NOTIFIER, "Task_LovpalagtVarsel", row.id)
    assert utc(task.due_at) == end_of_local_day(datetime(2026, 1, 4, 12, tzinfo=UTC), 1)
    assert utc(task.due_at) < clock.now()  # overdue when it is created: told in the same step
    assert [n.template for n in engine.identity.notifications(MANAGEMENT)] == \
        ["avvik-varsel-eskalering"]
    assert sweep(engine).fired == 0
    # a day given after the report does not move the clock forward
    later_known = report(engine, kjent_dato="2026-02-01")
    assert engine.history.show(later_known.id)["data"]["kjent_fra"] == \
        clock.now().astimezone(OSLO).date().isoformat()
    replays_ok(engine)


def test_a_late_notification_is_escalated_to_management_and_still_required(deployed,
                                                                          clock):
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, SERIOUS)
    deadline = utc(task_for(engine, NOTIFIER, "Task_LovpalagtVarsel", row.id).due_at)

    clock.set(deadline)  # the last second of the next day: not late yet
    assert sweep(engine).fired == 0
    clock.set(deadline + timedelta(seconds=2))
    assert sweep(engine).fired == 1
    assert sweep(engine).fired == 0  # once only
    [escalation] = engine.identity.notifications(MANAGEMENT)
    assert escalation.template == "avvik-varsel-eskalering"
    assert "Statens helsetilsyn og Ukom" in escalation.body and "kir" in escalation.body
    assert engine.identity.notifications(NOTIFIER) == []  # management is told, not everyone
    with engine.db.transaction() as session:
        assert session.scalars(select(OutboxMail).where(
            OutboxMail.to_address == f"{MANAGEMENT}@sykehuset.example")).one()

    # the notification is still required: the task stays, overdue in the worklist
    task = task_for(engine, NOTIFIER, "Task_LovpalagtVarsel", row.id)
    assert utc(task.due_at) < clock.now()
    assert open_elements(engine, row.id) == sorted(["Task_LovpalagtVarsel", *PEOPLE])
    later(clock, hours=3)
    engine.tasks.complete(task.id, actor=CLINIC_HEAD, data={**NOTIFIED,
                                                            "varsel_tidspunkt": "2026-01-07"})
    [record] = records(engine, row.id, "Task_LovpalagtVarsel")
    assert record.outcome == "completed" and utc(record.ended_at) > utc(record.due_at)
    assert open_elements(engine, row.id) == sorted(["Task_Undersokelse", *PEOPLE])
    assert [e.type for e in engine.history.events(row.id)].count("timer") == 1
    replays_ok(engine)


def test_the_units_leader_has_three_days_then_the_clinic_head_has_the_case(deployed,
                                                                          clock):
    engine = deployed
    row = report(engine)
    assert utc(engine.history.instance(row.id).next_timer_at) == REPORTED_AT + timedelta(days=3)
    clock.set(REPORTED_AT + timedelta(days=2, hours=23))
    assert sweep(engine).fired == 0
    clock.set(REPORTED_AT + timedelta(days=3, seconds=1))
    assert sweep(engine).fired == 1
    assert engine.tasks.find(actor=LEADER) == []  # taken from the unit's leader
    task = task_for(engine, CLINIC_HEAD, "Task_VurderingKlinikk", row.id)
    assert task.candidate_groups == ["leder-kir"]
    assert utc(task.due_at) == REPORTED_AT + timedelta(days=5, seconds=1)

    # not done at five days either: the clinic's leaders are reminded; the task stays
    clock.set(REPORTED_AT + timedelta(days=5, seconds=2))
    assert sweep(engine).fired == 1
    assert sweep(engine).fired == 0
    [reminder] = engine.identity.notifications(CLINIC_HEAD)
    assert reminder.template == "avvik-paminnelse"
    assert "ikke vurdert innen fristen" in reminder.body and "2026-01-04" in reminder.body
    assert engine.identity.notifications(OTHER_LEADER) == []  # another clinic's leader
    assert engine.identity.notifications(REPORTER) == []
    later(clock)
    engine.tasks.complete(task.id, actor=CLINIC_HEAD, data=GREEN)
    assert engine.history.instance(row.id).next_timer_at is None

    # from now on the case is the clinic head's, not the unit leader's
    investigation = task_for(engine, CLINIC_HEAD, "Task_Undersokelse", row.id)
    assert investigation.candidate_groups == ["leder-kir"]
    assert engine.tasks.find(actor=LEADER) == []
    replays_ok(engine)


def test_a_serious_investigation_does_not_move_on_without_subject_matter_expertise(
        deployed, clock):
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, SERIOUS)
    complete(engine, clock, NOTIFIER, "Task_LovpalagtVarsel", row.id, NOTIFIED)
    follow_up_people(engine, clock, row.id)
    task = task_for(engine, LEADER, "Task_Undersokelse", row.id)
    assert engine.tasks.task_context(task).get("undersokelse_merknad") is None

    investigate(engine, clock, row.id, expertise=False)
    assert open_elements(engine, row.id) == ["Task_Undersokelse"]  # back, not on
    again = task_for(engine, LEADER, "Task_Undersokelse", row.id)
    assert again.id != task.id
    note = engine.tasks.task_context(again)["undersokelse_merknad"]
    assert "sakkompetanse" in note and "alvorlig" in note
    assert facts(engine, row.id).expertise is False

    investigate(engine, clock, row.id, expertise=True)
    assert open_elements(engine, row.id) == ["Task_BestemTiltak"]
    assert facts(engine, row.id).expertise is True
    done = [e.element_id for e in engine.history.events(row.id) if e.type == "complete"]
    assert done.count("Task_Undersokelse") == 2
    assert [r.outcome for r in records(engine, row.id, "Task_Undersokelse")] == \
        ["completed", "completed"]
    replays_ok(engine)


def test_a_cross_clinic_analysis_runs_the_six_step_routine_and_closing_waits_for_measures(
        deployed, clock):
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, SERIOUS)
    complete(engine, clock, NOTIFIER, "Task_LovpalagtVarsel", row.id, NOTIFIED)
    follow_up_people(engine, clock, row.id)
    investigate(engine, clock, row.id, expertise=True, analysis=True)

    # Fagavdelingen analyses and sends the documentation (step 1 of the six steps)
    assert open_elements(engine, row.id) == ["Task_Hendelsesanalyse"]
    complete(engine, clock, ANALYSTS, "Task_Hendelsesanalyse", row.id, {
        "analyse_tittel": "Dobbel ordinasjon av insulin ved overflytting",
        "dokumentasjon": "Rapport HA-2026-3, endelig versjon",
        "folgebrev": "Analysen foreslår tre tiltak for kirurgisk og medisinsk klinikk.",
        "klinikker": ["kir", "med"],
        "foreslatte_tiltak": [{"tittel": "Samstemming ved overflytting"},
                              {"tittel": "Felles opplæring", "beskrivelse": "Simulering"},
                              {"tittel": "Ny varslingsrutine"}]})

    # the six-step routine runs as a child of the case: its clinics' tasks are the case's
    diagrams = {d["process_key"]: d for d in engine.history.progress(row.id)}
    assert diagrams["hendelsesanalyse-oppfolging"]["called_from"] == \
        "Activity_Hendelsesanalyse"
    assert "Activity_Hendelsesanalyse" in diagrams[PROCESS]["active"]
    assert {"hendelsesanalyse-oppfolging", "klinikk-oppfolging", "tiltak"} <= \
        set(engine.history.show(row.id)["called"])
    for clinic in ("kir", "med"):
        task = task_for(engine, SECRETARIAT[clinic], "Task_VurderTiltak", row.id)
        assert task.process_key == "klinikk-oppfolging" and task.instance_id == row.id
        assert engine.tasks.task_context(task)["analyse_tittel"].startswith("Dobbel ordinasjon")
    for clinic in ("kir", "med"):
        secretariat = SECRETARIAT[clinic]
        complete(engine, clock, secretariat, "Task_VurderTiltak", row.id,
                 {"tiltak_vurdering": review_rows(clinic)})
        complete(engine, clock, KPU[clinic], "Task_KpuBehandling", row.id, {
            "kpu_motedato": "2026-02-10", "kpu_innspill": "KPU støtter tiltakene",
            "kpu_slutter_seg_til": True})
        complete(engine, clock, secretariat, "Task_SendReferat", row.id,
                 {"kpu_referat": f"Referat fra KPU {clinic}: tiltak 1 og 2 vedtatt."})
    for clinic in ("kir", "med"):
        complete(engine, clock, SECRETARIAT[clinic], "Task_MottaReferat", row.id,
                 {"referat_kvittert": True})
    for task in measure_tasks(engine, row.id):  # the analysis's measures, per clinic
        finish_measure(engine, clock, row.id, engine.tasks.task_context(task)["tiltak"]["tittel"])
    assert "Task_BestemTiltak" not in open_elements(engine, row.id)
    for clinic in ("kir", "med"):
        complete(engine, clock, SECRETARIAT[clinic], "Task_BekreftAvslutning", row.id,
                 {"klinikk_avsluttet": True})

    # the six steps are done; the clinic decides its own measures
    diagrams = {d["process_key"]: d for d in engine.history.progress(row.id)}
    assert "End_HendelseLukket" in diagrams["hendelsesanalyse-oppfolging"]["completed"]
    assert open_elements(engine, row.id) == ["Task_BestemTiltak"]
    decide(engine, clock, row.id, MEASURES)
    measures = {t.assignee: t for t in measure_tasks(engine, row.id)}
    assert set(measures) == {"ola", "nora"}
    assert engine.tasks.task_context(measures["nora"])["klinikk"] == "med"
    feedback(engine, clock, row.id, "Hendelsen er analysert; to tiltak er satt i verk.")

    # closing only when every measure is done or ended with a recorded reason
    assert open_elements(engine, row.id) == ["Task_GjennomforTiltak", "Task_GjennomforTiltak"]
    finish_measure(engine, clock, row.id, MEASURES[0]["tittel"])
    assert "Task_Avslutt" not in open_elements(engine, row.id)
    finish_measure(engine, clock, row.id, MEASURES[1]["tittel"],
                   end_with_reason="Dekkes av foretakets nye opplæringsplan for insulin.")
    assert open_elements(engine, row.id) == ["Task_Avslutt"]
    close_and_learn(engine, clock, row.id)
    assert engine.history.show(row.id)["status"] == "completed"
    replays_ok(engine)


def test_an_anonymous_reporter_reads_the_feedback_with_the_receipt_code(deployed, clock):
    engine = deployed
    row = report(engine, actor="oddny", anonym=True,
                 epost_tilbakemelding="melder@example.org")
    code = row.receipt_code
    assert engine.history.instance(row.id).started_by == "anonym"
    assert "melder@example.org" not in str(engine.history.show(row.id))
    assert facts(engine, row.id).anonymous is True
    assert engine.history.receipt(code)["feedback"] is None

    assess(engine, clock, row.id, GREEN)
    investigate(engine, clock, row.id, expertise=False)
    decide(engine, clock, row.id, [], reason="Rutinen er allerede endret.")
    assert open_elements(engine, row.id) == ["Task_Tilbakemelding"]  # no measures
    feedback(engine, clock, row.id, "Takk! Dobbeltkontroll av insulin er innført.")
    seen = engine.history.receipt(code.lower())
    assert seen["feedback"] == "Takk! Dobbeltkontroll av insulin er innført."
    assert seen["status"] == "running"
    with engine.db.transaction() as session:
        mail = session.scalars(select(OutboxMail).where(
            OutboxMail.to_address == "melder@example.org")).one()
        assert "Dobbeltkontroll" in mail.body
    assert engine.identity.notifications("oddny") == []  # nobody knows it was oddny

    close_and_learn(engine, clock, row.id)
    assert engine.history.receipt(code)["status"] == "completed"
    assert "oddny" not in {e.actor for e in engine.history.events(row.id)}
    replays_ok(engine)


def test_a_red_case_does_not_close_without_a_measure_or_the_leaders_reason(deployed, clock):
    """Red and not serious: the rule of tiltakskrav.dmn (shared with Region Halland)
    asks for at least one measure or the leader's reason why none is needed."""
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, dict(GREEN, konsekvens="3", sannsynlighet="3"))
    assert risk_class(engine, row.id) == "rød"
    assert engine.history.show(row.id)["data"]["tiltak_kreves"] is True
    assert facts(engine, row.id).serious is False
    investigate(engine, clock, row.id, expertise=False)
    with pytest.raises(InvalidInput) as refused:
        decide(engine, clock, row.id, [], reason="Står i den valgfrie begrunnelsen")
    assert set(refused.value.errors) == {"begrunnelse_uten_tiltak"}
    with pytest.raises(InvalidInput):  # a value sent for the read-only flag changes nothing
        complete(engine, clock, LEADER, "Task_BestemTiltak", row.id,
                 {"vedtatte_tiltak": [], "tiltak_kreves": False})
    decide(engine, clock, row.id, [], reason="Utstyret er tatt ut av bruk i hele foretaket.",
           red=True)
    assert open_elements(engine, row.id) == ["Task_Tilbakemelding"]
    assert engine.history.show(row.id)["data"]["begrunnelse_uten_tiltak"].startswith("Utstyret")


def test_a_green_case_may_close_with_no_measure_and_no_reason(deployed, clock):
    engine = deployed
    row = report(engine)
    assess(engine, clock, row.id, GREEN)
    assert engine.history.show(row.id)["data"]["tiltak_kreves"] is False
    investigate(engine, clock, row.id, expertise=False)
    decide(engine, clock, row.id, [])
    assert open_elements(engine, row.id) == ["Task_Tilbakemelding"]


def green_case_learned(engine, clock, spread_to: tuple[str, ...]):
    """A green case with no measures, closed, its learning note sent to `spread_to`."""
    row = report(engine)
    assess(engine, clock, row.id, GREEN)
    investigate(engine, clock, row.id, expertise=False)
    decide(engine, clock, row.id, [])
    feedback(engine, clock, row.id, "Takk for meldingen.")
    close_and_learn(engine, clock, row.id, spread_to=spread_to)
    return row


def test_a_learning_note_spread_by_the_committee_reaches_the_other_clinics(deployed,
                                                                          clock):
    """KPU in kir sends the note to med and psyk (and to kir itself, which is left out):
    each of their secretariats acknowledges it, and the case ends when both have."""
    engine = deployed
    row = green_case_learned(engine, clock, spread_to=("kir", "med", "psyk"))
    assert sorted(t.candidate_groups[0] for t in engine.tasks.find(instance_id=row.id)) == \
        ["kpu-sekretariat-med", "kpu-sekretariat-psyk"]
    assert engine.tasks.find(actor=SECRETARIAT["kir"]) == []
    [for_med] = engine.tasks.find(actor=SECRETARIAT["med"])
    context = engine.tasks.task_context(for_med)
    assert (context["laering_fra_klinikk"], context["laeringsnotat_tittel"]) == \
        ("kir", "Dobbel ordinasjon ved overflytting")
    later(clock)
    with pytest.raises(InvalidInput) as err:
        engine.tasks.complete(for_med.id, actor=SECRETARIAT["med"], data={"laering_mottatt": False})
    assert set(err.value.errors) == {"laering_mottatt"}
    engine.tasks.complete(for_med.id, actor=SECRETARIAT["med"], data={
        "laering_mottatt": True, "laering_bruk": "Tas opp på neste tavlemøte i alle poster."})
    assert engine.history.show(row.id)["status"] == "running"  # psyk has not acknowledged yet
    [for_psyk] = engine.tasks.find(actor="pia")
    engine.tasks.complete(for_psyk.id, actor="pia", data={"laering_mottatt": True})
    assert engine.history.show(row.id)["status"] == "completed"
    replays_ok(engine)


def test_a_note_kept_in_the_clinic_ends_the_case_without_other_clinics(deployed, clock):
    engine = deployed
    row = green_case_learned(engine, clock, spread_to=("kir",))  # only its own clinic
    assert engine.history.show(row.id)["status"] == "completed"


# ------------------------------------------------------------------ indicators
def walk_serious(engine, clock, *, notify_late: bool) -> str:
    """A serious case to the end, with its notification sent in time or a day late."""
    row = report(engine)
    assess(engine, clock, row.id, SERIOUS)
    if notify_late:
        notice = task_for(engine, NOTIFIER, "Task_LovpalagtVarsel", row.id)
        clock.set(utc(notice.due_at) + timedelta(hours=9))
        sweep(engine)
    complete(engine, clock, NOTIFIER, "Task_LovpalagtVarsel", row.id, NOTIFIED)
    follow_up_people(engine, clock, row.id)
    investigate(engine, clock, row.id, expertise=False)  # sent back once
    investigate(engine, clock, row.id, expertise=True)
    decide(engine, clock, row.id, [], reason="Tiltak følges opp i egen sak.", red=True)
    feedback(engine, clock, row.id, "Hendelsen er varslet og undersøkt.")
    close_and_learn(engine, clock, row.id)
    assert engine.history.show(row.id)["status"] == "completed"
    return row.id


def test_the_dashboard_counts_this_routines_expertise_notifications_and_feedback(
        deployed, clock):
    engine = deployed
    walk_serious(engine, clock, notify_late=False)
    clock.set(datetime(2026, 2, 2, 8, 0, tzinfo=UTC))
    walk_serious(engine, clock, notify_late=True)
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    open_case = report(engine, actor="ola")  # reported, not yet closed
    assess(engine, clock, open_case.id, GREEN)

    figures = {f.group: f for f in indicators.figures(
        engine, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))}
    kir = figures["kir"]
    assert (kir.expertise.part, kir.expertise.whole) == (2, 2)  # both, in the end
    assert (kir.notifications_on_time.part, kir.notifications_on_time.whole) == (1, 2)
    assert (kir.feedback.part, kir.feedback.whole) == (2, 2)  # closed cases only
    assert len(kir.closing_days) == 2 and all(d > 0 for d in kir.closing_days)
    assert figures[""].notifications_on_time.whole == 2
    january = {f.group: f for f in indicators.figures(
        engine, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2026, 2, 1, tzinfo=UTC))}
    assert january["kir"].notifications_on_time.value == 1.0
    by_unit = {f.group: f for f in indicators.figures(engine, by="unit")}
    assert by_unit["kir-gastro"].notifications_on_time.whole == 2


# ------------------------------------------------------------- a changed decision table
def stricter_matrix() -> dict[str, bytes]:
    """The risk matrix as a process owner changes it in Camunda Modeler: consequence 1
    with probability 1-3 is now yellow."""
    path = PROCESSES / "risikoklasse.dmn"
    text = path.read_text(encoding="utf-8")
    rule = text.index('<rule id="DecisionRule_1gr0n01">')
    changed = text[:rule] + text[rule:].replace('"grønn"', '"gul"', 1)
    assert changed != text
    return {path.name: changed.encode("utf-8")}


def test_a_decision_table_deployed_alone_decides_new_cases_and_spares_running_ones(
        deployed, clock):
    engine = deployed
    running = report(engine)
    before = engine.repository.latest(PROCESS).version

    deployed_now = {d.key: d for d in engine.repository.deploy(stricter_matrix(), actor="per")}
    assert deployed_now[PROCESS].created and deployed_now[PROCESS].version == before + 1
    assert engine.repository.latest("avvikelsehantering").version == 1  # its own table, untouched

    fresh = report(engine)
    assess(engine, clock, fresh.id, GREEN)
    assert risk_class(engine, fresh.id) == "gul"
    assess(engine, clock, running.id, GREEN)  # started before: decided as it began
    assert risk_class(engine, running.id) == "grønn"
    # the same table again changes nothing
    assert not {d.key: d for d in engine.repository.deploy(stricter_matrix(),
                                                           actor="per")}[PROCESS].created
    assert all(v.ok for v in verify_all(engine))


def test_a_broken_decision_table_deployed_alone_is_refused_with_its_place(deployed):
    [(name, data)] = stricter_matrix().items()
    broken = data.replace(b"<text>[1..3]</text>", b"<text>[1..3</text>", 1)
    with pytest.raises(DefinitionError) as refused:
        deployed.repository.deploy({name: broken}, actor="per")
    assert refused.value.file == name and "DecisionRule_1gr0n01" in str(refused.value)
    assert deployed.repository.latest(PROCESS).version == 1  # nothing changed
