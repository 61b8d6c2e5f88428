"""`tiltak backup`: on SQLite a consistent copy made while a case is being worked on,
which opens as a database with the case in it; on PostgreSQL a pg_dump archive that
pg_restore reads. An existing file is never overwritten."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from engine.database import Database
from engine.models import ProcessInstance

from walks import FIXTURES


def run(database_url, tmp_path, *args: str):
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_a_backup_holds_the_cases_and_never_overwrites(database_url, tmp_path):
    for args in (("init",), ("deploy", str(FIXTURES / "kort-timer.bpmn")),
                 ("start", "kort-timer", "--as", "system", "--business-key", "B-1")):
        assert run(database_url, tmp_path, *args).returncode == 0
    target = tmp_path / "copy.backup"
    made = run(database_url, tmp_path, "backup", str(target))
    if database_url.startswith("sqlite"):
        assert made.returncode == 0, made.stderr
        copy = Database(f"sqlite:///{target}")
        with copy.reading() as session:
            [case] = session.query(ProcessInstance).all()
            assert case.business_key == "B-1"
        assert copy.schema_revision() == Database(database_url).schema_revision()
        copy.dispose()
    elif shutil.which("pg_restore"):
        assert made.returncode == 0, made.stderr
        listed = subprocess.run(["pg_restore", "--list", str(target)], capture_output=True,
                                text=True, check=True).stdout
        assert "TABLE DATA" in listed and "process_instances" in listed
    else:
        assert made.returncode == 2 and "pg_dump" in made.stderr
        return
    again = run(database_url, tmp_path, "backup", str(target))
    assert again.returncode == 6 and "exists already" in again.stderr
    nowhere = run(database_url, tmp_path, "backup", str(tmp_path / "no" / "such.backup"))
    assert nowhere.returncode == 2 and "no folder" in nowhere.stderr
