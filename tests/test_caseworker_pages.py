"""What a caseworker reads, on SQLite and PostgreSQL: case data through its form fields
(no JSON, no variable names), tasks that name their case, clinic and deadline, no
completion before a claim, "Mine saker" with following, and people pickers and
deadlines checked on the server with sentences that name the field."""

from __future__ import annotations

import re

import pytest

from engine.errors import InvalidInput
from engine.identity.users import add_user

from walks import (
    PASSWORD,
    START_DATA,
    app_with_users,
    at_measure,
    review_rows,
    task_for,
    walk_six_step,
)

USERS = ("frida", "sigrid", "ola", "kari", "rita", "nora", "magnus", "henrik")
INTERNAL = ("tiltak_liste", "referat_mottakere", "klinikkvalg", "alle_klinikker",
            "rad", "loopCounter", "mottaker", "initiator")


@pytest.fixture
def app(deployed, tmp_path):
    return app_with_users(deployed, tmp_path,
                          {name: sorted(deployed.identity.groups(name)) for name in USERS})


def token(client, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def logged_in(app, user: str):
    client = app.test_client()
    client.post("/login", data={"csrf_token": token(client), "username": user,
                                "password": PASSWORD})
    return client


def text_of(html: str) -> str:
    """What the page says, without its markup and scripts."""
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def no_raw_data(html: str) -> None:
    page = text_of(html.split("<details class=\"raw\"")[0])
    assert "[{" not in page and '{"' not in page and "{'" not in page
    for name in INTERNAL:
        assert not re.search(rf"\b{name}\b", page), name


def test_the_case_page_shows_data_through_the_forms_that_produced_it(app, deployed):
    instance_id = walk_six_step(deployed)
    client = logged_in(app, "frida")
    html = client.get(f"/instances/{instance_id}").get_data(as_text=True)
    no_raw_data(html)
    page = text_of(html)
    assert "Tittel på analysen" in page and "analyse_tittel" not in page
    assert "Forsinket behandling av sepsis ved overflytting" in page
    # the proposed measures as a table with the form's column labels
    assert re.search(r"<th scope=\"col\">Tiltak</th>\s*<th scope=\"col\">Beskrivelse</th>", html)
    assert "<td>Sepsisscreening ved overflytting</td>" in html
    # clinics by name, never a stray code
    assert "Kirurgisk klinikk, Medisinsk klinikk" in page
    assert not re.search(r"<dd>\s*<span class=\"value\">(kir|med)</span>", html)
    assert not re.search(r"\bklinikk\b\s*:?\s*med\b", page)
    # the history names the steps, not their ids
    assert "Vurder og konkretiser foreslåtte tiltak" in page
    assert "Task_VurderTiltak" not in page


def test_a_measure_owners_task_names_the_measure_the_case_and_the_deadline(app, deployed):
    instance_id = at_measure(deployed, frist="2026-03-01", business_key="HA-2026-17")
    client = logged_in(app, "ola")
    worklist = client.get("/").get_data(as_text=True)
    row = re.search(r'<tr[^>]*data-task="[^"]+">.*?</tr>', worklist, re.S).group(0)
    assert "Gjennomfør tiltak: Sepsisscreening ved overflytting" in row
    assert "Forsinket behandling av sepsis ved overflytting" in row  # the case's title
    assert "HA-2026-17" in row and "Kirurgisk klinikk" in row
    assert "1. mars 2026" in row  # the deadline in the user's locale
    task = task_for(deployed, "ola", "Task_GjennomforTiltak", instance_id)
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    header = re.search(r'<p class="meta task-subject">.*?</p>', html, re.S).group(0)
    assert "Forsinket behandling av sepsis ved overflytting" in header
    assert "HA-2026-17" in header and "Kirurgisk klinikk" in header
    assert "1. mars 2026" in header
    no_raw_data(html)
    side = text_of(html.split("Saksopplysninger så langt")[1])
    assert "Tiltaket" in side and "Sepsisscreening ved overflytting" in side
    assert "Ola Olsen" in side or "ola" in side
    assert "kpu_slutter_seg_til" not in side and "True" not in side


def test_complete_waits_for_a_claim_and_the_server_refuses_it_in_words(app, deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    client = logged_in(app, "sigrid")
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert re.search(r'<button type="submit" class="primary" disabled', html)
    response = client.post(f"/tasks/{task.id}", data={
        "csrf_token": token(client, f"/tasks/{task.id}"), "tiltak_vurdering#rows": "3"})
    assert response.status_code == 409
    assert "Ta oppgaven før du fullfører den" in response.get_data(as_text=True)
    assert deployed.history.show(instance.id)["open_tasks"][0]["id"] == task.id
    client.post(f"/tasks/{task.id}/claim", data={"csrf_token": token(client, "/")})
    html = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    assert not re.search(r'<button type="submit" class="primary" disabled', html)


def test_the_engines_refusals_are_said_in_the_users_language(app, deployed):
    """A stale tab (the task done meanwhile) and a task someone else took: the page says
    who and when in Norwegian, never the engine's English."""
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    with deployed.db.transaction() as session:  # a second secretary of the clinic
        add_user(session, "solveig", ["kpu-sekretariat-kir"], display_name="Solveig Sæther")
    deployed.tasks.claim(task.id, actor="solveig")
    sigrid = logged_in(app, "sigrid")
    taken = sigrid.post(f"/tasks/{task.id}/claim", data={"csrf_token": token(sigrid, "/")})
    said = text_of(taken.get_data(as_text=True))
    main = said.split("Detaljer til brukerstøtte")[0]  # the engine's words stay below, folded
    assert "Solveig Sæther har allerede tatt oppgaven" in main, main
    assert "already" not in main

    deployed.tasks.unclaim(task.id, actor="solveig")
    deployed.tasks.claim(task.id, actor="sigrid")
    stale = sigrid.get(f"/tasks/{task.id}").get_data(as_text=True)  # the tab stays open
    deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": review_rows("kir")})
    response = sigrid.post(f"/tasks/{task.id}", data={
        "csrf_token": token(sigrid, "/"), "tiltak_vurdering#rows": "3"},
        follow_redirects=True)
    page = text_of(response.get_data(as_text=True))
    assert "fullførte denne oppgaven" in page and "already completed" not in page
    assert stale  # the page was open before the task was done


def test_the_worklist_search_finds_a_task_by_its_cases_title(app, deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    client = logged_in(app, "sigrid")
    word = START_DATA["analyse_tittel"].split()[1]  # a word of the title, not of the task
    assert word.lower() not in task.name.lower()
    found = client.get(f"/?q={word}").get_data(as_text=True)
    assert f"/tasks/{task.id}" in found
    assert f"/tasks/{task.id}" not in client.get("/?q=ingen-slik-sak").get_data(as_text=True)


def review_post(client, task_id: str, owner: str, deadline: str) -> dict[str, str]:
    data = {"csrf_token": token(client, f"/tasks/{task_id}"), "tiltak_vurdering#rows": "3"}
    data.update({"tiltak_vurdering[0].gjennomfores": "ja",
                 "tiltak_vurdering[0].konkretisering": "NEWS2 ved mottak",
                 "tiltak_vurdering[0].ansvarlig": owner,
                 "tiltak_vurdering[0].frist": deadline})
    for i in (1, 2):
        data[f"tiltak_vurdering[{i}].gjennomfores"] = "nei"
        data[f"tiltak_vurdering[{i}].begrunnelse"] = "Dekket"
    return data


def test_a_wrong_person_and_a_past_deadline_are_refused_at_the_field(app, deployed):
    instance = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                      data=dict(START_DATA, klinikker=["kir"]))
    task = task_for(deployed, "sigrid", "Task_VurderTiltak", instance.id)
    deployed.tasks.claim(task.id, actor="sigrid")
    client = logged_in(app, "sigrid")
    page = client.get(f"/tasks/{task.id}").get_data(as_text=True)
    picker = re.search(r'<select id="f-tiltak_vurdering-0-ansvarlig".*?</select>', page,
                       re.S).group(0)
    assert '<option value="ola">Ola Olsen (seksjonsleder' in picker  # names, not codes
    response = client.post(f"/tasks/{task.id}",
                           data=review_post(client, task.id, "ingen.slik", "2025-12-01"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    owner_error = re.search(r'id="f-tiltak_vurdering-0-ansvarlig-error"[^>]*>([^<]*)<',
                            html).group(1)
    assert "Ansvarlig" in owner_error and "ingen.slik" in owner_error
    assert "^[a-z]" not in html and "tiltak_vurdering[0]" not in text_of(html)
    deadline_error = re.search(r'id="f-tiltak_vurdering-0-frist-error"[^>]*>([^<]*)<',
                               html).group(1)
    assert deadline_error.startswith("Frist: 1. desember 2025 har allerede passert")
    summary = re.search(r'<div class="error-summary".*?</div>', html, re.S).group(0)
    assert "Foreslåtte tiltak, rad 1, Ansvarlig" in summary
    # a disabled user is no one to give a measure to
    deployed.identity.set_active("nora", False)
    with pytest.raises(InvalidInput) as refused:
        deployed.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
            {"gjennomfores": "ja", "konkretisering": "x", "ansvarlig": "nora",
             "frist": "2026-03-01"},
            {"gjennomfores": "nei", "begrunnelse": "Dekket"},
            {"gjennomfores": "nei", "begrunnelse": "Dekket"}]})
    assert refused.value.errors["tiltak_vurdering[0].ansvarlig"].code == "unknown_person"
    response = client.post(f"/tasks/{task.id}",
                           data=review_post(client, task.id, "ola", "2026-03-01"))
    assert response.status_code == 302
    assert task_for(deployed, "kari", "Task_KpuBehandling", instance.id)


def test_my_cases_lists_started_worked_on_and_followed_cases_within_what_i_may_see(
        app, deployed):
    started = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                     data=dict(START_DATA, klinikker=["kir"]), business_key="HA-1")
    other = at_measure(deployed, business_key="HA-2")
    client = logged_in(app, "frida")
    html = client.get("/mine").get_data(as_text=True)
    assert "Mine saker" in html and "HA-1" in html
    assert "Forsinket behandling av sepsis ved overflytting" in html
    assert "Vurder og konkretiser foreslåtte tiltak" in html  # the open task
    assert "Du startet den" in html
    # sigrid completed tasks in HA-2: it is hers too
    sigrid = logged_in(app, "sigrid")
    mine = sigrid.get("/mine").get_data(as_text=True)
    assert "HA-2" in mine and "Du fullførte en oppgave" in mine and "HA-1" not in mine
    # she follows HA-1 from its case page (she is offered its task) and stops again
    follow = sigrid.post(f"/instances/{started.id}/follow",
                         data={"csrf_token": token(sigrid, "/mine"), "follow": "1"})
    assert follow.status_code == 302
    assert "Slutt å følge" in sigrid.get(f"/instances/{started.id}").get_data(as_text=True)
    assert "HA-1" in sigrid.get("/mine").get_data(as_text=True)
    sigrid.post(f"/instances/{started.id}/follow",
                data={"csrf_token": token(sigrid, "/mine"), "follow": "0"})
    assert "HA-1" not in sigrid.get("/mine").get_data(as_text=True)
    # nora has no part in HA-2 and cannot follow it into her list
    nora = logged_in(app, "nora")
    refused = nora.post(f"/instances/{other}/follow",
                        data={"csrf_token": token(nora, "/mine"), "follow": "1"})
    assert refused.status_code == 403
    assert "HA-2" not in nora.get("/mine").get_data(as_text=True)


def test_the_audit_pages_read_like_the_case_page_and_keep_the_raw_data(app, deployed):
    instance_id = walk_six_step(deployed)
    client = logged_in(app, "rita")
    html = client.get(f"/audit/{instance_id}?step=2").get_data(as_text=True)
    no_raw_data(html)
    assert "Raw data" in html or "Rådata" in html
    assert "tiltak_vurdering" in html.split('<details class="raw"', 1)[1]  # kept, folded
    report = client.get(f"/audit/{instance_id}/report").get_data(as_text=True)
    no_raw_data(report)
    assert "Referat med gjennomgang og konklusjoner" in report



def test_a_deadline_shows_its_day_in_the_hospitals_zone_however_often_a_page_asks(app):
    """Dates on a page are days in the hospital's zone (Oslo): a moment after local
    midnight is the next day, even where UTC is still on the one before. A page asks for
    the same days and groups row after row; each is worked out once per request, and a
    day asked in another style or another zone's moment is not mixed up with it."""
    from datetime import UTC, datetime

    from webui.filters import group_name, local_date

    with app.test_request_context(headers={"Accept-Language": "nb"}):
        late_evening = local_date(datetime(2026, 1, 11, 22, 59, tzinfo=UTC))  # 23:59 in Oslo
        just_after_midnight = local_date(datetime(2026, 1, 10, 23, 30, tzinfo=UTC))
        next_day = local_date(datetime(2026, 1, 11, 23, 0, tzinfo=UTC))  # 00:00 on the 12th
        as_text = local_date("2026-01-11T23:00:00+00:00")
        short = local_date(datetime(2026, 1, 11, 12, 0, tzinfo=UTC), "short")
        leaders = group_name("leder-kir")
        assert late_evening == just_after_midnight and "11" in late_evening
        assert next_day == as_text and "12" in next_day and next_day != late_evening
        assert short != late_evening and "11" in short
        assert group_name("leder-kir") == leaders != "leder-kir"
