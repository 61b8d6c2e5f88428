"""`tiltak demo` through the command line on SQLite and PostgreSQL: four weeks of cases
made by the engine's own commands (figures on the dashboard, overdue tasks, closed cases,
an anonymous report, every history verifying), a second run that adds nothing, each
figure opening the list of what it counts, and the caseworkers' search that finds only
what its user may open."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from engine.models import CaseFacts, HumanTask, ProcessInstance
from installation import services


@pytest.fixture
def demo(database_url, tmp_path):
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url}

    def tiltak(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                                capture_output=True, text=True, cwd=tmp_path, timeout=300)
        assert result.returncode == 0, result.stderr
        return result.stdout

    first = tiltak("demo")
    engine = services.build_engine(database_url)
    yield engine, tiltak, first
    engine.db.dispose()


def count(engine, query) -> int:
    with engine.db.reading() as session:
        return session.scalar(query)


def client_for(app, user):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": user,
                                       "password": "tiltak-demo"}).status_code == 302
    return client


@pytest.fixture
def app(demo, tmp_path):
    from webui import create_app
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=demo[0])


def test_the_demo_makes_cases_to_look_at_once(demo):
    engine, tiltak, first = demo
    made = int(re.search(r"Demo cases: (\d+) made", first).group(1))
    instances = count(engine, select(func.count(ProcessInstance.id)))
    assert made >= 20 and instances >= made
    now = datetime.now(UTC).replace(tzinfo=None)
    assert count(engine, select(func.count(HumanTask.id)).where(HumanTask.due_at < now)) > 0
    assert count(engine, select(func.count(ProcessInstance.id)).where(
        ProcessInstance.status == "completed")) >= 3
    assert count(engine, select(func.count(CaseFacts.instance_id)).where(
        CaseFacts.anonymous.is_(True))) == 1
    assert count(engine, select(func.count(ProcessInstance.id)).where(
        ProcessInstance.process_key == "avvikelsehantering")) >= 3
    assert count(engine, select(func.count(ProcessInstance.id)).where(
        ProcessInstance.started_by == "anonym")) == 1
    assert "verify clean" in tiltak("verify", "--all")
    again = tiltak("demo")
    assert "Demo cases: 0 made" in again and "adds no case twice" in again
    assert count(engine, select(func.count(ProcessInstance.id))) == instances


def test_each_figure_opens_the_cases_it_counts(app):
    per = client_for(app, "per")  # a process owner: reads every case that is not sensitive
    page = per.get("/dashboard").get_data(as_text=True)
    total = re.search(r'<tr data-group="ALL".*?</tr>', page, re.S).group(0)
    links = re.findall(r'<a href="([^"]+)" data-figure="([^"]+)" data-count="(\d+)">',
                       total)
    figures = {figure: int(value) for _href, figure, value in links}
    assert figures["overdue_measures"] > 0 and figures["closed"] > 0
    assert figures["measures_on_time"] > 0 and figures["feedback"] > 0
    for href, figure, value in re.findall(
            r'<a href="([^"]+)" data-figure="([^"]+)" data-count="(\d+)">', page):
        listed = per.get(href.replace("&amp;", "&")).get_data(as_text=True)
        assert f'data-counted="{value}"' in listed, (figure, href)
        assert listed.count('<tr data-case="') == int(value), (figure, href)
    # a quality adviser sees the figures but opens none of the cases: all are counted
    tone = client_for(app, "tone")
    href = next(h for h, f, _v in links if f == "overdue_measures").replace("&amp;", "&")
    listed = tone.get(href).get_data(as_text=True)
    assert listed.count('<tr data-case="') == 0
    assert f'data-hidden="{figures["overdue_measures"]}"' in listed
    assert per.get("/dashboard/cases?figure=everything").status_code == 422


def test_a_caseworker_finds_only_the_cases_they_may_open(app, demo):
    engine = demo[0]
    with engine.db.reading() as session:
        medicine = session.execute(
            select(ProcessInstance.id, ProcessInstance.business_key)
            .join(CaseFacts, CaseFacts.instance_id == ProcessInstance.id)
            .where(CaseFacts.clinic == "med", ProcessInstance.process_key == "avvikshandtering")
        ).first()
    per, sigrid = client_for(app, "per"), client_for(app, "sigrid")
    assert f'data-case="{medicine.id}"' in per.get(
        f"/cases?q={medicine.business_key}").get_data(as_text=True)
    found = sigrid.get("/cases?q=AVVIK").get_data(as_text=True)
    assert f'data-case="{medicine.id}"' not in found
    assert sigrid.get(f"/instances/{medicine.id}").status_code == 403
    # what she finds, she may open: the measures of her clinic she checks
    ids = re.findall(r'data-case="([^"]+)"', sigrid.get("/cases?status=running")
                     .get_data(as_text=True))
    assert ids, "the KPU secretariat of kir has cases"
    for instance_id in ids:
        assert engine.history.may_view("sigrid", instance_id)
    assert "Finn en sak" in sigrid.get("/").get_data(as_text=True)  # in the navigation
