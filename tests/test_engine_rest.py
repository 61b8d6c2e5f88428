"""Camunda Modeler's "Deploy to Camunda Platform 7" against Tiltak's /engine-rest, on
SQLite and PostgreSQL, with the requests Modeler itself sends.

What Modeler's Camunda 7 client sends (its CamundaAPI class), in our words: every request
carries `Accept: application/json` and, with basic authentication configured,
`Authorization: Basic base64(user:password)`. The connection check is a GET of
`deployment?maxResults=0` (any 2xx is fine); the version check a GET of `version`, read
as `{"version": ...}`. The deployment is one POST of `deployment/create` as
multipart/form-data: `deployment-name`, `deployment-source` = "Camunda Modeler",
`enable-duplicate-filtering` = "true", `tenant-id` when one is set, then the diagram as a
part named by its file name (type text/xml) and each attached file (a form) likewise.
From the answer it reads `id` and `deployedProcessDefinitions`; on failure it shows the
answer's `message`, and a message beginning "ENGINE-09005 Could not parse BPMN process."
marks a diagram the server could not parse; 401 means wrong credentials, 403 a user who
may not deploy. Starting a case is a JSON POST of `process-definition/{id}/start` with
`businessKey` and `variables`.
"""

from __future__ import annotations

import base64
import json
import re
import threading

import pytest
import requests
from werkzeug.serving import make_server

from walks import PASSWORD, PROCESSES, START_DATA, app_with_users

BOUNDARY = "----WebKitFormBoundaryk3VbqZ1tX0mBy2Ua"
ROUTINE = "hendelsesanalyse-oppfolging.bpmn"


@pytest.fixture
def app(deployed, tmp_path):
    return app_with_users(deployed, tmp_path, {
        "per": ["prosesseier", "ansatt"], "frida": ["fagavdeling"],
        "rita": ["revisor", "prosesseier"]})


def modeler_headers(user: str, password: str = PASSWORD) -> dict[str, str]:
    credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Accept": "application/json", "Authorization": f"Basic {credentials}"}


def modeler_deploy_body(name: str, diagram: tuple[str, bytes],
                        attachments: list[tuple[str, bytes]] = (),
                        tenant: str | None = None,
                        fields: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The multipart body a browser's FormData makes of Modeler's fields, in its order
    (`fields`: more of Camunda's, as other clients send them)."""
    fields = [("deployment-name", name), ("deployment-source", "Camunda Modeler"),
              ("enable-duplicate-filtering", "true"), *fields]
    if tenant:
        fields.append(("tenant-id", tenant))
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
             f"{value}\r\n".encode() for key, value in fields]
    for (filename, content), kind in [(diagram, "text/xml"),
                                      *((a, "application/octet-stream") for a in attachments)]:
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{filename}"; '
                     f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'.encode()
                     + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def deploy(client, user: str, diagram: tuple[str, bytes], password: str = PASSWORD,
           name: str = "Hendelsesanalyse", **kwargs):
    return client.post("/engine-rest/deployment/create", headers=modeler_headers(user, password),
                       data=modeler_deploy_body(name, diagram, **kwargs),
                       content_type=f"multipart/form-data; boundary={BOUNDARY}")


def changed_routine() -> tuple[str, bytes]:
    text = (PROCESSES / ROUTINE).read_text(encoding="utf-8")
    changed = text.replace('name="Endelig dokumentasjon foreligger"',
                           'name="Endelig rapport foreligger"', 1)
    assert changed != text
    return ROUTINE, changed.encode("utf-8")


def test_modeler_deploys_a_changed_routine_and_the_new_version_runs(app, deployed):
    client = app.test_client()
    check = client.get("/engine-rest/deployment?maxResults=0", headers=modeler_headers("per"))
    assert check.status_code == 200 and check.get_json() == []
    version = client.get("/engine-rest/version", headers=modeler_headers("per"))
    assert version.status_code == 200 and re.fullmatch(r"7\.\d+\.\d+",
                                                       version.get_json()["version"])

    form = ("dokumentasjon.form", (PROCESSES / "dokumentasjon.form").read_bytes())
    response = deploy(client, "per", changed_routine(), attachments=[form])
    assert response.status_code == 200, response.get_data(as_text=True)
    deployment = response.get_json()
    assert deployment["name"] == "Hendelsesanalyse"
    assert deployment["source"] == "Camunda Modeler" and deployment["tenantId"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}",
                        deployment["deploymentTime"])
    assert deployment["links"][0]["href"].endswith(f"/engine-rest/deployment/{deployment['id']}")
    [(definition_id, definition)] = deployment["deployedProcessDefinitions"].items()
    assert definition_id == definition["id"]
    assert (definition["key"], definition["version"], definition["resource"],
            definition["deploymentId"]) == ("hendelsesanalyse-oppfolging", 2, ROUTINE,
                                            deployment["id"])

    listed = client.get("/engine-rest/deployment?source=Camunda%20Modeler&sortBy=id"
                        "&sortOrder=desc&withoutTenantId=true&maxResults=5",
                        headers=modeler_headers("per")).get_json()
    assert [d["id"] for d in listed] == [deployment["id"]]
    by_key = client.get("/engine-rest/process-definition/key/hendelsesanalyse-oppfolging",
                        headers=modeler_headers("frida")).get_json()
    assert by_key["id"] == definition_id

    # the reporter starts a case on the new version, as Modeler's "start instance" does
    variables = {"analyse_tittel": {"value": START_DATA["analyse_tittel"], "type": "String"},
                 "dokumentasjon": {"value": START_DATA["dokumentasjon"], "type": "String"},
                 "folgebrev": {"value": START_DATA["folgebrev"], "type": "String"},
                 "klinikker": {"value": json.dumps(["kir"]), "type": "Json"},
                 "foreslatte_tiltak": {"value": json.dumps(START_DATA["foreslatte_tiltak"]),
                                       "type": "Json"}}
    started = client.post(f"/engine-rest/process-definition/{definition_id}/start",
                          headers=modeler_headers("frida"),
                          json={"businessKey": "HA-2026-40", "variables": variables})
    assert started.status_code == 200, started.get_data(as_text=True)
    instance = started.get_json()
    assert (instance["definitionId"], instance["businessKey"], instance["ended"]) == \
        (definition_id, "HA-2026-40", False)
    assert deployed.history.show(instance["id"])["version"] == 2
    [task] = [t for t in deployed.tasks.find(actor="sigrid") if t.instance_id == instance["id"]]
    assert task.element_id == "Task_VurderTiltak"

    # the same diagram again: nothing new, and the answer names the version that runs
    again = deploy(client, "per", changed_routine()).get_json()
    assert list(again["deployedProcessDefinitions"]) == [definition_id]


def test_a_wrong_password_gets_camundas_401_and_the_session_cookie_counts_for_nothing(app):
    client = app.test_client()
    wrong = deploy(client, "per", changed_routine(), password="feil")
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == 'Basic realm="default"'
    assert wrong.get_json()["type"] == "AuthenticationException"
    assert client.get("/engine-rest/version",
                      headers={"Authorization": "Bearer abc"}).status_code == 401  # unknown

    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": csrf, "username": "per",
                                       "password": PASSWORD}).status_code == 302
    assert client.get("/").status_code == 200  # signed in, in the web UI
    for response in (client.get("/engine-rest/deployment?maxResults=0"),
                     client.post("/engine-rest/deployment/create",
                                 data=modeler_deploy_body("x", changed_routine()),
                                 content_type=f"multipart/form-data; boundary={BOUNDARY}")):
        assert response.status_code == 401
    # a browser opening the address gets no password prompt to remember and replay
    shown = client.get("/engine-rest/deployment", headers={"Accept": "text/html"})
    assert shown.status_code == 401 and "WWW-Authenticate" not in shown.headers


def test_a_broken_diagram_gets_the_error_modeler_shows_naming_file_and_element(app, deployed):
    name, content = changed_routine()
    broken = content.replace(b'targetRef="End_', b'targetRef="Borte_', 1)
    assert broken != content
    response = deploy(app.test_client(), "per", (name, broken))
    assert response.status_code == 400
    body = response.get_json()
    assert (body["type"], body["code"]) == ("ParseException", 0)
    assert body["message"].startswith("ENGINE-09005 Could not parse BPMN process.")
    assert f"resource {name}" in body["message"] and "Borte_" in body["message"]
    [error] = body["details"][name]["errors"]
    assert error["mainElementId"] and error["elementIds"] == [error["mainElementId"]]
    assert f"element '{error['mainElementId']}'" in body["message"]
    assert isinstance(error["line"], int) and body["details"][name]["warnings"] == []
    assert deployed.repository.latest("hendelsesanalyse-oppfolging").version == 1


def test_an_api_token_deploys_for_a_process_owner_within_its_scopes(app, deployed):
    """Modeler's "Bearer token" authentication with a token from `tiltak token create`:
    it acts for its user, so only a process owner's token with the scope `deploy`
    deploys, and a revoked one is refused like a wrong password."""
    from engine.identity import tokens

    def bearer(token: str) -> dict[str, str]:
        return {"Accept": "application/json", "Authorization": f"Bearer {token}"}

    def deploy_with(token: str):
        return app.test_client().post(
            "/engine-rest/deployment/create", headers=bearer(token),
            data=modeler_deploy_body("Hendelsesanalyse", changed_routine()),
            content_type=f"multipart/form-data; boundary={BOUNDARY}")

    def made(name: str, user: str, scope: str) -> str:
        return tokens.create(deployed.db, name, user=user, scopes=[scope], processes=None,
                             now=deployed.clock.now())[1]

    owners = made("modeler-per", "per", "deploy")
    readers = made("modeler-per-start", "per", "start")
    caseworker = made("modeler-frida", "frida", "deploy")
    assert deploy_with(readers).status_code == 403
    refused = deploy_with(caseworker)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "AuthorizationException"
    done = deploy_with(owners)
    assert done.status_code == 200, done.get_json()
    [definition] = [d for d in done.get_json()["deployedProcessDefinitions"].values()
                    if d["key"] == "hendelsesanalyse-oppfolging"]
    assert definition["version"] == 2
    tokens.revoke(deployed.db, "modeler-per", now=deployed.clock.now())
    assert deploy_with(owners).status_code == 401


def test_only_process_owners_deploy(app, deployed):
    client = app.test_client()
    assert client.get("/engine-rest/deployment?maxResults=0",
                      headers=modeler_headers("frida")).status_code == 200
    for user in ("frida", "rita"):  # a caseworker; an auditor, process owner or not
        response = deploy(client, user, changed_routine())
        assert response.status_code == 403
        body = response.get_json()
        assert body["type"] == "AuthorizationException" and body["userId"] == user
        assert body["code"] == 0
        assert body["missingAuthorizations"] == [{"permissionName": "CREATE",
                                                  "resourceName": "Deployment",
                                                  "resourceId": None}]
    assert deployed.repository.latest("hendelsesanalyse-oppfolging").version == 1
    refused = client.post("/engine-rest/process-definition/key/hendelsesanalyse-oppfolging/"
                          "start", headers=modeler_headers("per"), json={"variables": {}})
    assert refused.status_code == 403  # starting takes the process's starter groups
    assert refused.get_json()["missingAuthorizations"][0]["permissionName"] == \
        "CREATE_INSTANCE"


def test_bad_requests_answer_in_camundas_words(app):
    client = app.test_client()
    headers = modeler_headers("per")
    bad = client.get("/engine-rest/deployment?sortBy=colour", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["type"] == "InvalidRequestException"
    assert "sortBy" in bad.get_json()["message"]
    missing = client.get("/engine-rest/process-definition/key/finnes-ikke", headers=headers)
    assert missing.status_code == 404
    assert missing.get_json()["type"] == "InvalidRequestException"
    assert client.get("/engine-rest/task", headers=headers).status_code == 404
    typed = client.post("/engine-rest/process-definition/key/hendelsesanalyse-oppfolging/"
                        "start", headers=modeler_headers("frida"),
                        json={"variables": {"x": {"value": "rO0AB", "type": "Object"}}})
    assert typed.status_code == 400 and "Object" in typed.get_json()["message"]
    assert typed.get_json()["message"].startswith("Cannot instantiate process definition "
                                                  "hendelsesanalyse-oppfolging:1:")
    # Camunda's exception codes (7.20 on): none for a request that does not fit
    assert (bad.get_json()["code"], typed.get_json()["code"]) == (None, None)


def test_a_decision_table_deployed_alone_twice_makes_one_new_version(app, deployed):
    """Modeler's DMN tab deploys the table alone; a client that also sends
    `deploy-changed-only` the same. The processes that use the table get a new version
    once; the same table again makes none, and names the versions that run."""
    text = (PROCESSES / "risikoklasse.dmn").read_text(encoding="utf-8")
    changed = text.replace("<text>[1..3]</text>", "<text>[1..2]</text>", 1)
    assert changed != text
    table = ("risikoklasse.dmn", changed.encode("utf-8"))
    client = app.test_client()
    answers = [deploy(client, "per", table, name="risikoklasse",
                      fields=(("deploy-changed-only", "true"),)) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    first, second = (a.get_json() for a in answers)
    [decision] = first["deployedDecisionDefinitions"].values()
    assert (decision["key"], decision["resource"]) == ("risikoklasse", "risikoklasse.dmn")
    [(definition_id, definition)] = first["deployedProcessDefinitions"].items()
    assert (definition["key"], definition["version"]) == ("avvikshandtering", 2)
    assert definition["deploymentId"] == first["id"]
    assert list(second["deployedProcessDefinitions"]) == [definition_id]
    assert deployed.repository.latest("avvikshandtering").version == 2


def test_a_suspended_version_shows_as_suspended_and_a_start_gets_camundas_refusal(
        app, deployed):
    """Camunda answers a start the engine refuses with 500 `RestException`, "Cannot
    instantiate process definition ID: ...", which Modeler reports as the engine's error
    (a 409 it would take for a wrong address)."""
    client = app.test_client()
    key = "hendelsesanalyse-oppfolging"
    deployed.suspension.suspend_definition(key, actor="per")
    definition = client.get(f"/engine-rest/process-definition/key/{key}",
                            headers=modeler_headers("frida")).get_json()
    assert definition["suspended"] is True
    variables = {name: {"value": value if isinstance(value, str) else json.dumps(value),
                        "type": "String" if isinstance(value, str) else "Json"}
                 for name, value in START_DATA.items()}
    body = {"businessKey": "HA-2026-41", "variables": variables}
    refused = client.post(f"/engine-rest/process-definition/{definition['id']}/start",
                          headers=modeler_headers("frida"), json=body)
    assert refused.status_code == 500
    answer = refused.get_json()
    assert (answer["type"], answer["code"]) == ("RestException", 0)
    assert answer["message"].startswith(
        f"Cannot instantiate process definition {definition['id']}: ")
    assert "suspended" in answer["message"]

    deployed.suspension.activate_definition(key, actor="per")
    started = client.post(f"/engine-rest/process-definition/{definition['id']}/start",
                          headers=modeler_headers("frida"), json=body)
    assert started.status_code == 200, started.get_data(as_text=True)
    case = started.get_json()
    assert case["suspended"] is False
    deployed.suspension.suspend(case["id"], actor="per")
    shown = client.get(f"/engine-rest/process-instance/{case['id']}",
                       headers=modeler_headers("frida")).get_json()
    assert shown["suspended"] is True


def test_over_http_a_diagram_with_its_form_deployed_twice_makes_one_version(app, deployed):
    """Through a socket, with an HTTP client's own multipart encoding: the clinic part of
    the six-step routine and its form, `deploy-changed-only` as other clients send it,
    twice in a row. The second makes no version and names the one the first made."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    text = (PROCESSES / "klinikk-oppfolging.bpmn").read_text(encoding="utf-8")
    changed = text.replace('name="Behandle analysen og tiltakene i KPU"',
                           'name="Behandle analysen og tiltakene i KPU-møtet"', 1)
    assert changed != text
    files = [("klinikk-oppfolging.bpmn", ("klinikk-oppfolging.bpmn", changed.encode(),
                                          "text/xml")),
             ("vurder-tiltak.form", ("vurder-tiltak.form",
                                     (PROCESSES / "vurder-tiltak.form").read_bytes(),
                                     "application/octet-stream"))]
    fields = {"deployment-name": "klinikk-oppfolging", "deployment-source": "Camunda Modeler",
              "enable-duplicate-filtering": "true", "deploy-changed-only": "true"}
    try:
        answers = [requests.post(
            f"http://127.0.0.1:{server.server_port}/engine-rest/deployment/create",
            data=fields, files=files, auth=("per", PASSWORD),
            headers={"Accept": "application/json"}, timeout=30) for _ in range(2)]
    finally:
        server.shutdown()
    assert [a.status_code for a in answers] == [200, 200], answers[0].text
    first, second = (a.json() for a in answers)
    [(definition_id, definition)] = first["deployedProcessDefinitions"].items()
    assert (definition["key"], definition["version"]) == ("klinikk-oppfolging", 2)
    assert second["id"] != first["id"]  # each request is recorded, as who deployed when
    assert list(second["deployedProcessDefinitions"]) == [definition_id]
    assert [v.version for v in deployed.repository.versions("klinikk-oppfolging")] == [1, 2]
