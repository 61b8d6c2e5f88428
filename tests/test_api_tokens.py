"""Machine access: an integration's API token, made on the command line, starts a case
with its business key, sends the message, reads the case, its history and open tasks,
and cancels with a reason, within its scopes and processes; a revoked token is refused,
and no page takes a token. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re

import pytest
from command_line import tiltak_runner
from sqlalchemy import select

from engine.identity.users import add_user
from engine.models import ApiToken
from installation import services
from webui import create_app

from walks import FIXTURES

PASSWORD = "riktig-passord"


@pytest.fixture
def tiltak(database_url, tmp_path, set_up_by_command_line):
    run = tiltak_runner(database_url, tmp_path)
    set_up_by_command_line(database_url, [
        ("init",),
        ("deploy", str(FIXTURES / "kvalitetsportal.bpmn"), str(FIXTURES / "timerformer.bpmn")),
        ("users", "add", "kvalitetsportalen", "--groups", "integrasjon"),
        ("users", "add", "frida", "--groups", "fagavdeling,ansatt")])
    return run


@pytest.fixture
def client(tiltak, database_url, tmp_path):
    engine = services.build_engine(database_url)
    yield create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine).test_client()
    engine.db.dispose()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_integration_runs_a_case_with_its_token_until_it_is_revoked(tiltak, client,
                                                                        database_url):
    made = tiltak("token", "create", "kvalitetsportalen",
                  "--scope", "start,message,read,tasks,cancel", "--process", "kvalitetsportal")
    token = made.stdout.strip()
    assert token.startswith("tiltak_") and len(token) > 40
    assert "shown this once" in made.stderr
    auth = bearer(token)

    started = client.post("/api/processes/kvalitetsportal/instances", headers=auth, json={
        "business_key": "KP-2026-0042", "data": {"tittel": "Fall fra seng"}})
    assert started.status_code == 201, started.json
    case = started.json["id"]
    assert started.json["business_key"] == "KP-2026-0042"
    assert started.json["status"] == "running" and started.json["open_tasks"] == []

    delivered = client.post("/api/messages", headers=auth, json={
        "name": "hendelse-bekreftet", "business_key": "KP-2026-0042",
        "data": {"bekreftet_av": "sekretariatet"}})
    assert delivered.status_code == 200, delivered.json
    assert delivered.json == {"instance_id": case, "status": "running"}

    shown = client.get(f"/api/instances/{case}", headers=auth)
    assert shown.status_code == 200
    assert [t["element_id"] for t in shown.json["open_tasks"]] == ["Task_Tiltak"]
    history = client.get(f"/api/instances/{case}/history", headers=auth)
    assert [(e["type"], e["actor"]) for e in history.json] == [
        ("start", "kvalitetsportalen"), ("message", "kvalitetsportalen")]
    assert history.json[1]["data"]["data"] == {"bekreftet_av": "sekretariatet"}
    [task] = client.get(f"/api/tasks?instance={case}", headers=auth).json
    assert task["element_id"] == "Task_Tiltak"
    assert [t["id"] for t in client.get("/api/tasks", headers=auth).json] == [task["id"]]

    # outside its scopes and processes
    refused = client.post(f"/api/tasks/{task['id']}/complete", headers=auth, json={})
    assert refused.status_code == 403 and "scope 'work'" in refused.json["message"]
    other = client.post("/api/processes/timerformer/instances", headers=auth, json={})
    assert other.status_code == 403 and "timerformer" in other.json["message"]

    # a token is no way into the pages
    assert client.get("/", headers=auth).status_code == 302
    assert client.get(f"/instances/{case}", headers=auth).status_code == 302

    cancelled = client.post(f"/api/instances/{case}/cancel", headers=auth, json={})
    assert cancelled.status_code == 422  # a reason is needed
    cancelled = client.post(f"/api/instances/{case}/cancel", headers=auth,
                            json={"reason": "Meldt to ganger i Kvalitetsportalen"})
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    last = client.get(f"/api/instances/{case}/history", headers=auth).json[-1]
    assert last["type"] == "cancel"
    assert last["data"] == {"reason": "Meldt to ganger i Kvalitetsportalen"}

    listed = json.loads(tiltak("token", "list", "--json").stdout)
    assert [(t["name"], t["user"], t["processes"], t["revoked_at"]) for t in listed] == [
        ("kvalitetsportalen", "kvalitetsportalen", ["kvalitetsportal"], None)]
    assert token not in tiltak("token", "list").stdout
    tiltak("token", "revoke", "kvalitetsportalen")
    gone = client.get(f"/api/instances/{case}", headers=auth)
    assert gone.status_code == 401
    assert 'error="invalid_token"' in gone.headers["WWW-Authenticate"]
    assert "revoked" in gone.json["message"]
    assert "revoked" in tiltak("token", "list").stdout

    # only the token's hash is kept
    engine = services.build_engine(database_url)
    with engine.db.reading() as session:
        [row] = session.scalars(select(ApiToken)).all()
    engine.db.dispose()
    assert token not in row.token_hash and len(row.token_hash) == 64


def test_unknown_tokens_and_foreign_cases_are_refused(tiltak, client):
    assert client.get("/api/tasks").status_code == 401
    for header in ("Bearer tiltak_not-a-token", "Bearer ", "Basic a3A6cHc=", "tiltak_x"):
        answer = client.get("/api/tasks", headers={"Authorization": header})
        assert answer.status_code == 401, header
    reader = tiltak("token", "create", "leser", "--as", "kvalitetsportalen", "--scope", "read",
                    "--process", "kvalitetsportal").stdout.strip()
    starter = tiltak("token", "create", "timer-starter", "--as", "frida", "--scope",
                     "start,read,message", "--process", "timerformer").stdout.strip()
    refused = client.post("/api/processes/kvalitetsportal/instances", headers=bearer(reader),
                          json={"data": {"tittel": "x"}})
    assert refused.status_code == 403 and "scope 'start'" in refused.json["message"]

    everything = tiltak("token", "create", "alt", "--as", "kvalitetsportalen", "--scope",
                        "start", "--all-processes").stdout.strip()
    case = client.post("/api/processes/kvalitetsportal/instances", headers=bearer(everything),
                       json={"business_key": "KP-7", "data": {"tittel": "x"}}).json["id"]
    # a case of another process is not there for this token, nor is its message
    assert client.get(f"/api/instances/{case}", headers=bearer(starter)).status_code == 404
    sent = client.post("/api/messages", headers=bearer(starter),
                       json={"name": "hendelse-bekreftet", "business_key": "KP-7"})
    assert sent.status_code == 404
    assert client.get(f"/api/instances/{case}", headers=bearer(reader)).status_code == 200

    # the user it acts for disabled: its tokens with them
    tiltak("users", "disable", "kvalitetsportalen")
    assert client.get(f"/api/instances/{case}", headers=bearer(reader)).status_code == 401


def test_token_commands_say_what_is_wrong(tiltak):
    bad = tiltak("token", "create", "x", "--as", "frida", "--scope", "start,admin",
                 "--process", "kvalitetsportal", ok=False)
    assert bad.returncode == 2 and "'admin' is no scope" in bad.stderr
    bad = tiltak("token", "create", "x", "--as", "frida", "--scope", "start", ok=False)
    assert bad.returncode == 2 and "--process" in bad.stderr
    bad = tiltak("token", "create", "x", "--as", "nobody", "--scope", "start",
                 "--process", "kvalitetsportal", ok=False)
    assert bad.returncode == 4 and "no user 'nobody'" in bad.stderr
    bad = tiltak("token", "create", "bad name", "--as", "frida", "--scope", "start",
                 "--process", "kvalitetsportal", ok=False)
    assert bad.returncode == 2 and "token name" in bad.stderr
    tiltak("token", "create", "x", "--as", "frida", "--scope", "start",
           "--process", "kvalitetsportal")
    again = tiltak("token", "create", "x", "--as", "frida", "--scope", "start",
                   "--process", "kvalitetsportal", ok=False)
    assert again.returncode == 6 and "exists already" in again.stderr
    missing = tiltak("token", "revoke", "y", ok=False)
    assert missing.returncode == 4 and "no token named 'y'" in missing.stderr


def test_a_browser_session_may_not_send_messages(tiltak, client, database_url):
    """Messages come from other systems (a token with `message`) and the command line."""
    engine = services.build_engine(database_url)
    with engine.db.transaction() as session:
        add_user(session, "frida", ["fagavdeling", "ansatt"], password=PASSWORD)
    engine.db.dispose()
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": csrf, "username": "frida",
                                       "password": PASSWORD}).status_code == 302
    assert client.get("/api/tasks").status_code == 200
    sent = client.post("/api/messages", json={"name": "hendelse-bekreftet"})
    assert sent.status_code == 403 and "scope 'message'" in sent.json["message"]
