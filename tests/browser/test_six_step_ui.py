"""The six-step routine walked through the web UI in chromium, one browser per person."""

from __future__ import annotations

import re

import pytest

from walks import at_measure, task_for

SECRETARIAT = {"kir": "sigrid", "med": "magnus"}
KPU = {"kir": "kari", "med": "henrik"}
RESPONSIBLE = {"kir": "ola", "med": "nora"}
MEASURES = [("Sepsisscreening ved overflytting", "NEWS2 ved mottak"),
            ("Felles opplæring i sepsisforløpet", "Simulering"),
            ("Ny varslingsrutine mellom klinikkene", "")]


def open_task(page, name: str) -> None:
    """Open the first task of this name and claim it: Fullfør waits for the claim."""
    page.goto("/")
    page.get_by_role("link", name=name).first.click()
    page.wait_for_selector("form.task-form")
    if page.locator("form.claim button").count():
        assert page.locator("form.task-form button.primary").is_disabled()
        page.click("form.claim button")
        page.wait_for_selector("form.task-form")


def submit(page) -> None:
    page.click("form.task-form button.primary")
    page.wait_for_load_state()


def start_case(page, tmp_path, shoot) -> str:
    page.goto("/start")
    page.get_by_role("link", name=re.compile("Oppfølging av tiltak")).click()
    page.fill("#business_key", "HA-2026-17")
    page.fill("[name=analyse_tittel]", "Forsinket behandling av sepsis ved overflytting")
    page.fill("[name=dokumentasjon]", "Endelig rapport HA-2026-17, versjon 1.0")
    page.fill("[name=folgebrev]", "Analysen foreslår tre tiltak.")
    page.check("[name=klinikker][value=kir]")
    page.check("[name=klinikker][value=med]")
    for _ in range(len(MEASURES) - 1):
        page.click("fieldset[data-list=foreslatte_tiltak] > .add-row")
    for i, (title, text) in enumerate(MEASURES):
        page.fill(f'[name="foreslatte_tiltak[{i}].tittel"]', title)
        page.fill(f'[name="foreslatte_tiltak[{i}].beskrivelse"]', text)
    report = tmp_path / "sluttrapport-HA-2026-17.pdf"
    report.write_bytes(b"%PDF-1.4\n% sluttrapport\n")
    page.set_input_files("#file", str(report))
    shoot(page, "fagavdelingen-start")
    submit(page)
    page.wait_for_url(re.compile(r"/instances/"))
    return page.url.rsplit("/", 1)[-1]


def review(page, clinic: str, shoot) -> None:
    open_task(page, "Vurder og konkretiser foreslåtte tiltak")
    for i, answer in enumerate(("ja", "ja", "nei")):
        page.check(f'[name="tiltak_vurdering[{i}].gjennomfores"][value={answer}]')
        if answer == "ja":
            page.fill(f'[name="tiltak_vurdering[{i}].konkretisering"]', f"Konkret tiltak {i + 1}")
            page.select_option(f'[name="tiltak_vurdering[{i}].ansvarlig"]', RESPONSIBLE[clinic])
            page.fill(f'[name="tiltak_vurdering[{i}].frist"]', f"2027-0{i + 3}-01")
        else:
            page.fill(f'[name="tiltak_vurdering[{i}].begrunnelse"]',
                      "Dekkes av eksisterende rutine")
    shoot(page, f"{clinic}-sekretariat-vurderer")
    submit(page)


def test_the_routine_from_start_form_to_closed_incident(people, live, tmp_path, shoot):
    base_url, engine = live
    instance_id = start_case(people["frida"], tmp_path, shoot)
    assert "sluttrapport-HA-2026-17.pdf" in people["frida"].content()

    for clinic in ("kir", "med"):
        secretariat = people[SECRETARIAT[clinic]]
        review(secretariat, clinic, shoot)
        kpu = people[KPU[clinic]]
        open_task(kpu, "Behandle analysen og tiltakene i KPU")
        kpu.fill("[name=kpu_motedato]", "2027-02-10")
        kpu.fill("[name=kpu_innspill]", "KPU støtter tiltakene")
        kpu.check("[name=kpu_slutter_seg_til]")
        submit(kpu)
        open_task(secretariat, "Send KPU-referat til de andre klinikkene")
        minutes = tmp_path / f"kpu-referat-{clinic}.txt"
        minutes.write_text(f"Referat KPU {clinic}")
        secretariat.set_input_files("form.upload input[type=file]", str(minutes))
        secretariat.click("form.upload button")
        secretariat.wait_for_selector(f"text=kpu-referat-{clinic}.txt")
        secretariat.fill("[name=kpu_referat]", f"Referat fra KPU {clinic}: tiltak 1 og 2 vedtatt")
        submit(secretariat)

    for clinic in ("kir", "med"):
        page = people[SECRETARIAT[clinic]]
        open_task(page, "Motta referat fra annen klinikks KPU")
        other = "med" if clinic == "kir" else "kir"
        assert f"Referat fra KPU {other}" in page.content()
        page.check("[name=referat_kvittert]")
        submit(page)

    for clinic in ("kir", "med"):
        owner = people[RESPONSIBLE[clinic]]
        for _ in range(2):
            open_task(owner, "Gjennomfør tiltak: ")
            owner.fill("[name=gjennomfort_dato]", "2027-02-20")
            owner.fill("[name=gjennomfort_beskrivelse]", "Innført og kommunisert til alle vakter")
            submit(owner)
        secretariat = people[SECRETARIAT[clinic]]
        for _ in range(2):
            open_task(secretariat, "Kontroller tiltak: ")
            secretariat.check("[name=tiltak_godkjent]")
            submit(secretariat)
        assert engine.history.show(instance_id)["status"] == "running"
        open_task(secretariat, "Bekreft at klinikkens tiltak er fulgt opp")
        secretariat.check("[name=klinikk_avsluttet]")
        shoot(secretariat, f"{clinic}-avslutter")
        submit(secretariat)

    assert engine.history.show(instance_id)["status"] == "completed"
    page = people["frida"]
    page.goto(f"/instances/{instance_id}")
    page.wait_for_selector(".diagram[data-rendered=true]")
    assert page.locator(".status-completed").count() == 1
    assert page.locator(".diagram .step-done").count() > 0
    shoot(page, "hendelsen-lukket")


def test_a_wrong_value_is_shown_at_its_field_and_what_was_typed_is_kept(people, live, tmp_path,
                                                                        shoot):
    start_case(people["frida"], tmp_path, shoot)
    page = people["sigrid"]
    open_task(page, "Vurder og konkretiser foreslåtte tiltak")
    page.check('[name="tiltak_vurdering[0].gjennomfores"][value=ja]')
    page.fill('[name="tiltak_vurdering[0].konkretisering"]', "NEWS2 ved mottak")
    page.select_option('[name="tiltak_vurdering[0].ansvarlig"]', "ola")
    page.fill('[name="tiltak_vurdering[0].frist"]', "2020-03-01")
    submit(page)
    # in the user's language (Bokmål), naming the field
    assert page.inner_text("#f-tiltak_vurdering-0-frist-error").startswith(
        "Frist: 1. mars 2020 har allerede passert")
    assert page.input_value('[name="tiltak_vurdering[0].ansvarlig"]') == "ola"
    assert page.input_value('[name="tiltak_vurdering[0].konkretisering"]') == "NEWS2 ved mottak"
    assert page.is_checked('[name="tiltak_vurdering[0].gjennomfores"][value=ja]')
    assert page.inner_text("#f-tiltak_vurdering-1-gjennomfores-error") == "må fylles ut"
    # the hidden "why not" field of a "ja" row is neither shown nor required
    assert not page.is_visible('[name="tiltak_vurdering[0].begrunnelse"]')
    assert "Sepsisscreening ved overflytting" in page.content()  # read-only title kept
    shoot(page, "feil-ved-feltet")


def test_a_task_completed_in_another_tab_gives_a_clear_message(people, live, tmp_path, shoot):
    start_case(people["frida"], tmp_path, shoot)
    first = people["sigrid"]
    review_tab = first.context.new_page()
    open_task(first, "Vurder og konkretiser foreslåtte tiltak")
    review_tab.goto(first.url)
    review(first, "kir", shoot)
    review_tab.check('[name="tiltak_vurdering[0].gjennomfores"][value=nei]')
    review_tab.click("form.task-form button.primary")
    review_tab.wait_for_load_state()
    message = review_tab.locator(".flash-warning").inner_text()
    assert "fullførte denne oppgaven" in message and "Sigrid" in message, message
    assert review_tab.url.rstrip("/") == live[0]
    shoot(review_tab, "gammel-fane")


def test_nobody_opens_or_completes_a_task_that_is_not_theirs(people, live, tmp_path, shoot):
    base_url, engine = live
    start_case(people["frida"], tmp_path, shoot)
    [task] = [t for t in engine.tasks.find(actor="sigrid") if t.element_id == "Task_VurderTiltak"]
    intruder = people["ola"]
    response = intruder.goto(f"/tasks/{task.id}")
    assert response.status == 403
    shoot(intruder, "ikke-tillatt")
    response = intruder.request.post(f"{base_url}/api/tasks/{task.id}/complete",
                                     data={"data": {"tiltak_vurdering": []}})
    assert response.status == 403
    response = intruder.request.post(f"{base_url}/tasks/{task.id}/claim",
                                     form={"csrf_token": "x"})
    assert response.status == 400  # no valid CSRF token: refused before anything else
    assert [e.type for e in engine.history.events(task.instance_id)] == ["start", "attach"]


@pytest.mark.parametrize("language, word", [("nb", "Arbeidsliste"), ("sv", "Arbetslista"),
                                            ("en", "Worklist")])
def test_the_interface_speaks_the_users_language(people, language, word):
    page = people["sigrid"]
    page.goto(f"/?lang={language}")
    assert page.locator("h1").inner_text() == word


def test_the_secretariat_ends_a_measure_only_with_a_reason(people, live, shoot):
    _, engine = live
    instance_id = at_measure(engine, frist="2027-03-01")
    task = task_for(engine, "ola", "Task_GjennomforTiltak", instance_id)
    engine.tasks.complete(task.id, actor="ola", data={
        "gjennomfort_dato": "2027-02-20", "gjennomfort_beskrivelse": "Forsøkt i mottak"})
    page = people["sigrid"]
    open_task(page, "Kontroller tiltak: ")
    assert "Forsøkt i mottak" in page.content()  # what the owner did, read-only
    assert not page.is_visible("[name=effekt_evalueres]")
    page.check("[name=tiltak_godkjent]")
    assert page.is_visible("[name=effekt_evalueres]")  # a date only with an approval
    assert not page.is_visible("[name=avslutningsgrunn]")
    page.check("[name=tiltak_avsluttes]")
    assert page.is_visible("[name=avslutningsgrunn]")
    assert not page.is_visible("[name=tiltak_godkjent]")
    assert not page.is_visible("[name=effekt_evalueres]")
    submit(page)
    assert page.inner_text("#f-avslutningsgrunn-error").strip()  # shown at the field
    assert page.is_checked("[name=tiltak_avsluttes]")
    assert task_for(engine, "sigrid", "Task_KontrollerTiltak", instance_id)  # not accepted
    shoot(page, "begrunnelse-mangler")
    page.fill("[name=avslutningsgrunn]", "Dekkes av ny regional prosedyre")
    submit(page)
    [diagram] = [d for d in engine.history.progress(instance_id) if d["process_key"] == "tiltak"]
    assert "End_TiltakAvsluttet" in diagram["completed"]
    assert task_for(engine, "sigrid", "Task_BekreftAvslutning", instance_id)
