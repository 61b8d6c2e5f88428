"""Archives written by every state format Tiltak has shipped still verify, and go on.

Each file in tests/fixtures/archives/ is a SQLite database written by an earlier version
(its name is the state format; make_archive.py there says what it holds). An auditor
verifies such an archive years later with the version under test: the database is
upgraded, every history replays clean, and a case left open in the old format is worked
on: its next events are written in today's format, and the mixed history verifies too.
"""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_verify import rewrite_chain

from engine.clock import FixedClock
from engine.history import ENGINE_VERSION, STATE_FORMAT
from engine.history.replay import verify_all
from engine.serialization import LEGACY_FORMAT
from installation import services

ARCHIVES = sorted((Path(__file__).parent / "fixtures" / "archives").glob("*.sqlite.gz"))


@pytest.fixture(params=ARCHIVES, ids=[p.name.removesuffix(".sqlite.gz") for p in ARCHIVES])
def archive(request, tmp_path):
    database = tmp_path / "archive.sqlite"
    with gzip.open(request.param, "rb") as packed, open(database, "wb") as out:
        shutil.copyfileobj(packed, out)
    engine = services.build_engine(f"sqlite:///{database}",
                                   clock=FixedClock(datetime(2026, 3, 2, 10, 0, tzinfo=UTC)))
    engine.db.create_schema()  # the archive's schema, upgraded to this version's
    yield engine
    engine.db.dispose()


def verdicts(engine) -> dict[str, bool]:
    return {v.instance_id: v.ok for v in verify_all(engine, jobs=1)}


def test_every_archive_is_from_a_format_this_version_names(archive):
    formats = {e.state_format for i in archive.history.find_instance_ids()
               for e in archive.history.events(i)}
    assert formats and None not in formats


def test_an_archived_history_verifies_clean(archive):
    found = verdicts(archive)
    assert len(found) == 3 and all(found.values()), found


def test_an_archive_from_before_events_named_their_engine_verifies(archive):
    """Until 0.2 events named neither engine nor format: such states are tiltak-state/1."""
    old = [i for i in archive.history.find_instance_ids()
           if {e.state_format for e in archive.history.events(i)} == {LEGACY_FORMAT}]
    for instance_id in old:
        rewrite_chain(archive, instance_id, unnamed)
        assert {e.engine_version for e in archive.history.events(instance_id)} == {None}
    found = verdicts(archive)
    assert all(found.values()), found


def unnamed(row) -> None:
    row.state_format = row.engine_version = None


def test_a_case_left_open_goes_on_in_todays_format_and_still_verifies(archive):
    measure = next(t for t in archive.tasks.find(actor="ola")
                   if t.element_id == "Task_GjennomforTiltak")
    before = {e.state_format for e in archive.history.events(measure.instance_id)}
    archive.tasks.complete(measure.id, actor="ola", data={
        "gjennomfort_dato": "2026-03-01", "gjennomfort_beskrivelse": "Innført på alle vakter"})
    control = next(t for t in archive.tasks.find(actor="sigrid", instance_id=measure.instance_id)
                   if t.element_id == "Task_KontrollerTiltak")
    archive.tasks.complete(control.id, actor="sigrid", data={"tiltak_godkjent": True})
    events = archive.history.events(measure.instance_id)
    assert {(e.state_format, e.engine_version) for e in events[-2:]} == \
        {(STATE_FORMAT, ENGINE_VERSION)}
    assert before <= {e.state_format for e in events}
    found = verdicts(archive)
    assert all(found.values()), found
