"""The indicators dashboard in chromium: charts, figures per clinic and unit, CSV."""

from __future__ import annotations

from datetime import UTC, datetime

from generated_cases import generate, write


def test_a_clinic_manager_reads_the_indicators(people, live, shoot):
    base_url, engine = live
    now = datetime.now(UTC)
    cases = generate(2_000, now=now)
    [definition] = [d for d in engine.repository.startable("frida")
                    if d.key == "hendelsesanalyse-oppfolging"]
    with engine.db.transaction() as session:
        write(session, cases, definition.id)
    kirsten = people["kirsten"]
    kirsten.click("header nav a[href='/dashboard']")
    kirsten.wait_for_selector("figure.chart svg")
    assert kirsten.locator("figure.chart").count() == 4
    assert kirsten.locator("figure.chart[data-indicator=expertise] line.target").count() == 1
    assert kirsten.locator("figure.chart rect.bar").count() >= 4 * 3
    rows = kirsten.locator("table.figures tbody tr")
    assert rows.count() == 4  # three clinics and the total
    assert "Kirurgisk" in rows.first.inner_text()
    shoot(kirsten, "per-clinic")

    kirsten.select_option("select[name=by]", "unit")
    kirsten.fill("input[name=from]", f"{now.year}-01-01")
    kirsten.click("form.filters button[type=submit]")
    kirsten.wait_for_url("**by=unit**")
    assert kirsten.locator("table.figures tbody tr").count() == 6  # five units and the total
    shoot(kirsten, "per-unit")
    with kirsten.expect_download() as download:
        kirsten.click("a[href^='/dashboard.csv']")
    lines = open(download.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0].startswith("unit,name,") and len(lines) == 7
