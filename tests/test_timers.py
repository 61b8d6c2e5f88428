"""Timers that enforce deadlines, with a moved clock: reminders, escalation, incidents."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from local_servers import free_port
from sqlalchemy import select

from engine.definitions import collect_files
from engine.history.replay import verify_instance
from engine.identity.users import add_user
from engine.models import Notification, OutboxMail, ProcessInstance
from engine.notifications import SmtpSettings, deliver
from engine.timers import sweep

from walks import FIXTURES, at_measure, local_midnight, task_for, workflow_of


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.rcpt_tos, envelope.content.decode("utf-8", "replace")))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback."""
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpSettings(host="127.0.0.1", port=port, sender="tiltak@sykehuset.example"), inbox
    controller.stop()


def notes(engine):
    with engine.db.transaction() as session:
        return [(n.user_name, n.template, n.language, n.subject)
                for n in session.scalars(select(Notification).order_by(Notification.id))]


def fired(engine, instance_id) -> int:
    """Timers fired in this case (the management review's cycle may fire meanwhile)."""
    return [e.type for e in engine.history.events(instance_id)].count("timer")


def test_the_owner_is_reminded_and_the_leader_told_after_the_deadline(deployed, clock, smtp):
    settings, inbox = smtp
    engine = deployed
    with engine.db.transaction() as session:  # the surgical clinic's leader reads Swedish
        add_user(session, "kirsten", ["leder-kir"], email="kirsten@sykehuset.example",
                 language="sv")
    instance_id = at_measure(engine)
    assert engine.history.instance(instance_id).next_timer_at.replace(tzinfo=UTC) == \
        local_midnight(2026, 2, 22)
    assert sweep(engine).fired == 0

    clock.set(local_midnight(2026, 2, 22) + timedelta(seconds=1))
    sweep(engine)
    assert fired(engine, instance_id) == 1
    assert sweep(engine).fired == 0  # once only
    [(user, template, language, subject)] = notes(engine)
    assert (user, template, language) == ("ola", "paminnelse", "nb")
    assert "NEWS2 ved mottak" in subject or "Sepsisscreening" in subject
    assert deliver(engine.db, settings, clock.now()) == {"sent": 1, "failed": 0}
    [(to, message)] = inbox.messages
    assert to == ["ola@sykehuset.example"] and "2026-03-01" in message

    clock.set(datetime(2026, 3, 2, 0, 0, 1, tzinfo=UTC))
    sweep(engine)
    assert fired(engine, instance_id) == 2
    escalation = notes(engine)[-1]
    assert escalation[:3] == ("kirsten", "eskalering", "sv")
    assert "Tidsgränsen har passerat" in escalation[3]
    deliver(engine.db, settings, clock.now())
    assert inbox.messages[-1][0] == ["kirsten@sykehuset.example"]
    assert "mats@sykehuset.example" not in str(inbox.messages)  # not the other clinic's leader

    task = task_for(engine, "ola", "Task_GjennomforTiltak", instance_id)
    assert task.due_at.replace(tzinfo=UTC) < clock.now()
    engine.tasks.complete(task.id, actor="ola", data={"gjennomfort_dato": "2026-03-02",
                                                      "gjennomfort_beskrivelse": "Innført nå"})
    assert engine.history.instance(instance_id).next_timer_at is None
    types = [e.type for e in engine.history.events(instance_id)]
    assert types.count("timer") == 2


def test_mail_that_cannot_be_sent_is_retried_with_backoff_then_marked_failed(deployed, clock):
    engine = deployed
    at_measure(engine)
    clock.set(local_midnight(2026, 2, 22) + timedelta(seconds=1))
    sweep(engine)
    closed = free_port()  # a port where nobody listens
    nowhere = SmtpSettings(host="127.0.0.1", port=closed, timeout=2)
    assert deliver(engine.db, nowhere, clock.now()) == {"sent": 0, "failed": 0}
    with engine.db.transaction() as session:
        mail = session.scalars(select(OutboxMail)).one()
        assert mail.attempts == 1 and mail.status == "pending"
        assert mail.next_attempt_at.replace(tzinfo=UTC) == clock.now() + timedelta(seconds=30)
    assert deliver(engine.db, nowhere, clock.now()) == {"sent": 0, "failed": 0}  # not yet due
    for _ in range(10):
        clock.advance(hours=2)
        deliver(engine.db, nowhere, clock.now())
    with engine.db.transaction() as session:
        mail = session.scalars(select(OutboxMail)).one()
        assert mail.status == "failed" and mail.attempts == 8
        assert "Connection" in mail.last_error or "refused" in mail.last_error


def deploy_fixture(engine, name: str) -> None:
    engine.repository.deploy(collect_files([str(FIXTURES / name)]), actor="per")


def test_a_failing_timer_becomes_an_incident_and_others_go_on(engine, clock):
    deploy_fixture(engine, "timer-feil.bpmn")
    deploy_fixture(engine, "kort-timer.bpmn")
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    bad = engine.runtime.start("timer-feil", actor="system", data={"ventetid": "PT1M", "antall": 0})
    good = engine.runtime.start("kort-timer", actor="system")
    clock.advance(minutes=2)
    result = sweep(engine)
    assert result.due == 2 and result.fired == 1
    shown = engine.history.show(bad.id)
    assert shown["status"] == "error" and "Script_Del" in (shown["error"] or "") + \
        str([e.element_id for e in engine.history.events(bad.id)])
    assert engine.history.show(good.id)["status"] == "completed"
    assert [e.type for e in engine.history.events(bad.id)][-1] == "incident"
    assert sweep(engine).due == 0  # never retried in silence
    engine.runtime.retry(bad.id, actor="per")
    assert sweep(engine).due == 1
    assert [e.type for e in engine.history.events(bad.id)][-2:] == ["retry", "incident"]


def test_one_failing_timer_in_a_batch_leaves_the_others_fired_and_whole(engine, clock):
    """Timers due together fire in one transaction; the one that fails in the middle is
    rolled back alone and becomes an incident, the ones before and after it are kept."""
    deploy_fixture(engine, "timer-feil.bpmn")
    deploy_fixture(engine, "kort-timer.bpmn")
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    before = [engine.runtime.start("kort-timer", actor="system").id for _ in range(3)]  # due in 3 s
    bad = engine.runtime.start("timer-feil", actor="system", data={"ventetid": "PT1M", "antall": 0})
    after = [engine.runtime.start("timer-feil", actor="system",
                                  data={"ventetid": "PT90S", "antall": 2}).id for _ in range(3)]
    clock.advance(minutes=2)
    # all in one batch, however slow the machine
    assert engine.runtime.fire_due_timers(limit=100, budget=60) == (7, 6)
    assert engine.history.show(bad.id)["status"] == "error"
    for instance_id in before + after:
        assert engine.history.show(instance_id)["status"] == "completed"
        assert [e.type for e in engine.history.events(instance_id)] == ["start", "timer"]
        assert verify_instance(engine, instance_id).ok
    assert [e.type for e in engine.history.events(bad.id)] == ["start", "incident"]
    assert verify_instance(engine, bad.id).ok
    assert engine.runtime.fire_due_timers() == (0, 0)


def test_a_batch_that_breaks_is_fired_again_one_by_one(engine, clock, monkeypatch):
    """Something unforeseen fails in the middle of a batch: the batch is rolled back
    and its instances fired one by one; the broken one stays due, the rest fire once."""
    deploy_fixture(engine, "kort-timer.bpmn")
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    ids = [engine.runtime.start("kort-timer", actor="system").id for _ in range(5)]
    clock.advance(seconds=10)
    fire = engine.runtime._fire

    def breaks_on_the_third(session, row):
        if row.id == ids[2]:
            raise RuntimeError("the disk is full")
        return fire(session, row)

    monkeypatch.setattr(engine.runtime, "_fire", breaks_on_the_third)
    assert engine.runtime.fire_due_timers(budget=60) == (5, 4)  # the batch breaks, not the budget
    for instance_id in ids[:2] + ids[3:]:
        assert engine.history.show(instance_id)["status"] == "completed"
        assert [e.type for e in engine.history.events(instance_id)] == ["start", "timer"]
    assert engine.history.show(ids[2])["status"] == "running"
    monkeypatch.undo()
    assert engine.runtime.fire_due_timers() == (1, 1)
    assert [e.type for e in engine.history.events(ids[2])] == ["start", "timer"]


def test_concurrent_sweepers_fire_every_timer_exactly_once(engine, clock):
    deploy_fixture(engine, "kort-timer.bpmn")
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    ids = [engine.runtime.start("kort-timer", actor="system").id for _ in range(40)]
    clock.advance(seconds=10)
    threads = [threading.Thread(target=sweep, args=(engine,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for instance_id in ids:
        assert [e.type for e in engine.history.events(instance_id)].count("timer") == 1
    with engine.db.transaction() as session:
        statuses = set(session.scalars(select(ProcessInstance.status)))
    assert statuses == {"completed"}


def test_timers_that_came_due_while_down_fire_at_the_next_start(engine, clock):
    deploy_fixture(engine, "kort-timer.bpmn")
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    instance = engine.runtime.start("kort-timer", actor="system")
    clock.advance(days=3)  # everything was down for three days
    assert sweep(engine).fired == 1
    assert engine.history.show(instance.id)["status"] == "completed"


def times_done(engine, instance_id: str, element_id: str) -> int:
    """How often an element has run (a reminder branch keeps its own data in SpiffWorkflow)."""
    from SpiffWorkflow.util.task import TaskState
    return sum(1 for t in workflow_of(engine, instance_id).get_tasks()
               if t.task_spec.name == element_id and t.state == TaskState.COMPLETED)


@pytest.mark.parametrize("answer", [True, False], ids=["message-first", "timer-first"])
def test_every_timer_form_the_modeler_writes(engine, clock, answer):
    """A literal date, a non-interrupting cycle (R3/PT1H), an interrupting duration from
    an expression, and a timer racing a message behind an event-based gateway."""
    deploy_fixture(engine, "timerformer.bpmn")
    with engine.db.transaction() as session:
        add_user(session, "frida", ["fagavdeling"])
    instance = engine.runtime.start("timerformer", actor="frida", data={"frist": "PT4H30M",
                                                                        "purringer": 0})
    assert engine.history.instance(instance.id).next_timer_at.replace(tzinfo=UTC) == \
        datetime(2026, 1, 6, 8, 0, tzinfo=UTC)
    clock.set(datetime(2026, 1, 6, 8, 0, 1, tzinfo=UTC))
    sweep(engine)
    assert [t.element_id for t in engine.tasks.find(instance_id=instance.id)] == ["Task_Behandle"]
    for hour in (1, 2, 3, 4):
        clock.set(datetime(2026, 1, 6, 8 + hour, 0, 2, tzinfo=UTC))
        sweep(engine)
        assert times_done(engine, instance.id, "Script_Tell") == min(hour, 3)
        assert engine.tasks.find(instance_id=instance.id)  # non-interrupting: still open
    clock.set(datetime(2026, 1, 6, 12, 30, 2, tzinfo=UTC))
    sweep(engine)
    assert engine.tasks.find(instance_id=instance.id) == []  # the deadline interrupted the task
    if answer:
        engine.runtime.message("svar-mottatt", actor="system")
        ended = "End_Svar"
    else:
        clock.advance(days=2, seconds=1)
        sweep(engine)
        ended = "End_Utlopt"
    shown = engine.history.show(instance.id)
    assert shown["status"] == "completed"
    [diagram] = engine.history.progress(instance.id)
    assert ended in diagram["completed"]
    assert ({"End_Svar", "End_Utlopt"} - {ended}).isdisjoint(diagram["completed"])


def count_instances(engine, key: str) -> int:
    with engine.db.transaction() as session:
        return len(session.scalars(select(ProcessInstance.id).where(
            ProcessInstance.process_key == key)).all())


def test_a_timer_start_cycle_starts_one_instance_per_cycle_and_no_more(engine, clock):
    deploy_fixture(engine, "periodisk.bpmn")  # R3/PT1H, deployed at 08:00
    key = "periodisk-gjennomgang"
    assert sweep(engine).fired == 0 and count_instances(engine, key) == 0
    clock.advance(hours=1, seconds=1)
    sweep(engine)
    sweep(engine)
    assert count_instances(engine, key) == 1
    [task] = engine.tasks.find(actor="per")
    assert task.element_id == "Task_Gjennomga"
    clock.advance(hours=10)  # two cycles missed while down: both start, then it ends
    sweep(engine)
    assert count_instances(engine, key) == 3
    clock.advance(days=1)
    sweep(engine)
    assert count_instances(engine, key) == 3
    assert len(engine.tasks.find(actor="per")) == 3


def test_a_sweep_at_the_very_moment_a_timer_is_due_ends_and_fires_it_just_after(deployed,
                                                                                clock):
    """SpiffWorkflow fires a timer once its moment has passed; a sweep at that exact
    moment takes nothing (it once took the instance again and again, writing a timer
    event each time), and the next sweep fires it once."""
    engine = deployed
    row = engine.runtime.start("avvikshandtering", actor="nora", data={
        "hva_skjedde": "Pasienten fikk feil dose insulin.", "hendelsesdato": "2026-01-04",
        "klinikk": "kir", "enhet": "kir-gastro", "anonym": False, "sensitiv": False})
    due = engine.history.instance(row.id).next_timer_at.replace(tzinfo=UTC)
    clock.set(due)
    assert sweep(engine).fired == 0
    assert [e.type for e in engine.history.events(row.id)] == ["start"]
    clock.set(due + timedelta(seconds=1))
    assert sweep(engine).fired == 1
    assert [e.type for e in engine.history.events(row.id)] == ["start", "timer"]
    assert [t.element_id for t in engine.tasks.find(instance_id=row.id)] == \
        ["Task_VurderingKlinikk"]
