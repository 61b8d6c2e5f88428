"""The web UI's guards, on SQLite and PostgreSQL: login, CSRF, headers, roles, the API."""

from __future__ import annotations

import html
import io
import re

import pytest

from engine.identity.users import add_user
from webui import create_app

from walks import PASSWORD, START_DATA, at_measure, password_hash, task_for


@pytest.fixture
def app(deployed, tmp_path):
    with deployed.db.transaction() as session:
        for name, groups in (("frida", ["fagavdeling"]), ("sigrid", ["kpu-sekretariat-kir"]),
                             ("rita", ["revisor"]), ("ola", ["leder-kir-gastro"])):
            add_user(session, name, groups, password_hash=password_hash())
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=deployed)


def token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def login(client, user: str, password: str = PASSWORD):
    return client.post("/login", data={"csrf_token": token(client), "username": user,
                                       "password": password})


def test_pages_need_a_login_and_a_wrong_password_is_refused(app):
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.location
    response = login(client, "frida", "feil")
    assert response.status_code == 401
    assert "Wrong user name or password" in response.get_data(as_text=True) or \
        "Feil brukernavn" in response.get_data(as_text=True)
    assert login(client, "frida").status_code == 302
    assert client.get("/").status_code == 200


def test_every_response_carries_security_headers_and_forms_need_csrf(app):
    client = app.test_client()
    response = client.get("/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    response = client.post("/login", data={"username": "frida", "password": PASSWORD})
    assert response.status_code == 400  # no CSRF token
    assert "Traceback" not in response.get_data(as_text=True)


def test_an_auditor_reads_the_case_but_cannot_work_on_it(app, deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    client = app.test_client()
    login(client, "rita")
    assert client.get(f"/instances/{instance.id}").status_code == 200
    assert client.get(f"/tasks/{task.id}").status_code == 403
    response = client.post(f"/api/tasks/{task.id}/complete", json={"data": {}})
    assert response.status_code == 403
    response = client.post(f"/api/tasks/{task.id}/claim", json={})
    assert response.status_code == 403
    assert [e.type for e in deployed.history.events(instance.id)] == ["start"]


def test_someone_outside_the_case_cannot_see_it(app, deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    client = app.test_client()
    login(client, "ola")
    assert client.get(f"/instances/{instance.id}").status_code == 403
    assert client.get(f"/api/instances/{instance.id}").status_code == 403


def test_the_api_works_the_same_tasks_with_the_same_checks(app, deployed):
    client = app.test_client()
    login(client, "frida")
    response = client.post("/api/processes/hendelsesanalyse-oppfolging/instances",
                           json={"data": dict(START_DATA, klinikker=["kir"]),
                                 "business_key": "HA-API-1"})
    assert response.status_code == 201, response.get_json()
    instance_id = response.get_json()["id"]
    client = app.test_client()
    login(client, "sigrid")
    [task] = client.get("/api/tasks").get_json()
    assert task["element_id"] == "Task_VurderTiltak" and task["instance_id"] == instance_id
    assert task["form"]["fields"]
    response = client.post(f"/api/tasks/{task['id']}/complete",
                           json={"data": {"tiltak_vurdering": [{"gjennomfores": "kanskje"}] * 3}})
    assert response.status_code == 422
    assert "tiltak_vurdering[0].gjennomfores" in response.get_json()["errors"]
    response = client.post(f"/api/tasks/{task['id']}/complete", data="tiltak=1")
    assert response.status_code == 415  # a form post from another site is not JSON
    rows = [{"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3
    response = client.post(f"/api/tasks/{task['id']}/complete",
                           json={"data": {"tiltak_vurdering": rows}})
    assert response.status_code == 200
    response = client.post(f"/api/tasks/{task['id']}/complete",
                           json={"data": {"tiltak_vurdering": rows}})
    assert response.status_code == 409
    assert "already completed by sigrid" in response.get_json()["message"]
    spec = client.get("/api/openapi.json").get_json()
    assert "/api/tasks/{task_id}/complete" in spec["paths"]


def test_documents_are_stored_with_a_hash_and_downloaded_safely(app, deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    client = app.test_client()
    login(client, "sigrid")
    page = f"/tasks/{task.id}"
    response = client.post(f"{page}/attachments", data={
        "csrf_token": token(client, page),
        "file": (io.BytesIO(b"<script>alert(1)</script>"), "../../referat.txt")},
        content_type="multipart/form-data")
    assert response.status_code == 302
    [stored] = deployed.history.attachments(instance.id)
    assert stored.filename == "referat.txt" and len(stored.sha256) == 64
    response = client.get(f"/attachments/{stored.id}")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["Content-Security-Policy"]
    response = client.post(f"{page}/attachments", data={
        "csrf_token": token(client, page),
        "file": (io.BytesIO(b"MZ..."), "verktoy.exe")},
        content_type="multipart/form-data")
    assert len(deployed.history.attachments(instance.id)) == 1
    other = app.test_client()
    login(other, "ola")
    assert other.get(f"/attachments/{stored.id}").status_code == 403


def test_a_reminder_appears_in_the_app_and_only_process_owners_retry_incidents(app, deployed,
                                                                               clock):
    from datetime import UTC, datetime

    from engine.timers import sweep
    at_measure(deployed)
    clock.set(datetime(2026, 2, 22, 0, 0, 1, tzinfo=UTC))
    sweep(deployed)
    with deployed.db.transaction() as session:
        add_user(session, "per", ["prosesseier"], password=PASSWORD)
    client = app.test_client()
    login(client, "ola")
    unread = re.compile(r'/notifications">[^<]*<span class="badge overdue">1</span>')
    assert unread.search(client.get("/").get_data(as_text=True))  # one unread
    page = client.get("/notifications").get_data(as_text=True)
    assert "Påminnelse" in page and "Sepsisscreening ved overflytting" in page
    assert not unread.search(client.get("/").get_data(as_text=True))  # read now

    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    with deployed.db.transaction() as session:  # an incident, as a failing timer leaves it
        from engine.models import ProcessInstance
        row = session.get(ProcessInstance, instance.id)
        row.status, row.error = "error", "script failed: division by zero"
    reader = app.test_client()
    login(reader, "rita")
    response = reader.post(f"/instances/{instance.id}/retry",
                           data={"csrf_token": token(reader, f"/instances/{instance.id}")})
    assert response.status_code == 403
    owner = app.test_client()
    login(owner, "per")
    page = owner.get(f"/instances/{instance.id}").get_data(as_text=True)
    assert "division by zero" in page
    response = owner.post(f"/instances/{instance.id}/retry",
                          data={"csrf_token": token(owner, f"/instances/{instance.id}")})
    assert response.status_code == 302
    assert deployed.history.show(instance.id)["status"] == "running"


def test_the_api_answers_a_start_and_a_completion_with_the_case_as_it_now_stands(app):
    """The answer comes from the command's own result; it must be what a read gives."""
    client = app.test_client()
    login(client, "frida")
    response = client.post("/api/processes/hendelsesanalyse-oppfolging/instances",
                           json={"data": dict(START_DATA, klinikker=["kir"]),
                                 "business_key": "HA-API-1"})
    assert response.status_code == 201
    started = response.get_json()
    assert started == client.get(f"/api/instances/{started['id']}").get_json()
    assert started["data"]["initiator"] == "frida" and started["business_key"] == "HA-API-1"
    [task] = started["open_tasks"]
    assert task["element_id"] == "Task_VurderTiltak"

    sigrid = app.test_client()
    login(sigrid, "sigrid")
    rows = [{"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3
    response = sigrid.post(f"/api/tasks/{task['id']}/complete",
                           json={"data": {"tiltak_vurdering": rows}})
    assert response.status_code == 200
    completed = response.get_json()
    assert completed == client.get(f"/api/instances/{started['id']}").get_json()
    assert [t["element_id"] for t in completed["open_tasks"]] == ["Task_KpuBehandling"]


def test_the_worklist_names_the_measure_the_clinic_and_who_may_take_a_task(app, deployed):
    """A measure owner's row says which measure; clinics and groups are shown by name,
    never by their codes."""
    at_measure(deployed)
    deployed.runtime.start("avvikshandtering", actor="nora", data={
        "hva_skjedde": "Pasienten fikk feil dose insulin.", "hendelsesdato": "2026-01-04",
        "klinikk": "kir", "enhet": "kir-gastro", "anonym": False, "sensitiv": False})
    client = app.test_client()
    login(client, "ola")
    page = client.get("/").get_data(as_text=True)
    assert "Gjennomfør tiltak: Sepsisscreening ved overflytting" in page
    assert "Kirurgisk klinikk" in page
    assert "Ledere, Gastrokirurgisk avdeling (Kirurgisk klinikk)" in page
    cells = re.findall(r"<td>([^<]*)</td>", page)
    assert not {"kir", "leder-kir-gastro"} & {c.strip() for c in cells}


def test_an_error_page_speaks_the_users_language_and_the_api_the_engines(app):
    client = app.test_client()
    login(client, "ola")
    page = client.get("/instances/finnes-ikke")
    assert page.status_code == 404
    text = html.unescape(page.get_data(as_text=True))
    assert "Det finnes ingen sak finnes-ikke her." in text  # the case named
    assert "no process instance 'finnes-ikke'" in text  # the engine's own words, below
    api = client.get("/api/instances/finnes-ikke")
    assert api.status_code == 404 and "finnes-ikke" in api.get_json()["message"]


def test_the_case_page_names_history_events_as_the_audit_page_does(app, deployed):
    instance_id = at_measure(deployed)
    client = app.test_client()
    login(client, "frida")  # she started it
    page = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    cells = {c.strip() for c in re.findall(r"<td>([^<]*)</td>", page)}
    assert {"Startet", "Fullført"} <= cells
    assert not {"start", "complete"} & cells
