"""The indicators: on 10,000 generated cases every figure matches a plain recount."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

import pytest
from generated_cases import generate, write

from engine.models import ProcessDefinition
from routines import indicators

NOW = datetime(2026, 10, 15, tzinfo=UTC)
PERIODS = [(None, None), (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))]


def _ten_thousand_cases(engine) -> None:
    with engine.db.transaction() as session:
        definition_id = session.query(ProcessDefinition.id).first()[0]
        write(session, generate(10_000, now=NOW), definition_id)


# written once for the run, in the database every test here starts from
pytestmark = pytest.mark.deployed_with("ten_thousand_cases", _ten_thousand_cases)


@pytest.fixture
def history(deployed):
    """The engine and the generated cases its database holds (the same seed)."""
    return deployed, generate(10_000, now=NOW)


def inside(moment, start, end) -> bool:
    return moment is not None and (start is None or moment >= start) \
        and (end is None or moment < end)


def recount(cases, start, end, by):
    """The same figures, counted one case at a time in plain Python."""
    out: dict[str, dict] = {}

    def group(key):
        return out.setdefault(key, {"expertise": [0, 0], "overdue": 0, "measures": [0, 0],
                                    "notifications": [0, 0], "feedback": [0, 0],
                                    "days": []})
    for case in cases:
        key = getattr(case, by)
        if case.serious and any(t.indicator == "undersokelse" and t.outcome == "completed"
                                and inside(t.ended, start, end) for t in case.tasks):
            group(key)["expertise"][1] += 1
            group(key)["expertise"][0] += case.expertise is True
        for t in case.tasks:
            if t.indicator == "tiltak" and t.ended is None and t.due < NOW:
                group(key)["overdue"] += 1
            if t.indicator in ("tiltak", "lovpalagt-varsel") and t.due is not None \
                    and t.due <= NOW and inside(t.due, start, end) and t.outcome != "cancelled":
                counts = group(key)["measures" if t.indicator == "tiltak" else "notifications"]
                counts[1] += 1
                counts[0] += t.outcome == "completed" and t.ended <= t.due
        if case.ended is not None and inside(case.ended, start, end):
            group(key)["feedback"][1] += 1
            group(key)["feedback"][0] += any(t.indicator == "tilbakemelding"
                                             and t.outcome == "completed" for t in case.tasks)
            group(key)["days"].append((case.ended - case.started).total_seconds() / 86400)
    return out


@pytest.mark.parametrize("by", ["clinic", "unit"])
def test_every_figure_matches_a_plain_recount(history, by):
    engine, cases = history
    for start, end in PERIODS:
        with engine.db.transaction() as session:
            figures = indicators.by_group(indicators.compute(session, now=NOW, start=start,
                                                             end=end, by=by))
        expected = recount(cases, start, end, by)
        assert set(figures) - {indicators.ALL} == set(expected)
        for key, want in expected.items():
            got = figures[key]
            assert [got.expertise.part, got.expertise.whole] == want["expertise"], key
            assert got.overdue_measures == want["overdue"], key
            assert [got.measures_on_time.part, got.measures_on_time.whole] == want["measures"]
            assert [got.notifications_on_time.part, got.notifications_on_time.whole] \
                == want["notifications"], key
            assert [got.feedback.part, got.feedback.whole] == want["feedback"], key
            assert got.closing_median == pytest.approx(
                sorted(want["days"])[(len(want["days"]) + 1) // 2 - 1]) if want["days"] \
                else got.closing_median is None
        total = figures[indicators.ALL]
        assert total.overdue_measures == sum(w["overdue"] for w in expected.values())
        all_days = [d for w in expected.values() for d in w["days"]]
        assert total.closing_median == pytest.approx(statistics.median_low(all_days))
        assert total.closing_p90 == pytest.approx(
            sorted(all_days)[-(-len(all_days) * 90 // 100) - 1])


def test_the_figures_are_not_trivial(history):
    """The generated history exercises every figure (a test that cannot fail is no test)."""
    engine, _ = history
    with engine.db.transaction() as session:
        total = indicators.compute(session, now=NOW)[-1]
    assert 0 < total.expertise.part < total.expertise.whole
    assert total.overdue_measures > 0
    assert 0 < total.measures_on_time.part < total.measures_on_time.whole
    assert 0 < total.notifications_on_time.part < total.notifications_on_time.whole
    assert 0 < total.feedback.part < total.feedback.whole
    assert total.closing_median < total.closing_p90


# ------------------------------------------------------------------ the page
@pytest.fixture
def app(history, tmp_path):
    from engine.identity.users import add_user, groups_of
    from webui import create_app
    engine, _ = history
    engine.clock.set(NOW)
    with engine.db.transaction() as session:
        for name in ("kirsten", "frida", "rita", "ola"):
            add_user(session, name, sorted(groups_of(session, name)), password="tiltak-demo")
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine)


def client_for(app, user):
    import re
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": user,
                                       "password": "tiltak-demo"}).status_code == 302
    return client


def test_the_dashboard_shows_and_downloads_the_figures(app, history):
    engine, cases = history
    kirsten = client_for(app, "kirsten")  # clinic manager
    page = kirsten.get("/dashboard?from=2026-03-01&to=2026-06-30").get_data(as_text=True)
    expected = recount(cases, *PERIODS[1], "clinic")
    assert page.count('data-group="') == len(expected) + 1
    kir = expected["kir"]
    import re
    text = re.sub(r"<[^>]+>", "", page)  # the figures are links to the cases behind them
    assert f'({kir["measures"][0]}/{kir["measures"][1]})' in text
    assert page.count("<svg") == 4
    csv = kirsten.get("/dashboard.csv?from=2026-03-01&to=2026-06-30&by=unit")
    rows = csv.get_data(as_text=True).splitlines()
    assert rows[0].startswith("unit,name,expertise_part")
    assert len(rows) == 1 + len(recount(cases, *PERIODS[1], "unit")) + 1
    assert kirsten.get("/dashboard?from=2026-07-01&to=2026-03-01").status_code == 422
    assert kirsten.get("/dashboard?by=ward").status_code == 422


def test_only_managers_committees_owners_and_auditors_see_it(app):
    assert client_for(app, "ola").get("/dashboard").status_code == 200  # a unit leader
    assert client_for(app, "frida").get("/dashboard").status_code == 403
    assert client_for(app, "rita").get("/dashboard").status_code == 200
