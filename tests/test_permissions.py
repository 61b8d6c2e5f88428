"""One rule per action, whatever the door: the web page, the JSON API and the command line
give the same answer (engine/identity/permissions.py)."""

from __future__ import annotations

import io

import pytest
from command_line import CommandLine
from test_webui import PASSWORD, app, login  # noqa: F401 - the app fixture

from engine.errors import PermissionDenied
from engine.identity.users import add_user

from walks import START_DATA, review_rows

START_DATA_KIR = dict(START_DATA, klinikker=["kir"])
ROWS = review_rows("kir")

# (user, process key, may start): frida is in the analysis routine's starter group; no
# one but the operator starts the management review, which has none (its timer does);
# an auditor starts nothing
STARTS = [
    ("frida", "hendelsesanalyse-oppfolging", True),
    ("nora", "hendelsesanalyse-oppfolging", False),
    ("nora", "ledelsens-gjennomgang", False),
    ("rita", "avvikshandtering", False),
    ("nora", "avvikshandtering", True),
]


@pytest.fixture
def people(app, deployed):  # noqa: F811
    with deployed.db.transaction() as session:
        add_user(session, "nora", ["ansatt"], password=PASSWORD)
    return app


@pytest.mark.parametrize(("user", "process_key", "allowed"), STARTS)
def test_who_may_start_a_process_is_one_rule_on_the_web_page_and_the_api(
        people, deployed, user, process_key, allowed):
    client = people.test_client()
    login(client, user)
    page = client.get(f"/start/{process_key}")
    api = client.post(f"/api/processes/{process_key}/instances", json={"data": {}})
    listed = any(d.key == process_key for d in deployed.repository.startable(user))
    if allowed:
        assert page.status_code == 200 and listed
        assert api.status_code != 403  # refused for its data, if at all: not for who asks
    else:
        assert (page.status_code, api.status_code, listed) == (403, 403, False)
        assert not deployed.history.find_instance_ids()


def test_the_command_line_refuses_the_same_start_and_the_operator_may(people, deployed,
                                                                       database_url, tmp_path):
    cli = CommandLine(database_url, tmp_path)
    refused = cli.run("start", "ledelsens-gjennomgang", "--as", "nora", ok=False)
    assert refused.returncode != 0 and "may not start" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not deployed.history.find_instance_ids()
    cli.run("start", "ledelsens-gjennomgang", "--as", "system", "--data", "{}")
    assert len(deployed.history.find_instance_ids()) == 1


def test_a_colleague_cannot_add_documents_to_a_task_someone_else_has_claimed(people, deployed):
    from engine.errors import PermissionDenied

    from walks import START_DATA, task_for

    with deployed.db.transaction() as session:
        add_user(session, "siri", ["kpu-sekretariat-kir"], password=PASSWORD)
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    deployed.tasks.claim(task.id, actor="sigrid")
    with pytest.raises(PermissionDenied, match="assigned to sigrid"):
        deployed.runtime.attach(instance.id, actor="siri", filename="notat.txt", content=b"x",
                                task_id=task.id)
    client = people.test_client()
    login(client, "siri")
    page = f"/tasks/{task.id}"
    token = client.get("/").get_data(as_text=True).split('name="csrf_token" value="')[1]
    response = client.post(f"{page}/attachments", data={
        "csrf_token": token.split('"')[0], "file": (io.BytesIO(b"x"), "notat.txt")},
        content_type="multipart/form-data")
    assert response.status_code in (302, 403)
    assert not deployed.history.attachments(instance.id)
    deployed.runtime.attach(instance.id, actor="sigrid", filename="notat.txt", content=b"x",
                            task_id=task.id)
    assert len(deployed.history.attachments(instance.id)) == 1


# who is who in the matrix: frida starts the six-step routine (fagavdeling), sigrid is a
# candidate for its first task (kpu-sekretariat-kir), nora an employee with no part in
# it, per a process owner, rita an auditor who also sits in sigrid's group
ROLES = {"frida": ["fagavdeling"], "sigrid": ["kpu-sekretariat-kir"], "nora": ["ansatt"],
         "per": ["prosesseier", "ansatt"], "rita": ["revisor", "kpu-sekretariat-kir"]}
# action -> the users it is allowed to
MATRIX = {
    "start": {"frida"},
    "read": {"frida", "sigrid", "per", "rita"},
    "claim": {"sigrid"},
    "complete": {"sigrid"},
    "attach to the task": {"sigrid"},
    "attach to the case": {"frida"},
    "cancel": {"frida", "per"},
    "retry": {"per"},
}


def act(engine, action: str, user: str, instance_id: str, task_id: str) -> None:
    if action == "start":
        engine.runtime.start("hendelsesanalyse-oppfolging", actor=user,
                             data=dict(START_DATA_KIR))
    elif action == "read":
        if not engine.history.may_view(user, instance_id):
            raise PermissionDenied("may not read")
    elif action == "claim":
        engine.tasks.claim(task_id, actor=user)
    elif action == "complete":
        engine.tasks.complete(task_id, actor=user, data={"tiltak_vurdering": ROWS})
    elif action == "attach to the task":
        engine.runtime.attach(instance_id, actor=user, filename="notat.txt", content=b"x",
                              task_id=task_id)
    elif action == "attach to the case":
        engine.runtime.attach(instance_id, actor=user, filename="notat.txt", content=b"x")
    elif action == "cancel":
        engine.runtime.cancel(instance_id, actor=user)
    elif action == "retry":
        engine.runtime.retry(instance_id, actor=user)


@pytest.mark.parametrize("action", sorted(MATRIX))
def test_every_action_is_allowed_to_exactly_the_roles_it_belongs_to(deployed, action):
    from engine.errors import TaskNotOpen

    with deployed.db.transaction() as session:
        for name, groups in ROLES.items():
            add_user(session, name, groups)
    allowed = set()
    for user in ROLES:
        instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                          data=dict(START_DATA_KIR))
        task = next(t for t in deployed.tasks.find(instance_id=instance.id)
                    if t.element_id == "Task_VurderTiltak")
        try:
            act(deployed, action, user, instance.id, task.id)
        except PermissionDenied:
            continue
        except TaskNotOpen:  # allowed, but there is nothing to retry: not refused
            pass
        allowed.add(user)
    assert allowed == MATRIX[action]


# nothing else is served to a stranger (the API describes itself, as Camunda's does)
PUBLIC = {"/login", "/static/<path:filename>", "/api/openapi.json",
          # for the load balancer and the scraper: no case data (tests/test_operations.py
          # holds /metrics to loopback or its token)
          "/health", "/ready", "/metrics"}


def test_no_route_serves_or_changes_anything_without_a_login(people, deployed):
    """Every route, every method: a stranger is sent to the login (the APIs answer 401)
    and nothing is written."""
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=START_DATA_KIR)
    task = deployed.tasks.find(instance_id=instance.id)[0]
    before = [e.hash for e in deployed.history.events(instance.id)]
    values = {"task_id": task.id, "instance_id": instance.id, "definition_id": "1",
              "other_id": "1", "source_id": "1", "target_id": "1",
              "attachment_id": "1", "process_key": "hendelsesanalyse-oppfolging",
              "fmt": "csv", "filename": "x.js", "path": "x"}
    client = people.test_client()
    tried = 0
    for rule in people.url_map.iter_rules():
        if rule.rule in PUBLIC or rule.rule.startswith(("/vendor/", "/static/")):
            continue
        path = rule.rule
        for name, value in values.items():
            path = path.replace(f"<{name}>", value).replace(f"<int:{name}>", value) \
                .replace(f"<path:{name}>", value)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            expected = (401,) if path.startswith(("/api/", "/engine-rest/")) else (302, 400)
            assert response.status_code in expected, (method, rule.rule, response.status_code)
            if response.status_code == 302:
                assert "/login" in response.location, (method, rule.rule)
            tried += 1
    assert tried >= 30
    assert [e.hash for e in deployed.history.events(instance.id)] == before


def test_the_groups_with_the_engines_powers_are_named_by_the_installation(tmp_path,
                                                                           monkeypatch):
    """TILTAK_AUDITOR_GROUP / TILTAK_PROCESS_OWNER_GROUP: a site whose auditors are in
    `internrevisjon` has them read and never write; `revisor` is then a group like any."""
    from installation import services

    monkeypatch.setenv("TILTAK_AUDITOR_GROUP", "internrevisjon")
    monkeypatch.setenv("TILTAK_PROCESS_OWNER_GROUP", "rutineeier")
    site = services.build_engine(f"sqlite:///{tmp_path / 'site.sqlite3'}")
    site.db.create_schema()
    with site.db.transaction() as session:
        add_user(session, "randi", ["internrevisjon", "ansatt"])
        add_user(session, "rolf", ["revisor", "ansatt"])
        add_user(session, "ruth", ["rutineeier"])
    assert site.roles.read_all == {"internrevisjon", "rutineeier"}
    assert not site.roles.may_start("randi", site.identity.groups("randi"), ["ansatt"])
    with pytest.raises(PermissionDenied, match="auditor"):
        site.roles.check_writer("randi", site.identity.groups("randi"))
    assert site.roles.may_start("rolf", site.identity.groups("rolf"), ["ansatt"])
    assert site.roles.may_retry("ruth", site.identity.groups("ruth"))
