"""An auditor in chromium: finds a case, steps through it on the diagram, exports it,
and finds nothing that would change a case."""

from __future__ import annotations

import re

from walks import at_measure, walk_six_step


def test_an_auditor_steps_through_a_case_and_exports_it(people, live, shoot):
    base_url, engine = live
    closed = walk_six_step(engine)
    at_measure(engine, business_key="HA-2026-31")
    rita = people["rita"]

    rita.click("header nav a[href='/audit/']")
    rita.fill("[name=business_key]", "ha-2026-17")
    rita.click("form.filters button[type=submit]")
    links = rita.locator("table.cases tbody a")
    assert links.count() == 1
    shoot(rita, "search")
    links.first.click()
    rita.wait_for_url(re.compile(rf"/audit/{closed}"))
    assert rita.get_attribute(".verdict", "data-verdict") == "ok"

    rita.click("text=« Første")
    rita.wait_for_url(re.compile(r"step=1$"))
    rita.wait_for_selector(".diagram[data-rendered=true]")
    assert rita.locator(".diagram[data-rendered=error]").count() == 0
    assert rita.locator(".djs-element.step-active").count() >= 1
    assert rita.locator("tr.current td").first.inner_text() == "1"
    shoot(rita, "step-1")

    rita.click("#step-next")  # the secretariat claims its task: nothing changes
    rita.wait_for_url(re.compile(r"step=2$"))
    assert rita.locator("tr.current td").first.inner_text() == "2"
    assert "Vurder og konkretiser" in rita.inner_text("#step-title")
    assert rita.locator("table.changes").count() == 0

    rita.click("#step-next")  # ... and completes it: its assessment appears
    rita.wait_for_url(re.compile(r"step=3$"))
    rita.wait_for_selector(".diagram[data-rendered=true]")
    changed = rita.locator("table.changes").first.locator(":scope > tbody > tr")
    assert changed.count() >= 1
    readable = "".join(changed.all_inner_texts())
    assert "Foreslåtte tiltak" in readable and "tiltak_vurdering" not in readable
    assert "[{" not in readable and '{"' not in readable
    # the variables as the engine keeps them, folded away for whoever audits the engine
    raw = rita.locator("details.raw table.changes")
    assert "tiltak_vurdering" in raw.text_content()
    assert rita.locator(".djs-element.step-done").count() >= 2
    shoot(rita, "step-3")

    with rita.expect_download() as download:
        rita.click("a[href$='/export.xes']")
    assert download.value.suggested_filename == f"{closed}.xes"
    assert "<trace>" in open(download.value.path(), encoding="utf-8").read()

    rita.click(f"a[href='/audit/{closed}/report']")
    rita.wait_for_selector("table.report-events")
    rows = rita.locator("table.report-events > tbody > tr")
    assert rows.count() == len(engine.history.events(closed))
    shoot(rita, "report")


def test_an_auditor_finds_nothing_that_changes_a_case(people, live, shoot):
    base_url, engine = live
    open_case = at_measure(engine, business_key="HA-2026-32")
    task = engine.tasks.find(instance_id=open_case)[0]
    before = [e.hash for e in engine.history.events(open_case)]
    rita = people["rita"]

    for path in ("/", "/audit/", f"/audit/{open_case}", f"/audit/{open_case}/report",
                 f"/instances/{open_case}"):
        rita.goto(path)
        # the only form that posts anything is the logout button
        assert rita.locator("main form[method=post]").count() == 0, path
        assert rita.locator("main button.primary").count() <= 1, path  # the search button
    rita.goto(f"/tasks/{task.id}")
    assert rita.locator("form.task-form").count() == 0
    shoot(rita, "task-refused")
    status = rita.evaluate("""async (taskId) => {
        const r = await fetch(`/api/tasks/${taskId}/claim`, {method: "POST",
            headers: {"Content-Type": "application/json"}, body: "{}"});
        return r.status; }""", task.id)
    assert status == 403
    assert [e.hash for e in engine.history.events(open_case)] == before
