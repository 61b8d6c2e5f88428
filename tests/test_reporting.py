"""Reporting as people expect: anyone reports, may stay anonymous, still gets feedback;
a sensitive case is seen by its handlers only."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine.definitions import collect_files
from engine.errors import InvalidInput, NotFound, PermissionDenied
from engine.identity.users import add_user
from engine.models import HistoryEvent, Notification, OutboxMail, TaskRecord

from walks import FIXTURES, password_hash, task_for

REPORT = {"hva_skjedde": "Pasient falt på badet", "klinikk": "kir"}


@pytest.fixture
def reporting(engine):
    engine.repository.deploy(collect_files([str(FIXTURES / "melding.bpmn")]), actor="per")
    return engine


def handle(engine, instance_id, feedback="Vi har satt opp sklisikre matter."):
    task = task_for(engine, "kirsten", "Task_Vurder", instance_id)
    engine.tasks.complete(task.id, actor="kirsten", data={"alvorlig": False})
    task = task_for(engine, "kirsten", "Task_Tilbakemelding", instance_id)
    engine.tasks.complete(task.id, actor="kirsten", data={"tilbakemelding": feedback})


def everything_recorded(engine, instance_id) -> str:
    shown = engine.history.show(instance_id)
    with engine.db.transaction() as session:
        events = session.scalars(select(HistoryEvent).where(
            HistoryEvent.stream == instance_id)).all()
        text = " ".join(f"{e.actor} {e.data}" for e in events)
    return f"{shown} {text}"


def test_an_anonymous_reporter_is_named_nowhere_and_reads_the_feedback(reporting):
    row = reporting.runtime.start("melding", actor="ola", data=dict(
        REPORT, anonym=True, epost_tilbakemelding="privat@example.org"))
    code = row.receipt_code
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", code)
    recorded = everything_recorded(reporting, row.id)
    assert "ola" not in recorded and "privat@example.org" not in recorded
    assert reporting.history.instance(row.id).started_by == "anonym"
    assert not reporting.history.may_view("ola", row.id)
    assert reporting.history.receipt(code.lower())["feedback"] is None

    handle(reporting, row.id)
    seen = reporting.history.receipt(code.replace("-", " "))
    assert seen["feedback"] == "Vi har satt opp sklisikre matter."
    assert seen["status"] == "completed"
    with reporting.db.transaction() as session:
        mail = session.scalars(select(OutboxMail).where(
            OutboxMail.to_address == "privat@example.org")).one()
        assert "sklisikre" in mail.body and "Tilbakemelding" in mail.subject
        assert session.scalars(select(Notification).where(
            Notification.user_name == "ola")).all() == []
    with pytest.raises(NotFound):
        reporting.history.receipt("AAAA-BBBB-CCCC")


def test_a_named_reporter_gets_the_feedback_as_a_notification(reporting):
    row = reporting.runtime.start("melding", actor="ola", data=dict(REPORT, anonym=False))
    assert reporting.history.instance(row.id).started_by == "ola"
    handle(reporting, row.id, "Rutinen er endret.")
    notes = reporting.identity.notifications("ola")
    assert [n.template for n in notes] == ["tilbakemelding"]
    assert "Rutinen er endret." in notes[0].body
    with reporting.db.transaction() as session:
        record = session.scalars(select(TaskRecord).where(
            TaskRecord.instance_id == row.id,
            TaskRecord.element_id == "Task_Tilbakemelding")).one()
        assert (record.indicator, record.outcome, record.completed_by) == \
            ("tilbakemelding", "completed", "kirsten")


def test_a_sensitive_case_is_seen_by_its_handlers_and_auditors_only(reporting):
    row = reporting.runtime.start("melding", actor="ola", data=dict(REPORT, sensitiv=True))
    assert reporting.history.may_view("kirsten", row.id)  # the leader who handles it
    assert reporting.history.may_view("rita", row.id)  # an auditor
    assert not reporting.history.may_view("per", row.id)  # a process owner reads all, but not this
    assert not reporting.history.may_view("frida", row.id)
    plain = reporting.runtime.start("melding", actor="ola", data=REPORT)
    assert reporting.history.may_view("per", plain.id)


def test_anyone_may_report_but_not_an_auditor_and_nobody_is_called_anonym(reporting):
    assert reporting.runtime.start("melding", actor="frida", data=REPORT).started_by == "frida"
    with pytest.raises(PermissionDenied):
        reporting.runtime.start("melding", actor="rita", data=REPORT)
    with reporting.db.transaction() as session, pytest.raises(InvalidInput, match="reserved"):
        add_user(session, "Anonym", ["ansatt"])


def test_the_reporter_sees_the_code_once_and_reads_the_feedback_with_it(reporting, tmp_path):
    from webui import create_app
    with reporting.db.transaction() as session:
        add_user(session, "ola", ["leder-kir-gastro", "ansatt"], password="riktig-passord")
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=reporting)
    client = app.test_client()

    def token(path):
        page = client.get(path).get_data(as_text=True)
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token("/login"), "username": "ola",
                                "password": "riktig-passord"})
    response = client.post("/start/melding", data={
        "csrf_token": token("/start/melding"), "hva_skjedde": "Feil medisin gitt",
        "klinikk": "kir", "anonym": "true"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    code = re.search(r'id="receipt-code">([A-Z2-9-]+)<',
                     response.get_data(as_text=True)).group(1)
    # nothing the browser keeps links the reporter to the report: no code in the cookie
    cookies = " ".join(response.headers.getlist("Set-Cookie"))
    assert code not in cookies and code.replace("-", "") not in cookies
    with client.session_transaction() as kept:
        assert code not in repr(dict(kept))
    instance_id = reporting.tasks.find(actor="kirsten")[0].instance_id
    assert reporting.history.instance(instance_id).started_by == "anonym"
    handle(reporting, instance_id, "Takk, dobbeltkontroll er innført.")
    page = client.post("/kvittering/", data={"csrf_token": token("/kvittering/"),
                                               "code": code}).get_data(as_text=True)
    assert "Takk, dobbeltkontroll er innført." in page
    wrong = client.post("/kvittering/", data={"csrf_token": token("/kvittering/"),
                                               "code": "AAAA-BBBB-CCCC"})
    assert wrong.status_code == 404


def test_every_read_of_a_sensitive_case_is_logged_and_process_owners_cannot_audit_it(
        reporting, tmp_path):
    from webui import create_app
    with reporting.db.transaction() as session:
        for name, groups in (("rita", ["revisor"]), ("per", ["prosesseier", "ansatt"])):
            add_user(session, name, groups, password_hash=password_hash())
    sensitive = reporting.runtime.start("melding", actor="ola", data=dict(REPORT, sensitiv=True))
    plain = reporting.runtime.start("melding", actor="ola", data=REPORT)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=reporting)

    def client_for(user):
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        client.post("/login", data={"csrf_token": token, "username": user,
                                    "password": "riktig-passord"})
        return client
    rita, per = client_for("rita"), client_for("per")
    assert rita.get(f"/audit/{sensitive.id}").status_code == 200
    assert rita.get(f"/audit/{sensitive.id}/report").status_code == 200
    assert per.get(f"/audit/{sensitive.id}").status_code == 403
    assert per.get(f"/instances/{sensitive.id}").status_code == 403
    assert sensitive.id not in per.get("/audit/").get_data(as_text=True)
    assert plain.id in per.get("/audit/").get_data(as_text=True)
    # nor counted: a count that included it would tell a probing search it matched
    counted = re.compile(r"<span>(\d+) (?:sak|saker|case|cases)</span>")
    assert counted.search(per.get("/audit/?process_key=melding").get_data(as_text=True)
                          ).group(1) == "1"
    assert counted.search(rita.get("/audit/?process_key=melding").get_data(as_text=True)
                          ).group(1) == "2"
    assert sensitive.id not in per.get("/audit/export.csv").get_data(as_text=True)
    assert sensitive.id in rita.get("/audit/export.csv").get_data(as_text=True)
    assert per.get(f"/audit/{plain.id}").status_code == 200
    assert [(r.user_name, r.what) for r in reporting.history.reads(sensitive.id)] == \
        [("rita", "audit"), ("rita", "report")]
    assert reporting.history.reads(plain.id) == []
    page = rita.get(f"/audit/{sensitive.id}").get_data(as_text=True)
    assert page.count('<section class="card reads">') == 1 and page.count("<td>rita</td>") == 3
