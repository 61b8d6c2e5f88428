"""Moving running cases and suspending from the process owners' pages (in Bokmål), on
SQLite and PostgreSQL: the generated plan, a refused plan that moves nothing and names
case and element, a checked and run plan, who may do what, and suspension seen on the
version, case, task and worklist pages."""

from __future__ import annotations

import html
import re

import pytest
from migration_walks import STEP_2, STEP_4, changed_routine, walk_until

from engine.errors import Suspended
from engine.history.replay import verify_instance

from walks import PASSWORD, START_DATA, app_with_users, task_for

CLINIC = "klinikk-oppfolging"


@pytest.fixture
def app(deployed, tmp_path):
    return app_with_users(deployed, tmp_path, {
        "per": ["prosesseier", "ansatt"], "frida": ["fagavdeling"],
        "sigrid": ["kpu-sekretariat-kir"], "rita": ["revisor"]})


@pytest.fixture
def cases(deployed):
    """One case waiting at step 2 (the KPU) and one at step 4 (the other clinic's minutes)."""
    found = {}
    for step, stop in (("step2", STEP_2), ("step4", STEP_4)):
        case = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA), business_key=f"HA-{step}")
        walk_until(deployed, case.id, stop)
        found[step] = case.id
    return found


def signed_in(app, user: str):
    client = app.test_client()
    response = client.post("/login", data={"csrf_token": token(client, "/login"),
                                           "username": user, "password": PASSWORD})
    assert response.status_code == 302, user
    return client


def token(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def version_id(engine, version: int) -> int:
    return next(v.id for v in engine.repository.versions(CLINIC) if v.version == version)


def plan_url(engine) -> str:
    return f"/owner/versions/{version_id(engine, 1)}/migrate/{version_id(engine, 2)}"


def mapping(page: str) -> dict[str, str]:
    """The plan page's selects as the browser would post them (name -> chosen value)."""
    chosen = {}
    for name, options in re.findall(r'<select name="(map-[^"]+)"[^>]*>(.*?)</select>', page,
                                     re.S):
        picked = re.search(r'<option value="([^"]*)" selected>', options)
        chosen[name] = html.unescape(picked.group(1)) if picked else ""
    return chosen


def post_plan(client, engine, action: str, **choice):
    url = plan_url(engine)
    page = client.get(url).get_data(as_text=True)
    form = {"csrf_token": token(client, url), "action": action, **mapping(page), **choice}
    return client.post(url, data=form)


def history_lengths(engine, ids) -> dict[str, int]:
    return {i: len(engine.history.events(i)) for i in ids}


def test_the_plan_page_shows_the_same_id_mapping(app, deployed, cases):
    deployed.repository.deploy(changed_routine(), actor="per")
    client = signed_in(app, "per")
    version_page = client.get(f"/owner/versions/{version_id(deployed, 1)}")
    assert plan_url(deployed) in version_page.get_data(as_text=True)
    page = client.get(plan_url(deployed)).get_data(as_text=True)
    chosen = mapping(page)
    assert chosen["map-Task_KpuBehandling"] == "Task_KpuBehandling"
    assert chosen["map-Task_MottaReferat"] == "Task_MottaReferat"
    # a select offers only the target's elements of the same kind
    select = re.search(r'<select name="map-Task_KpuBehandling".*?</select>', page, re.S)[0]
    assert "Script_Fordel" not in select and "Task_SendReferat" in select
    assert 'id="run-plan"' in page


def test_a_refused_plan_moves_nothing_and_the_page_names_case_and_element(
        app, deployed, cases):
    deployed.repository.deploy(changed_routine(drop="Task_MottaReferat"), actor="per")
    before = history_lengths(deployed, cases.values())
    client = signed_in(app, "per")

    response = post_plan(client, deployed, "run", which="all")

    assert response.status_code == 422
    page = response.get_data(as_text=True)
    refused = page[page.index('id="refused"'):]
    assert "HA-step4" in refused and "HA-step2" not in refused
    assert "«Task_MottaReferat» er aktiv i saken, og planen sier ikke hvor den skal." in \
        html.unescape(refused)
    assert "does not map" not in refused  # the engine's English stays on the command line
    assert f'data-instance="{cases["step4"]}" data-element="Task_MottaReferat"' in refused
    assert history_lengths(deployed, cases.values()) == before
    assert sorted(deployed.migration.cases_at_version(CLINIC, 1)) == sorted(cases.values())


def test_a_plan_is_checked_then_run_for_the_cases_at_a_chosen_activity(
        app, deployed, cases):
    new = deployed.repository.deploy(changed_routine(), actor="per")[0]
    client = signed_in(app, "per")

    checked = post_plan(client, deployed, "check", which="at", at=["Task_KpuBehandling"])
    assert checked.status_code == 200
    assert 'id="plan-fits"' in checked.get_data(as_text=True)
    assert deployed.migration.cases_at_version(CLINIC, 1) != []  # a check moves nothing

    response = post_plan(client, deployed, "run", which="at", at=["Task_KpuBehandling"])

    assert response.status_code == 200
    report = response.get_data(as_text=True)
    moved = report[report.index('id="moved"'):report.index('id="refused"')]
    assert "HA-step2" in moved and "HA-step4" not in moved
    assert deployed.migration.cases_at_version(CLINIC, 1) == [cases["step4"]]
    assert deployed.history.events(cases["step2"])[-1].type == "migrated"
    assert {t.definition_id for t in deployed.tasks.find(instance_id=cases["step2"])} \
        == {new.definition_id}
    assert verify_instance(deployed, cases["step2"]).ok


def test_nothing_chosen_is_named(app, deployed, cases):
    deployed.repository.deploy(changed_routine(), actor="per")
    response = post_plan(signed_in(app, "per"), deployed, "check", which="at")
    assert response.status_code == 422
    assert 'id="plan-problem"' in response.get_data(as_text=True)


def test_a_caseworker_gets_403_and_an_auditor_reads_the_plan_but_may_not_run_it(
        app, deployed, cases):
    deployed.repository.deploy(changed_routine(), actor="per")
    url = plan_url(deployed)
    assert signed_in(app, "sigrid").get(url).status_code == 403
    rita = signed_in(app, "rita")
    page = rita.get(url)
    assert page.status_code == 200 and 'id="run-plan"' not in page.get_data(as_text=True)
    refused = rita.post(url, data={"csrf_token": token(rita, url), "action": "run",
                                   "which": "all", **mapping(page.get_data(as_text=True))})
    assert refused.status_code == 403
    per = signed_in(app, "per")
    assert per.post(url, data={"action": "run", "which": "all"}).status_code == 400  # CSRF
    for path in (f"/owner/versions/{version_id(deployed, 2)}/suspend",
                 f"/owner/cases/{cases['step2']}/suspend"):
        assert rita.post(path, data={"csrf_token": token(rita, url)}).status_code == 403
    assert deployed.migration.cases_at_version(CLINIC, 1) != []
    assert deployed.history.events(cases["step2"])[-1].type != "suspended"


def test_a_version_suspended_on_its_page_starts_no_cases_until_activated(app, deployed):
    routine = deployed.repository.latest("hendelsesanalyse-oppfolging")
    client = signed_in(app, "per")
    url = f"/owner/versions/{routine.id}"
    response = client.post(f"{url}/suspend", data={"csrf_token": token(client, url)})
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "Suspendert" in page and 'id="activate-version"' in page
    with pytest.raises(Suspended):
        deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=dict(START_DATA))
    client.post(f"{url}/activate", data={"csrf_token": token(client, url)})
    assert 'id="suspend-version"' in client.get(url).get_data(as_text=True)
    assert deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                  data=dict(START_DATA))


def test_a_suspended_case_shows_on_the_case_task_and_worklist_pages(app, deployed):
    case = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                  data=dict(START_DATA, klinikker=["kir"]), business_key="HA-hold")
    per = signed_in(app, "per")
    case_url = f"/instances/{case.id}"
    per.post(f"/owner/cases/{case.id}/suspend", data={"csrf_token": token(per, case_url)})
    assert 'id="case-suspended"' in per.get(case_url).get_data(as_text=True)

    sigrid = signed_in(app, "sigrid")
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", case.id)
    row = re.search(rf'<tr[^>]*data-task="{task.id}".*?</tr>',
                    sigrid.get("/").get_data(as_text=True), re.S)[0]
    assert "Suspendert" in row and "/claim" not in row
    page = sigrid.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert re.search(r'<button type="submit" class="primary" disabled '
                     r'aria-describedby="case-suspended">', page)
    with pytest.raises(Suspended):
        deployed.tasks.claim(task.id, actor="sigrid")

    per.post(f"/owner/cases/{case.id}/activate", data={"csrf_token": token(per, case_url)})
    assert "Suspendert" not in sigrid.get("/").get_data(as_text=True)
    assert deployed.tasks.claim(task.id, actor="sigrid").assignee == "sigrid"


def test_what_stops_a_plan_is_said_in_norwegian_with_the_elements_it_names(
        app, deployed, cases):
    """A check of a plan whose target lacks a step both cases passed, and a plan edited
    outside the page (an element the target lacks, a task mapped to a script): each
    reason a Bokmål sentence naming its elements, the engine's English nowhere."""
    deployed.repository.deploy(changed_routine(drop="Task_VurderTiltak"), actor="per")
    client = signed_in(app, "per")

    checked = post_plan(client, deployed, "check", which="all")

    assert checked.status_code == 422
    page = html.unescape(checked.get_data(as_text=True))
    refused = page[page.index('id="refused"'):]
    passed = ("Saken har passert «Task_VurderTiltak», og versjon 2 har ikke Task_VurderTiltak "
              "(veien en sak har gått, beholdes).")
    for case in cases.values():
        row = re.search(rf'<tr data-instance="{case}" data-element="Task_VurderTiltak">'
                        r".*?</tr>", refused, re.S)[0]
        assert "(Task_VurderTiltak)" in row and passed in row  # the element by name and id
    assert "was passed" not in refused

    kinds = deployed.migration.activities_of(version_id(deployed, 2))
    forged = post_plan(client, deployed, "check", which="all", **{
        "map-Task_KpuBehandling": "Task_Finnesikke", "map-Task_MottaReferat": "Script_Fordel"})
    assert forged.status_code == 422
    problem = html.unescape(re.search(r'id="plan-problem">([^<]*)<',
                                      forged.get_data(as_text=True))[1])
    assert problem == (
        "Planen passer ikke til versjonene: «Task_KpuBehandling» er koblet til "
        "Task_Finnesikke, som versjon 2 av klinikk-oppfolging ikke har. «Task_MottaReferat», "
        f"en {kinds['Task_MottaReferat']}, kan ikke bli Script_Fordel, en "
        f"{kinds['Script_Fordel']}.")
    assert deployed.migration.cases_at_version(CLINIC, 1) != []  # nothing moved
