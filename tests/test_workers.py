"""Two worker processes and a web process on one PostgreSQL database, 1,000 timers.

Every timer fires exactly once and none is missed, also when one worker is killed with
SIGKILL in the middle of the run (its open transaction rolls back; the others go on).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from local_servers import free_port
from sqlalchemy import func, select

from engine.clock import SystemClock
from engine.definitions import collect_files
from engine.identity.users import add_user
from engine.models import HistoryEvent, ProcessInstance
from installation import services

from walks import FIXTURES

TIMERS = 1000


def spawn(url: str, tmp_path, *args: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tiltak.cli", *args],
        env={**os.environ, "TILTAK_DATABASE_URL": url,
             "TILTAK_INSTANCE": str(tmp_path / "instance"), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)



@pytest.mark.postgres
@pytest.mark.parametrize("kill_one", [False, True], ids=["all-run", "one-killed"])
def test_every_timer_fires_exactly_once_across_processes(postgres_url, tmp_path, kill_one):
    engine = services.build_engine(postgres_url, clock=SystemClock())
    engine.db.create_schema()
    with engine.db.transaction() as session:
        add_user(session, "system", [])
    engine.repository.deploy(collect_files([str(FIXTURES / "kort-timer.bpmn")]), actor="system")
    ids = [engine.runtime.start("kort-timer", actor="system").id for _ in range(TIMERS)]

    port = free_port()
    processes = [spawn(postgres_url, tmp_path, "worker", "--interval", "0.2"),
                 spawn(postgres_url, tmp_path, "worker", "--interval", "0.2"),
                 spawn(postgres_url, tmp_path, "serve", "--port", str(port),
                       TILTAK_SCHEDULER="1")]
    try:
        deadline = time.monotonic() + 180
        killed = False
        while time.monotonic() < deadline:
            with engine.db.transaction() as session:
                waiting = session.scalar(select(func.count()).select_from(ProcessInstance)
                                         .where(ProcessInstance.status == "running"))
            if kill_one and not killed and waiting < TIMERS * 0.8:
                os.kill(processes[0].pid, signal.SIGKILL)  # mid-run, transactions open
                killed = True
            if waiting == 0:
                break
            time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
            assert response.status == 200  # the web process served pages meanwhile
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
    assert waiting == 0, f"{waiting} timers never fired"
    assert killed == kill_one
    with engine.db.transaction() as session:
        fired = dict(session.execute(
            select(HistoryEvent.instance_id, func.count()).where(HistoryEvent.type == "timer")
            .group_by(HistoryEvent.instance_id)).all())
        statuses = set(session.scalars(select(ProcessInstance.status)))
    assert statuses == {"completed"}
    assert set(fired) == set(ids)
    assert set(fired.values()) == {1}, "a timer fired more than once"
    engine.db.dispose()


def test_a_sqlite_writer_waits_for_the_lock_and_gives_up_after_its_time(tmp_path, monkeypatch):
    """Writers queue on the lock file; one that waits past WAIT_SECONDS gets a conflict."""
    import fcntl
    import os

    from engine.database import Database, WriterLock
    from engine.errors import Conflict

    db = Database(f"sqlite:///{tmp_path / 'laas.sqlite3'}")
    db.create_schema()
    holder = os.open(tmp_path / "laas.sqlite3.writer", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)  # another process in the middle of a write
    monkeypatch.setattr(WriterLock, "WAIT_SECONDS", 0.3)
    with pytest.raises(Conflict, match="busy"), db.transaction() as session:
        session.connection()
    os.close(holder)
    with db.transaction() as session:  # the lock is free again: the write goes through
        session.connection()
    db.dispose()
