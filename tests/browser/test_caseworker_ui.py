"""A measure owner's way through the pages in chromium: the worklist row and the task
page name the measure, the case and the deadline; the case page shows no JSON and no
variable names. Screenshots of the worklist, the task, the case page and the dashboard
are kept in TILTAK_SCREENSHOTS/<test> when it is set, else under the test's tmp_path."""

from __future__ import annotations

import os
import re
from pathlib import Path

from walks import at_measure

INTERNAL = ("tiltak_liste", "referat_mottakere", "klinikkvalg", "alle_klinikker",
            "loopCounter", "mottaker", "initiator", "analyse_tittel", "foreslatte_tiltak",
            "tiltak_vurdering", "kpu_slutter_seg_til")
MEASURE = "Sepsisscreening ved overflytting"
CASE_TITLE = "Forsinket behandling av sepsis ved overflytting"


def screenshots(request, tmp_path) -> Path:
    base = os.environ.get("TILTAK_SCREENSHOTS")
    folder = Path(base) / request.node.name if base else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_measure_owner_reads_which_measure_which_case_and_when(people, live, request,
                                                                  tmp_path):
    _, engine = live
    folder = screenshots(request, tmp_path)
    instance_id = at_measure(engine, frist="2027-03-01", business_key="HA-2026-17")

    owner = people["ola"]
    owner.goto("/")
    row = owner.locator("table.tasks tbody tr", has_text=MEASURE)
    assert row.count() == 1
    text = row.inner_text()
    assert f"Gjennomfør tiltak: {MEASURE}" in text
    assert CASE_TITLE in text and "HA-2026-17" in text
    assert "Kirurgisk klinikk" in text
    assert "1. mars 2027" in text
    owner.screenshot(path=str(folder / "worklist.png"), full_page=True)

    row.get_by_role("link", name=re.compile("Gjennomfør tiltak")).click()
    owner.wait_for_selector("form.task-form")
    header = owner.locator("p.task-subject").inner_text()
    assert CASE_TITLE in header and "HA-2026-17" in header
    assert "Kirurgisk klinikk" in header and "1. mars 2027" in header
    assert owner.locator("h1").inner_text() == f"Gjennomfør tiltak: {MEASURE}"
    side = owner.locator("aside").inner_text()
    assert "Tiltaket" in side and MEASURE in side
    owner.screenshot(path=str(folder / "task.png"), full_page=True)

    owner.goto(f"/instances/{instance_id}")
    owner.wait_for_selector(".diagram[data-rendered=true]")
    shown = owner.locator("main").inner_text()
    assert "[{" not in shown and '{"' not in shown
    for name in INTERNAL:
        assert not re.search(rf"\b{name}\b", shown), name
    assert CASE_TITLE in shown
    assert owner.locator("table.rows th", has_text="Tiltak").count() >= 1  # lists as tables
    owner.screenshot(path=str(folder / "case.png"), full_page=True)

    owner.get_by_role("button", name="Følg saken").click()
    owner.goto("/mine")
    assert owner.locator("table.my-cases", has_text=CASE_TITLE).count() == 1

    leader = people["per"]
    leader.goto("/dashboard")
    leader.wait_for_load_state()
    leader.screenshot(path=str(folder / "dashboard.png"), full_page=True)
    for name in ("worklist", "task", "case", "dashboard"):
        assert (folder / f"{name}.png").stat().st_size > 0
