"""A process owner in chromium, on SQLite and PostgreSQL: uploads a changed clinic part
of the six-step routine (a renamed task and a new deadline, the same ids), reads the
lint report and the difference, deploys it, and moves the running cases at step 2 and
step 4 onto it through the migration pages; the cases go on from where they stood and
every one of them passes `verify`."""

from __future__ import annotations

import re

import pytest
from migration_walks import RENAMED, STEP_2, STEP_4, changed_routine, walk_until

from engine.history.replay import verify_instance

from walks import START_DATA

CLINIC = "klinikk-oppfolging"


@pytest.mark.parametrize(
    "live", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True)
def test_a_process_owner_moves_cases_at_step_2_and_4_to_a_corrected_version(
        people, live, shoot):
    _, engine = live
    cases = {}
    for step, stop in (("HA-2026-62", STEP_2), ("HA-2026-64", STEP_4)):
        case = engine.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                    data=dict(START_DATA), business_key=step)
        walk_until(engine, case.id, stop)
        cases[step] = case.id
    [(name, changed)] = changed_routine().items()

    per = people["per"]
    per.goto("/owner/upload")
    per.set_input_files("#files", files=[{"name": name, "mimeType": "application/xml",
                                          "buffer": changed}])
    per.click("form button[type=submit].primary")
    per.wait_for_selector("section.file-check")
    assert per.locator(".lint-clean").count() == 1
    difference = per.locator("table.difference").inner_text()
    assert RENAMED in difference and "Task_KpuBehandling" in difference
    assert "Task_SendReferat" in difference  # its new deadline
    shoot(per, "lint-report-and-difference")
    per.click("#deploy")
    per.wait_for_url(re.compile(r"/owner/$"))
    versions = {v.version: v.id for v in engine.repository.versions(CLINIC)}
    assert sorted(versions) == [1, 2]

    per.goto(f"/owner/versions/{versions[1]}")
    per.click("a[data-target-version='2']")
    per.wait_for_url(re.compile(rf"/migrate/{versions[2]}$"))
    assert per.input_value("#select-Task_KpuBehandling") == "Task_KpuBehandling"
    assert per.input_value("#select-Task_MottaReferat") == "Task_MottaReferat"
    assert per.inner_text("#running-count") == "2"
    per.check("#which-at")
    for element in ("Task_KpuBehandling", "Task_MottaReferat"):
        per.check(f"input[name=at][value={element}]")
    shoot(per, "plan")
    per.click("#check-plan")
    per.wait_for_selector("#plan-fits")
    assert "2" in per.inner_text("#plan-fits")
    assert sorted(engine.migration.cases_at_version(CLINIC, 1)) == sorted(cases.values())
    shoot(per, "plan-checked")
    per.click("#run-plan")
    per.wait_for_selector("#moved")
    moved = per.inner_text("#moved")
    assert "HA-2026-62" in moved and "HA-2026-64" in moved
    assert per.inner_text("#refused .count") == "0"
    shoot(per, "report")
    assert engine.migration.cases_at_version(CLINIC, 1) == []

    per.goto(f"/owner/versions/{versions[2]}")
    per.wait_for_selector(".owner-diagram[data-rendered=true]")
    assert per.locator(".djs-overlay a.count-badge[data-element=Task_KpuBehandling]") \
        .inner_text() == "1"
    shoot(per, "cases-on-the-new-version")

    at_step_2 = engine.tasks.find(instance_id=cases["HA-2026-62"])
    assert {t.name for t in at_step_2} == {RENAMED}
    assert {t.element_id for t in engine.tasks.find(instance_id=cases["HA-2026-64"])} == STEP_4
    for case_id in cases.values():
        assert engine.history.events(case_id)[-1].type == "migrated"
        walk_until(engine, case_id, None)  # from where it stood to its end
        assert engine.history.show(case_id)["status"] == "completed"
        verdict = verify_instance(engine, case_id)
        assert verdict.ok, verdict.as_dict()
