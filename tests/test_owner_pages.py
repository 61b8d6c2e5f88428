"""The process owners' pages (in Bokmål, the users' language), on SQLite and PostgreSQL:
versions and deployments, where the cases stand per activity, the difference between
versions, and upload with a lint report before deploying; who may read and who deploys."""

from __future__ import annotations

import base64
import html
import json
import re
from io import BytesIO

import pytest

from engine.definitions import collect_files
from engine.identity.users import add_user
from engine.model.difference import difference
from webui import create_app

from walks import FIXTURES, PASSWORD, PROCESSES, START_DATA, app_with_users, task_for

ROUTINE = "hendelsesanalyse-oppfolging.bpmn"
CLINIC = "klinikk-oppfolging.bpmn"


@pytest.fixture
def app(deployed, tmp_path):
    return app_with_users(deployed, tmp_path, {
        "per": ["prosesseier", "ansatt"], "frida": ["fagavdeling"],
        "sigrid": ["kpu-sekretariat-kir"], "rita": ["revisor"]})


def signed_in(app, user: str):
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": token(client, "/login"),
                                           "username": user, "password": PASSWORD})
    assert response.status_code == 302, user
    return client


def token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def upload(client, files: list[tuple[str, bytes]]):
    return client.post("/owner/upload", data={
        "csrf_token": token(client, "/owner/upload"),
        "files": [(BytesIO(data), name) for name, data in files]},
        content_type="multipart/form-data")


def deploy_form(page: str) -> dict[str, list[str]]:
    """The deploy form's fields as the browser would post them."""
    form = page[page.index('action="/owner/deploy"'):]
    fields: dict[str, list[str]] = {}
    for name, value in re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', form):
        fields.setdefault(name, []).append(html.unescape(value))
    return fields


def changed_routine() -> bytes:
    text = (PROCESSES / ROUTINE).read_text(encoding="utf-8")
    changed = text.replace('name="Endelig dokumentasjon foreligger"',
                           'name="Endelig rapport foreligger"', 1)
    assert changed != text
    return changed.encode("utf-8")


def deployment_count(engine) -> int:
    return len(engine.repository.deployment_summaries(limit=1000))


def test_a_broken_file_shows_the_lint_error_by_file_and_element_and_deploys_nothing(
        app, deployed):
    client = signed_in(app, "per")
    before = deployment_count(deployed)
    broken = (PROCESSES / CLINIC).read_text(encoding="utf-8").replace(
        'targetRef="Task_KpuBehandling"', 'targetRef="Task_Finnesikke"', 1)
    response = upload(client, [(CLINIC, broken.encode("utf-8"))])
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert CLINIC in page and "Flow_0yq4m2c" in page and "Task_Finnesikke" in page
    assert 'action="/owner/deploy"' not in page
    # the same files posted straight to the deploy address are checked again
    forged = client.post("/owner/deploy", data={
        "csrf_token": token(client, "/owner/upload"), "file_name": CLINIC,
        "file_content": base64.b64encode(broken.encode()).decode()})
    assert forged.status_code == 422 and "Flow_0yq4m2c" in forged.get_data(as_text=True)
    assert deployment_count(deployed) == before


def test_files_that_are_no_process_files_are_refused_with_a_clear_message(app, deployed):
    client = signed_in(app, "per")
    pdf = upload(client, [(ROUTINE, b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary")])
    assert pdf.status_code == 400
    assert f"{ROUTINE} er ikke en XML-fil" in html.unescape(pdf.get_data(as_text=True))
    text = upload(client, [("notater.txt", b"<xml/>")])
    assert text.status_code == 400 and "notater.txt: bare BPMN" in text.get_data(as_text=True)
    form = upload(client, [("skjema.form", b"<form/>")])
    assert form.status_code == 400 and "skjema.form er ikke en skjemafil" in \
        form.get_data(as_text=True)


def test_a_changed_routine_shows_its_difference_and_deploys_version_2(app, deployed):
    client = signed_in(app, "per")
    response = upload(client, [(ROUTINE, changed_routine())])
    page = response.get_data(as_text=True)
    assert response.status_code == 200, page
    assert "Ingen problemer funnet" in page
    assert "hendelsesanalyse-oppfolging 1" in page  # what it is compared with
    assert "Endelig rapport foreligger (StartEvent_AnalyseFerdig)" in page
    assert "Endelig dokumentasjon foreligger" in page  # the name before
    before = deployment_count(deployed)

    deployed_page = client.post("/owner/deploy", data=deploy_form(page))
    assert deployed_page.status_code == 302
    assert deployment_count(deployed) == before + 1
    versions = deployed.repository.versions("hendelsesanalyse-oppfolging")
    assert [(v.version, v.deployed_by) for v in versions] == [(1, "per"), (2, "per")]
    assert deployed.repository.latest("hendelsesanalyse-oppfolging").version == 2

    overview = client.get("/owner/").get_data(as_text=True)
    assert "Tiltak" in overview and re.search(r'data-version="2".*data-version="1"',
                                              overview, re.S)
    new, old = versions[1].id, versions[0].id
    diff = client.get(f"/owner/versions/{new}/difference/{old}").get_data(as_text=True)
    assert "Endelig rapport foreligger (StartEvent_AnalyseFerdig)" in diff
    # the same files again: nothing new
    again = client.post("/owner/deploy", data=deploy_form(page), follow_redirects=True)
    assert "Ingenting nytt ble tatt i bruk" in again.get_data(as_text=True)
    assert len(deployed.repository.versions("hendelsesanalyse-oppfolging")) == 2


def test_a_caseworker_gets_403_everywhere(app, deployed):
    client = signed_in(app, "sigrid")
    definition = deployed.repository.latest("hendelsesanalyse-oppfolging").id
    for path in ("/owner/", f"/owner/versions/{definition}", f"/owner/versions/{definition}.bpmn",
                 "/owner/upload"):
        assert client.get(path).status_code == 403, path
    csrf = token(client, "/")
    assert client.post("/owner/deploy", data={"csrf_token": csrf}).status_code == 403
    assert "/owner/" not in client.get("/").get_data(as_text=True)


def test_an_auditor_reads_the_pages_but_never_uploads_or_deploys(app, deployed):
    client = signed_in(app, "rita")
    definition = deployed.repository.latest("hendelsesanalyse-oppfolging").id
    assert client.get("/owner/").status_code == 200
    assert client.get(f"/owner/versions/{definition}").status_code == 200
    assert client.get(f"/owner/versions/{definition}.bpmn").status_code == 200
    assert 'href="/owner/upload"' not in client.get("/owner/").get_data(as_text=True)
    assert client.get("/owner/upload").status_code == 403
    before = deployment_count(deployed)
    csrf = token(client, "/")
    assert client.post("/owner/upload", data={
        "csrf_token": csrf, "files": [(BytesIO(changed_routine()), ROUTINE)]},
        content_type="multipart/form-data").status_code == 403
    assert client.post("/owner/deploy", data={
        "csrf_token": csrf, "file_name": ROUTINE,
        "file_content": base64.b64encode(changed_routine()).decode(),
    }).status_code == 403
    assert deployment_count(deployed) == before
    # only process owners have the navigation link
    assert 'href="/owner/"' not in client.get("/").get_data(as_text=True)
    assert 'href="/owner/"' in signed_in(app, "per").get("/").get_data(as_text=True)


def start(engine, business_key: str) -> str:
    return engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                data=dict(START_DATA, klinikker=["kir"]),
                                business_key=business_key).id


def test_the_counts_per_activity_follow_the_cases(app, deployed):
    at_review = start(deployed, "HA-1")
    at_review_too = start(deployed, "HA-2")
    at_kpu = start(deployed, "HA-3")
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", at_kpu)
    deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
        {"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3})
    finished = start(deployed, "HA-4")
    deployed.runtime.cancel(finished, actor="frida")

    top = deployed.repository.latest("hendelsesanalyse-oppfolging")
    clinic = deployed.repository.latest("klinikk-oppfolging")
    assert deployed.repository.case_positions(top.id).counts() == {
        "Activity_Klinikkoppfolging": {"running": 3, "incidents": 0}}
    positions = deployed.repository.case_positions(clinic.id)
    assert positions.counts() == {"Task_VurderTiltak": {"running": 2, "incidents": 0},
                                  "Task_KpuBehandling": {"running": 1, "incidents": 0}}
    assert sorted(c.instance_id for c in positions.cases["Task_VurderTiltak"]) == \
        sorted([at_review, at_review_too])
    [version] = [v for v in deployed.repository.versions() if v.id == top.id]
    assert (version.running, version.incidents, version.finished) == (3, 0, 1)

    page = signed_in(app, "per").get(f"/owner/versions/{clinic.id}").get_data(as_text=True)
    counts = json.loads(html.unescape(re.search(r'data-counts="([^"]*)"', page).group(1)))
    assert counts["Task_VurderTiltak"]["running"] == 2
    row = page[page.index('id="at-Task_VurderTiltak"'):]
    row = row[:row.index("</tr>")]
    assert "Vurder og konkretiser" in row
    assert f'href="/instances/{at_review}"' in row and "HA-2" in row and "HA-3" not in row


def test_the_difference_names_added_removed_and_changed_elements():
    before = (PROCESSES / CLINIC).read_text(encoding="utf-8")
    after = before.replace('camunda:candidateGroups="kpu-${klinikk}"',
                           'camunda:candidateGroups="kpu-leder-${klinikk}"', 1) \
        .replace('<bpmn:endEvent id="End_Klinikk"', '<bpmn:endEvent id="End_Ny"', 1)
    found = difference(before, after, CLINIC)
    assert [e.id for e in found.added] == ["End_Ny"]
    assert [e.id for e in found.removed] == ["End_Klinikk"]
    changed = {e.id: changes for e, changes in found.changed}
    [change] = changed["Task_KpuBehandling"]
    assert (change.what, change.before, change.after) == (
        "camunda:candidateGroups", "kpu-${klinikk}", "kpu-leder-${klinikk}")
    assert not found.changed or all(not e.id.endswith("_di") for e, _ in found.changed)


def test_an_incident_is_marked_at_its_activity_and_a_timer_wait_is_listed_apart(
        engine, clock, tmp_path):
    engine.repository.deploy(collect_files([str(FIXTURES / "timer-feil.bpmn")]), actor="per")
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    failing = engine.runtime.start("timer-feil", actor="system", data={"ventetid": "PT1M",
                                                                       "antall": 0})
    waiting = engine.runtime.start("timer-feil", actor="system", data={"ventetid": "PT1H",
                                                                       "antall": 2})
    clock.advance(minutes=2)
    engine.runtime.fire_due_timers()
    assert engine.history.show(failing.id)["status"] == "error"
    [element] = {e.element_id for e in engine.history.events(failing.id) if e.type == "incident"}

    definition = engine.repository.latest("timer-feil")
    positions = engine.repository.case_positions(definition.id)
    assert positions.counts() == {element: {"running": 0, "incidents": 1}}
    assert [c.instance_id for c in positions.incidents[element]] == [failing.id]
    assert [c.instance_id for c in positions.elsewhere] == [waiting.id]
    [version] = engine.repository.versions("timer-feil")
    assert (version.running, version.incidents, version.finished) == (1, 1, 0)

    with engine.db.transaction() as session:
        add_user(session, "prosess-eier", ["prosesseier"], password=PASSWORD)
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine)
    page = signed_in(app, "prosess-eier").get(f"/owner/versions/{definition.id}")
    row = page.get_data(as_text=True).split(f'id="at-{element}"')[1].split("</tr>")[0]
    assert page.status_code == 200 and f'href="/instances/{failing.id}" class="status-error"' in row


def test_the_lint_report_speaks_norwegian_and_keeps_each_element_id(app, deployed):
    """A process owner reads every finding as a Bokmål sentence beside the element it
    is about, as `tiltak lint` reports them in English: errors of a broken clinic part,
    and the warnings of a routine that would deploy but go wrong later."""
    clinic = (PROCESSES / CLINIC).read_text(encoding="utf-8") \
        .replace('targetRef="Task_KpuBehandling"', 'targetRef="Task_Finnesikke"', 1) \
        .replace('camunda:formRef="skjema-vurder-tiltak"', 'camunda:formRef="skjema-borte"', 1) \
        .replace('camunda:candidateGroups="kpu-${klinikk}"',
                 'camunda:candidateGroups="ukjent-${klinikk}"', 1) \
        .replace("involverte klinikkene.</bpmn:documentation>\n      <bpmn:extensionElements>",
                 "involverte klinikkene.</bpmn:documentation>\n      <bpmn:extensionElements>"
                 '\n        <camunda:executionListener class="no.Lytter" event="start" />', 1)
    routine = (PROCESSES / ROUTINE).read_text(encoding="utf-8") \
        .replace('camunda:candidateStarterGroups="fagavdeling"',
                 'camunda:candidateStarterGroups="ukjent-gruppe"', 1) \
        .replace('name="Hendelsen lukket"', 'name="Hendelsen ${ukjent_utfall} lukket"', 1)
    response = upload(signed_in(app, "per"), [(CLINIC, clinic.encode("utf-8")),
                                              (ROUTINE, routine.encode("utf-8"))])
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    findings = {}  # element -> what the report says of it
    for file in (CLINIC, ROUTINE):
        section = page.split(f'data-file="{file}"')[1].split("</section>")[0]
        for element, said in re.findall(r'<tr class="lint-\w+">\s*<td[^>]*>[^<]*</td>\s*'
                                        r"<td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>",
                                        section):
            findings[html.unescape(element)] = html.unescape(said)

    def about(element_id: str) -> str:
        [said] = [s for element, s in findings.items() if f"({element_id})" in element
                  or element == element_id]
        return said

    assert about("Flow_0yq4m2c") == ("Sekvensflyten «Flow_0yq4m2c» går til «Task_Finnesikke», "
                                     "som ikke er i «klinikk-oppfolging».")
    assert about("Task_SendReferat").startswith(
        "Kjøringslyttere (camunda:executionListener) kjøres ikke her: bruk en skriptoppgave")
    assert about("Task_VurderTiltak") == (
        "Skjemaet «skjema-borte» (camunda:formRef) er verken blant disse filene eller tatt "
        "i bruk: oppgaven kan ikke vise skjemaet sitt.")
    assert about("Task_KpuBehandling") == (
        "Kandidatgruppen «ukjent-${klinikk}» (camunda:candidateGroups) passer ikke med noen "
        "gruppe i organisasjonen: ingen ville fått oppgaven.")
    assert about("hendelsesanalyse-oppfolging").startswith("Startgruppen «ukjent-gruppe» "
                                                          "(camunda:candidateStarterGroups)")
    assert about("End_HendelseLukket").startswith(
        "Navnet leser variabelen «ukjent_utfall», som ikke settes av noe skjema")
    for english in ("which is not in", "do not run here", "is neither among", "matches no",
                    "reads 'ukjent_utfall'", "no form, script"):
        assert english not in page, english
    assert 'action="/owner/deploy"' not in page
    # the linter itself, and so `tiltak lint`, keeps the engine's English
    [flow] = [p for p in deployed.repository.lint({CLINIC: clinic.encode("utf-8")})[CLINIC].errors
              if p.element == "Flow_0yq4m2c"]
    assert flow.message == ("sequence flow 'Flow_0yq4m2c' leads to 'Task_Finnesikke', which "
                            "is not in 'klinikk-oppfolging'")
    assert (flow.code, flow.params["end"]) == ("flow_target_outside", "Task_Finnesikke")
