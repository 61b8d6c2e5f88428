"""Outbound events: an integration starts a case with its API token and sends it the
message; people carry out and approve the measure the case calls; a receiver on
loopback gets the case's events, signed with the webhook's secret, from a real `tiltak
worker`. Its first answer is 500: that delivery is retried and both tries are in the
log. A revoked token is refused. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from command_line import tiltak_runner
from local_servers import wait_until

from engine.identity.users import add_user
from engine.models import Webhook, WebhookDelivery
from installation import services
from installation.webhooks import events, signing
from webui import create_app

from walks import FIXTURES, PROCESSES, ROOT, task_for


class Receiver:
    """An incident system's endpoint: keeps every request; answers 500 to the first."""

    def __init__(self):
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    first = not receiver.received
                    receiver.received.append((dict(self.headers), body))
                self.send_response(500 if first else 204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tiltak-events"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def bodies(self) -> list[dict]:
        with self.lock:
            return [json.loads(body) for _, body in self.received]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def tiltak(database_url, tmp_path, set_up_by_command_line):
    run = tiltak_runner(database_url, tmp_path)
    set_up_by_command_line(database_url, [
        ("init",),
        ("deploy", str(FIXTURES / "kvalitetsportal-tiltak.bpmn"),
         str(PROCESSES / "tiltak.bpmn"), str(PROCESSES / "tiltak-kontroll.form")),
        ("users", "add", "kvalitetsportalen", "--groups", "integrasjon"),
        ("users", "add", "ola", "--groups", "ansatt"),
        ("users", "add", "sigrid", "--groups", "kpu-sekretariat-kir,ansatt")])
    return run


@pytest.fixture
def worker(tiltak, database_url, tmp_path):
    """A real `tiltak worker`, retrying a failed delivery after a second."""
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url,
           "TILTAK_WEBHOOK_RETRY_SECONDS": "1"}
    with open(tmp_path / "worker.log", "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "tiltak.cli", "worker"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    yield process
    process.terminate()
    process.wait(timeout=30)


def receivers_check():
    """The signature check docs/WEBHOOKS.md gives an integrator, run as written there."""
    text = (ROOT / "docs" / "WEBHOOKS.md").read_text(encoding="utf-8")
    [code] = re.findall(r"```python\n(.*?)```", text, re.S)
    found: dict = {}
    exec(compile(code, "docs/WEBHOOKS.md", "exec"), found)
    return found["is_from_tiltak"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_incident_system_hears_the_measure_done_and_the_case_closed(
        tiltak, receiver, worker, database_url, tmp_path):
    added = tiltak("webhook", "add", "kvalitetsportalen", receiver.url, "--events",
                   "case.started,task.created,task.completed,measure.done,case.closed",
                   "--process", "kvalitetsportal-tiltak")
    secret = added.stdout.strip()
    assert secret.startswith("whsec_") and "shown this once" in added.stderr
    assert secret not in tiltak("webhook", "list").stdout
    token = tiltak("token", "create", "kvalitetsportalen", "--scope", "start,message,read",
                   "--process", "kvalitetsportal-tiltak").stdout.strip()

    engine = services.build_engine(database_url)
    client = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine) \
        .test_client()
    due = (date.today() + timedelta(days=30)).isoformat()
    started = client.post("/api/processes/kvalitetsportal-tiltak/instances",
                          headers=bearer(token), json={
                              "business_key": "KP-2026-0117",
                              "data": {"tittel": "Dobbeltkontroll av insulin", "ansvarlig": "ola",
                                       "frist": due, "klinikk": "kir"}})
    assert started.status_code == 201, started.json
    case = started.json["id"]
    sent = client.post("/api/messages", headers=bearer(token),
                       json={"name": "hendelse-bekreftet", "business_key": "KP-2026-0117"})
    assert sent.status_code == 200, sent.json

    task = task_for(engine, "ola", "Task_GjennomforTiltak", case)
    engine.tasks.complete(task.id, actor="ola", data={
        "gjennomfort_dato": date.today().isoformat(),
        "gjennomfort_beskrivelse": "Dobbeltkontroll innført på alle vakter"})
    control = task_for(engine, "sigrid", "Task_KontrollerTiltak", case)
    engine.tasks.complete(control.id, actor="sigrid", data={"tiltak_godkjent": True})
    assert client.get(f"/api/instances/{case}", headers=bearer(token)).json["status"] == \
        "completed"

    # seven events, one of them tried twice
    wait_until(lambda: len(receiver.received) >= 8)
    time.sleep(0.5)
    with receiver.lock:
        received = list(receiver.received)
    assert len(received) == 8
    is_from_tiltak = receivers_check()
    for headers, body in received:
        assert is_from_tiltak(secret, headers, body)
        assert not is_from_tiltak(secret, headers, body.replace(b"KP-2026", b"KP-2027"))
        assert signing.verify(secret, headers[signing.TIMESTAMP_HEADER], body,
                              headers[signing.SIGNATURE_HEADER]), headers
        assert not signing.verify("whsec_another", headers[signing.TIMESTAMP_HEADER], body,
                                  headers[signing.SIGNATURE_HEADER])
        assert abs(int(headers[signing.TIMESTAMP_HEADER]) - time.time()) < 120
        shown = json.loads(body)
        assert headers[signing.EVENT_ID_HEADER] == shown["id"]
        assert headers[signing.EVENT_TYPE_HEADER] == shown["type"]
    # the same post replayed ten minutes later
    is_from_tiltak.__globals__["time"] = SimpleNamespace(time=lambda: time.time() + 600)
    assert not any(is_from_tiltak(secret, headers, body) for headers, body in received)
    bodies = [json.loads(body) for _, body in received]
    first, retried = bodies[0], [b for b in bodies[1:] if b["id"] == bodies[0]["id"]]
    assert retried == [first]  # the same event, the same id and body, once more
    by_type: dict[str, list[dict]] = {}
    for body in bodies[1:]:
        by_type.setdefault(body["type"], []).append(body)
    assert {t: len(found) for t, found in by_type.items()} == {
        "case.started": 1, "task.created": 2, "task.completed": 2, "measure.done": 1,
        "case.closed": 1}

    [done] = by_type["measure.done"]
    assert done == {
        "id": done["id"], "type": "measure.done", "version": events.VERSION,
        "time": done["time"], "process_key": "kvalitetsportal-tiltak",
        "business_key": "KP-2026-0117", "instance_id": case, "link": f"/instances/{case}",
        "task": {"id": control.id, "element_id": "Task_KontrollerTiltak",
                 "name": "Kontroller tiltak: Dobbeltkontroll av insulin",
                 "process_key": "tiltak"}}
    [closed] = by_type["case.closed"]
    assert closed["outcome"] == "completed" and closed["instance_id"] == case
    assert "task" not in closed
    # nothing of what was written in the case beyond the task's name
    assert all("Dobbeltkontroll innført" not in json.dumps(b) for b in bodies)
    assert sorted(t["task"]["element_id"] for t in by_type["task.created"]) == [
        "Task_GjennomforTiltak", "Task_KontrollerTiltak"]
    assert len({b["id"] for b in bodies}) == 7

    # the operators' log: every delivery sent, the first after a 500
    shown = json.loads(tiltak("webhook", "log", "kvalitetsportalen", "--json").stdout)
    assert len(shown) == 7 and {d["status"] for d in shown} == {"sent"}
    [twice] = [d for d in shown if d["attempts"] == 2]
    assert twice["event_id"] == first["id"]
    assert [t["status_code"] for t in twice["tries"]] == [500, 204]
    assert twice["tries"][0]["error"].startswith("HTTP 500")
    text = tiltak("webhook", "log").stdout
    assert "case.closed" in text and "HTTP 500" in text

    # the revoked token is refused; a removed webhook gets nothing more
    tiltak("token", "revoke", "kvalitetsportalen")
    assert client.get(f"/api/instances/{case}", headers=bearer(token)).status_code == 401
    assert "removed" in tiltak("webhook", "remove", "kvalitetsportalen").stdout
    assert tiltak("webhook", "list").stdout.strip() == "no webhooks"
    with engine.db.reading() as session:
        assert session.query(WebhookDelivery).count() == 7
    engine.db.dispose()


def test_webhook_commands_say_what_is_wrong(tiltak):
    bad = tiltak("webhook", "add", "x", "ftp://example.org/", "--events", "case.closed",
                 ok=False)
    assert bad.returncode == 2 and "no http(s) URL" in bad.stderr
    bad = tiltak("webhook", "add", "x", "https://example.org/", "--events",
                 "case.closed,case.reopened", ok=False)
    assert bad.returncode == 2 and "'case.reopened' is no event" in bad.stderr
    bad = tiltak("webhook", "add", "bad name", "https://example.org/", "--events",
                 "case.closed", ok=False)
    assert bad.returncode == 2 and "webhook name" in bad.stderr
    bad = tiltak("webhook", "add", "x", "https://user:pw@example.org/", "--events",
                 "case.closed", ok=False)
    assert bad.returncode == 2 and "user name or password" in bad.stderr
    tiltak("webhook", "add", "x", "https://example.org/", "--events", "case.closed")
    again = tiltak("webhook", "add", "x", "https://example.org/", "--events", "case.closed",
                   ok=False)
    assert again.returncode == 6 and "exists already" in again.stderr
    assert tiltak("webhook", "remove", "y", ok=False).returncode == 4
    assert tiltak("webhook", "log", "y", ok=False).returncode == 4


def test_each_webhook_hears_only_the_events_and_processes_it_asked_for(tiltak, database_url):
    """Queued with the command's own writes: per webhook, only its events of its
    processes (a task of a called process counts for both), nothing for a removed one."""
    tiltak("webhook", "add", "portal", "https://portal.example/", "--events",
           "task.created,case.closed", "--process", "kvalitetsportal-tiltak")
    tiltak("webhook", "add", "closings", "https://archive.example/", "--events", "case.closed")
    tiltak("webhook", "add", "gone", "https://gone.example/", "--events",
           "case.started,task.created,task.completed,case.closed")
    tiltak("webhook", "remove", "gone")
    tiltak("deploy", str(FIXTURES / "kort-timer.bpmn"))
    engine = services.build_engine(database_url)
    due = (date.today() + timedelta(days=30)).isoformat()
    case = engine.runtime.start("kvalitetsportal-tiltak", actor="kvalitetsportalen",
                                business_key="KP-1",
                        data={
                            "tittel": "Dobbeltkontroll", "ansvarlig": "ola", "frist": due,
                            "klinikk": "kir"}).id
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    other = engine.runtime.start("kort-timer", actor="system").id
    engine.runtime.cancel(other, actor="system", reason="feilregistrert")
    engine.runtime.message("hendelse-bekreftet", actor="kvalitetsportalen", business_key="KP-1")

    with engine.db.reading() as session:
        queued = [(d.webhook_id, d.event_type, d.instance_id, json.loads(d.body)["type"])
                  for d in session.query(WebhookDelivery).order_by(WebhookDelivery.id)]
    names = {w.id: w.name for w in webhook_rows(engine)}
    assert [(names[w], t, i) for w, t, i, _ in queued] == [
        ("closings", "case.closed", other), ("portal", "task.created", case)]
    assert all(t == shown for _, t, _, shown in queued)
    engine.db.dispose()


def webhook_rows(engine):
    with engine.db.reading() as session:
        return list(session.query(Webhook))


def test_a_commands_events_are_queued_in_the_order_they_happened(tiltak, database_url,
                                                                 monkeypatch):
    """One statement queues a command's events for every webhook that wants them: the
    rows come in the order the events happened, each webhook's in the order webhooks were
    added, and the same when a command's events take several statements."""
    tiltak("webhook", "add", "alt", "https://alt.example/", "--events",
           "case.started,task.created,task.completed,case.closed")
    tiltak("webhook", "add", "arkiv", "https://arkiv.example/", "--events",
           "case.started,task.completed")
    engine = services.build_engine(database_url)
    due = (date.today() + timedelta(days=30)).isoformat()

    def walked(business_key: str) -> list[tuple[str, str]]:
        case = engine.runtime.start("kvalitetsportal-tiltak", actor="kvalitetsportalen",
                                    business_key=business_key,
                                    data={"tittel": "Dobbeltkontroll", "ansvarlig": "ola",
                                          "frist": due, "klinikk": "kir"}).id
        engine.runtime.message("hendelse-bekreftet", actor="kvalitetsportalen",
                               business_key=business_key)
        engine.tasks.complete(task_for(engine, "ola", "Task_GjennomforTiltak", case).id,
                              actor="ola", data={
                                  "gjennomfort_dato": date.today().isoformat(),
                                  "gjennomfort_beskrivelse": "Innført på alle vakter"})
        engine.tasks.complete(task_for(engine, "sigrid", "Task_KontrollerTiltak", case).id,
                              actor="sigrid", data={"tiltak_godkjent": True})
        with engine.db.reading() as session:
            rows = session.query(WebhookDelivery).filter_by(instance_id=case) \
                .order_by(WebhookDelivery.id).all()
            return [(names[d.webhook_id], json.loads(d.body)["type"]) for d in rows]
    names = {w.id: w.name for w in webhook_rows(engine)}
    together = walked("KP-1")
    assert together == [
        ("alt", "case.started"), ("arkiv", "case.started"),  # start
        ("alt", "task.created"),  # the message
        ("alt", "task.completed"), ("arkiv", "task.completed"), ("alt", "task.created"),
        ("alt", "task.completed"), ("arkiv", "task.completed"), ("alt", "case.closed")]
    monkeypatch.setattr(events, "PER_STATEMENT", 1)
    assert walked("KP-2") == together
    engine.db.dispose()
