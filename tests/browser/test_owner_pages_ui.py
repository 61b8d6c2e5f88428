"""A process owner in chromium: sees where the running cases stand on a version's
diagram, uploads a changed six-step routine, reads the lint report and the difference,
and deploys it."""

from __future__ import annotations

import re

from walks import PROCESSES, START_DATA, task_for

ROUTINE = "hendelsesanalyse-oppfolging.bpmn"


def test_a_process_owner_sees_the_cases_on_the_diagram_and_deploys_a_new_version(
        people, live, shoot):
    _, engine = live
    for business_key in ("HA-2026-50", "HA-2026-51"):
        engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                             data=dict(START_DATA, klinikker=["kir"]), business_key=business_key)
    further = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                   data=dict(START_DATA, klinikker=["kir"]),
                                   business_key="HA-2026-52")
    task = task_for(engine, "sigrid", "Task_VurderTiltak", further.id)
    engine.tasks.complete(task.id, actor="sigrid", data={"tiltak_vurdering": [
        {"gjennomfores": "nei", "begrunnelse": "Dekket"}] * 3})
    clinic = engine.repository.latest("klinikk-oppfolging")

    per = people["per"]
    per.click("header nav a[href='/owner/']")
    per.wait_for_url(re.compile(r"/owner/$"))
    shoot(per, "overview")
    per.click(f"a.version-card[href='/owner/versions/{clinic.id}']")
    per.wait_for_selector(".owner-diagram[data-rendered=true]")
    badge = per.locator(".djs-overlay a.count-badge[data-element=Task_VurderTiltak]")
    assert badge.inner_text() == "2"
    assert per.locator(
        ".djs-overlay a.count-badge[data-element=Task_KpuBehandling]").inner_text() == "1"
    assert per.locator(".djs-element.has-cases").count() == 2
    shoot(per, "cases-on-the-diagram")
    badge.click()
    per.wait_for_url(re.compile(r"#at-Task_VurderTiltak$"))
    row = per.locator("tr#at-Task_VurderTiltak")
    assert "HA-2026-50" in row.inner_text() and "HA-2026-52" not in row.inner_text()

    text = (PROCESSES / ROUTINE).read_text(encoding="utf-8")
    changed = text.replace('name="Endelig dokumentasjon foreligger"',
                           'name="Endelig rapport foreligger"', 1)
    per.goto("/owner/upload")
    per.set_input_files("#files", files=[{"name": ROUTINE, "mimeType": "application/xml",
                                          "buffer": changed.encode("utf-8")}])
    per.click("form button[type=submit].primary")
    per.wait_for_selector("section.file-check")
    assert per.locator(".lint-clean").count() == 1
    difference = per.locator("table.difference").inner_text()
    assert "Endelig rapport foreligger (StartEvent_AnalyseFerdig)" in difference
    assert "Endelig dokumentasjon foreligger" in difference
    shoot(per, "lint-report-and-difference")
    per.click("#deploy")
    per.wait_for_url(re.compile(r"/owner/$"))
    assert per.locator(".flash").count() == 1
    assert "hendelsesanalyse-oppfolging" in per.inner_text(".flash")
    assert per.locator("a.version-card[data-version='2']").count() == 1
    shoot(per, "deployed")
    assert engine.repository.latest("hendelsesanalyse-oppfolging").version == 2
