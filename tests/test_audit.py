"""The auditor's view: a case at any step, rebuilt from its history; read-only for auditors."""

from __future__ import annotations

import base64
import re

import pytest
from sqlalchemy import select, update

from engine.history.stepping import case_at
from engine.identity.users import add_user
from engine.models import HistoryEvent
from webui import create_app

from walks import PASSWORD, at_measure, password_hash, walk_six_step


@pytest.fixture
def closed(deployed):
    return walk_six_step(deployed)


def step_of(engine, instance_id, type_, element_id):
    return next(e.seq for e in engine.history.events(instance_id)
                if e.type == type_ and e.element_id == element_id)


def test_the_first_step_shows_the_case_just_started(deployed, closed):
    at = case_at(deployed, closed, 1)
    assert at.event.type == "start" and at.problem is None
    top = at.diagrams[0]
    assert top["process_key"] == "hendelsesanalyse-oppfolging"
    called = {d["clinic"]: d for d in at.diagrams[1:]}
    assert set(called) == {"kir", "med"}
    assert "Task_VurderTiltak" in called["kir"]["active"]
    assert at.scopes[0].data["analyse_tittel"].startswith("Forsinket behandling")
    assert {c.name for c in at.changes if c.kind == "added"} >= {"analyse_tittel", "klinikker"}


def test_a_step_shows_what_it_submitted_and_what_changed(deployed, closed):
    seq = step_of(deployed, closed, "complete", "Task_VurderTiltak")
    at = case_at(deployed, closed, seq)
    assert at.names["Task_VurderTiltak"].startswith("Vurder og ")
    assert at.inputs["values"]["tiltak_vurdering"][2]["gjennomfores"] == "nei"
    before = case_at(deployed, closed, seq - 1)
    kir = next(d for d in at.diagrams if d["clinic"] == "kir")
    kir_before = next(d for d in before.diagrams if d["clinic"] == "kir")
    assert "Task_VurderTiltak" in kir_before["active"]
    assert "Task_VurderTiltak" in kir["completed"]
    assert "Task_VurderTiltak" not in kir["active"]
    changed = {c.name: c for c in at.changes}
    assert changed["tiltak_vurdering"].kind in ("added", "changed")
    assert changed["tiltak_vurdering"].scope.endswith("kir")
    assert changed["tiltak_vurdering"].after[0]["ansvarlig"] == "ola"


def test_the_last_step_is_the_closed_case(deployed, closed):
    events = deployed.history.events(closed)
    at = case_at(deployed, closed, len(events))
    assert all(not d["active"] for d in at.diagrams)
    assert at.scopes[0].data == deployed.history.show(closed)["data"]


def test_a_step_outside_the_history_is_refused(deployed, closed):
    from engine.errors import NotFound
    with pytest.raises(NotFound, match="no event 999"):
        case_at(deployed, closed, 999)


# ------------------------------------------------------------------ in the browser's place
@pytest.fixture
def app(deployed, tmp_path):
    with deployed.db.transaction() as session:
        for name, groups in (("rita", ["revisor"]), ("frida", ["fagavdeling"]),
                             ("sigrid", ["kpu-sekretariat-kir"])):
            add_user(session, name, groups, password_hash=password_hash())
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=deployed)


def token_from(page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def logged_in(app, user):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    response = client.post("/login", data={"csrf_token": token_from(page), "username": user,
                                           "password": PASSWORD})
    assert response.status_code == 302
    return client


def test_an_auditor_finds_steps_through_and_exports_a_case(app, deployed, closed):
    open_case = at_measure(deployed, business_key="HA-2026-99")
    rita = logged_in(app, "rita")
    page = rita.get("/audit/?business_key=ha-2026-17").get_data(as_text=True)
    assert f"/audit/{closed}" in page and open_case not in page
    page = rita.get("/audit/?status=running").get_data(as_text=True)
    assert open_case in page and f"/audit/{closed}" not in page
    assert rita.get("/audit/?from=2026-13-01").status_code == 422

    seq = step_of(deployed, closed, "complete", "Task_VurderTiltak")
    page = rita.get(f"/audit/{closed}?step={seq}").get_data(as_text=True)
    assert 'data-verdict="ok"' in page
    assert f"{seq}. " in page and "Vurder og konkretiser" in page
    assert "tiltak_vurdering" in page
    assert "change-added" in page or "change-changed" in page
    assert 'aria-current="step"' in page

    report = rita.get(f"/audit/{closed}/report").get_data(as_text=True)
    assert report.count("<tr>") >= len(deployed.history.events(closed))
    xes = rita.get(f"/audit/{closed}/export.xes")
    assert xes.status_code == 200 and b"<trace" in xes.data
    csv = rita.get("/audit/export.csv?business_key=HA-2026").get_data(as_text=True)
    assert closed in csv and open_case in csv


def test_the_verdict_shows_a_tampered_event(app, deployed, closed):
    target = deployed.history.events(closed)[4]
    with deployed.db.transaction() as session:
        session.execute(update(HistoryEvent).where(HistoryEvent.id == target.id)
                        .values(actor="mallory"))
    page = logged_in(app, "rita").get(f"/audit/{closed}").get_data(as_text=True)
    assert 'data-verdict="failed" data-seq="5"' in page and "mallory" in page


def test_only_auditors_and_process_owners_see_the_audit_pages(app, closed):
    frida = logged_in(app, "frida")
    assert frida.get("/audit/").status_code == 403
    assert frida.get(f"/audit/{closed}").status_code == 403
    assert frida.get(f"/audit/{closed}/export.csv").status_code == 403
    assert "/audit/" not in frida.get("/").get_data(as_text=True)


def test_an_auditor_changes_nothing_whatever_they_post(app, deployed):
    """Every route that accepts a change, tried by an auditor with a valid CSRF token."""
    instance_id = at_measure(deployed)
    task = deployed.tasks.find(instance_id=instance_id)[0]
    before = deployed.history.events(instance_id)
    rita = logged_in(app, "rita")
    csrf = token_from(rita.get("/login").get_data(as_text=True))
    values = {"task_id": task.id, "instance_id": instance_id,
              "process_key": "hendelsesanalyse-oppfolging", "key": "hendelsesanalyse-oppfolging",
              "tenant": "sykehuset"}
    latest = deployed.repository.latest("hendelsesanalyse-oppfolging")
    values["definition_id"] = f"{latest.key}:{latest.version}:{latest.id}"  # Camunda's id
    numbers = {"source_id": str(latest.id), "target_id": str(latest.id),  # owners' pages
               "definition_id": str(latest.id)}
    tried = 0
    for rule in app.url_map.iter_rules():
        # logging in and out, and reading a receipt (posted to keep the code out of URLs)
        if "POST" not in rule.methods or rule.rule in ("/login", "/logout", "/kvittering/") \
                or "<path:" in rule.rule:  # a catch-all that answers "no such resource"
            continue
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<{name}>", value)
        for name, value in numbers.items():
            path = path.replace(f"<int:{name}>", value)
        if rule.rule.startswith("/engine-rest/"):  # Camunda Modeler's API: basic auth only
            credentials = base64.b64encode(f"rita:{PASSWORD}".encode()).decode()
            response = app.test_client().post(
                path, json={"variables": {}}, headers={"Authorization": f"Basic {credentials}"})
        elif rule.rule == "/api/messages":  # well-formed bodies, so that the refusal is
            response = rita.post(path, json={"name": "x", "data": {}})  # about who asks
        elif rule.rule.endswith("/cancel"):
            response = rita.post(path, json={"reason": "x"})
        elif rule.rule.startswith("/api/"):
            response = rita.post(path, json={"data": {"tittel": "x"}})
        else:
            response = rita.post(path, data={"csrf_token": csrf, "tittel": "x"})
        assert response.status_code == 403, (rule.rule, response.status_code)
        tried += 1
    assert tried >= 8
    assert [e.hash for e in deployed.history.events(instance_id)] == [e.hash for e in before]
    assert len(deployed.tasks.find(instance_id=instance_id)) == 1
    with deployed.db.transaction() as session:
        started = session.scalars(select(HistoryEvent).where(
            HistoryEvent.actor == "rita")).all()
    assert started == []
