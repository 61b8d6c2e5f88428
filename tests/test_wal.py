"""SQLite's log reaches the database file through the checkpointer's thread, not through
the command that happens to cross a threshold (engine/wal.py)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from engine import wal
from engine.clock import FixedClock
from installation import services

from walks import PROCESSES

SIMPLE = "enkel-oppgave"


@pytest.fixture
def quick(monkeypatch):
    monkeypatch.setattr(wal, "INTERVAL", 0.05)
    monkeypatch.setattr(wal, "IDLE", 0.3)


@pytest.fixture
def sqlite_engine(tmp_path, quick):
    engine = services.build_engine(f"sqlite:///{tmp_path / 'tiltak.sqlite3'}",
                                   clock=FixedClock())
    engine.db.create_schema()
    from engine.identity.users import add_user
    with engine.db.transaction() as session:
        add_user(session, "kari", ["bench"])
    engine.repository.deploy({"enkel.bpmn": (PROCESSES.parent / "bench" / "processes"
                                             / "enkel-oppgave.bpmn").read_bytes()})
    yield engine
    engine.db.dispose()


def checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "wal-checkpointer"]


def instances_in_file_alone(tmp_path) -> int:
    """Instances in the database file without its log: what a checkpoint has copied."""
    copy = tmp_path / "file-alone.sqlite3"
    shutil.copyfile(tmp_path / "tiltak.sqlite3", copy)
    with sqlite3.connect(copy) as connection:
        try:
            return connection.execute("SELECT count(*) FROM process_instances").fetchone()[0]
        except sqlite3.OperationalError:  # not even the schema has been copied yet
            return 0


def test_committed_cases_reach_the_database_file_with_no_command_copying_them(
        sqlite_engine, tmp_path):
    for _ in range(3):
        sqlite_engine.runtime.start(SIMPLE, actor="kari")
    deadline = time.monotonic() + 5
    while instances_in_file_alone(tmp_path) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert instances_in_file_alone(tmp_path) == 3


def test_a_command_copies_the_log_back_only_as_a_backstop(sqlite_engine):
    with sqlite_engine.db.engine.connect() as connection:
        pages = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar()
    assert pages == wal.BACKSTOP_PAGES


def test_the_thread_ends_when_quiet_and_comes_back_with_the_next_commit(sqlite_engine):
    sqlite_engine.runtime.start(SIMPLE, actor="kari")
    assert checkpointers()
    deadline = time.monotonic() + 5
    while checkpointers() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not checkpointers()
    sqlite_engine.runtime.start(SIMPLE, actor="kari")
    assert len(checkpointers()) == 1


def test_closing_the_database_stops_its_thread(sqlite_engine):
    sqlite_engine.runtime.start(SIMPLE, actor="kari")
    sqlite_engine.db.dispose()
    assert not checkpointers()


def test_a_reader_wakes_no_checkpointer(sqlite_engine):
    """Nothing was written: a reading command leaves the log alone, and starts no thread."""
    row = sqlite_engine.runtime.start(SIMPLE, actor="kari")
    sqlite_engine.db.checkpoints.stop()
    assert sqlite_engine.tasks.find(instance_id=row.id)
    assert sqlite_engine.history.show(row.id)["status"] == "running"
    assert not checkpointers()
    sqlite_engine.runtime.start(SIMPLE, actor="kari")
    assert len(checkpointers()) == 1


def _exits_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return True
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks a process")
def test_a_process_forked_while_the_log_is_copied_back_can_use_sqlite(sqlite_engine,
                                                                      tmp_path, monkeypatch):
    """`tiltak verify --all --jobs N` forks its workers from a process whose checkpointer
    may be inside SQLite at that moment, holding SQLite's own mutexes: a child must still
    open the database and read it, not hang at its first SQLite call."""
    monkeypatch.setattr(wal, "INTERVAL", 0)  # the thread copies after every commit
    hung = 0
    for _ in range(150):
        sqlite_engine.runtime.start(SIMPLE, actor="kari")  # the thread wakes to copy it
        pid = os.fork()
        if pid == 0:  # the child: SQLite at once, as a verify worker does
            try:
                with sqlite3.connect(tmp_path / "tiltak.sqlite3") as connection:
                    connection.execute("SELECT count(*) FROM process_instances")
            finally:
                os._exit(0)
        hung += not _exits_within(pid, 10)
    assert hung == 0
