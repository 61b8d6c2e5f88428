"""Shared fixtures: an engine on a fresh SQLite file and, when a URL is given, on PostgreSQL.

PostgreSQL tests run when TILTAK_TEST_POSTGRES_URL is set (CI sets it); each test gets
its own database (`database_url`: empty, or a copy of a template) or schema
(`postgres_url`), dropped afterwards. Throughout
the suite the engine's fast task walks run beside SpiffWorkflow's own iterators and fail
a test where the two disagree.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text

from engine.clock import FixedClock
from engine.definitions import collect_files
from engine.execution import walking
from installation import services

from walks import PROCESSES

POSTGRES_URL = os.environ.get("TILTAK_TEST_POSTGRES_URL")


@pytest.fixture(autouse=True, scope="session")
def walks_checked():
    """Every task walk of the engine compared with SpiffWorkflow's (engine/execution/walking.py)."""
    walking.CHECKED = True
    yield
    walking.CHECKED = False


def _postgres_url(schema: str) -> str:
    base = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def postgres_schema():
    """A fresh schema on the PostgreSQL server, dropped afterwards; yields its URL."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield _postgres_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path, templates):
    """A database URL for each backend: SQLite always, PostgreSQL (a database of its own,
    dropped afterwards) when configured. Empty, unless the test uses `engine` or
    `deployed`: then a copy of the database those start from (`Templates`)."""
    wanted, build = _starting_point(request)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tiltak.sqlite3'}"
        if wanted:
            templates.fill(url, wanted, build)
        yield url
        return
    if not POSTGRES_URL:
        pytest.skip("TILTAK_TEST_POSTGRES_URL is not set")
    with templates.postgres_database(wanted, build) as url:
        yield url


def _starting_point(request) -> tuple[str | None, Callable[[str], None] | None]:
    """The template a test's database starts from and how to build it: none, `engine`'s,
    `deployed`'s, or `deployed`'s with a module's own data on top (`deployed_with`)."""
    wanted = "deployed" if "deployed" in request.fixturenames else \
        "engine" if "engine" in request.fixturenames else None
    if wanted is None:
        return None, None
    build = functools.partial(_prepare, wanted=wanted)
    more = request.node.get_closest_marker("deployed_with")
    if wanted == "deployed" and more is not None:
        name, add = more.args
        return f"deployed_with_{name}", functools.partial(build, add=add)
    return wanted, build


@pytest.fixture
def set_up_by_command_line(templates):
    """`set_up(database_url, commands)`: the empty database at the URL as `tiltak`
    command lines (argument tuples) leave it, each run as its own process. The commands
    run once per run and backend, into a template; each test gets a copy."""

    def set_up(url: str, commands: list[tuple[str, ...]]) -> None:
        key = hashlib.sha256(repr(commands).encode()).hexdigest()[:16]

        def build(template_url: str) -> None:
            env = {**os.environ, "TILTAK_DATABASE_URL": template_url}
            for args in commands:
                result = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                                        capture_output=True, text=True, timeout=300,
                                        cwd=templates.directory)
                assert result.returncode == 0, (args, result.stderr)

        templates.fill(url, f"commands_{key}", build)

    return set_up


@pytest.fixture
def postgres_url():
    if not POSTGRES_URL:
        pytest.skip("TILTAK_TEST_POSTGRES_URL is not set")
    with postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'tiltak.sqlite3'}"


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def engine(database_url, clock):
    """An engine on a database with the demo users, nothing deployed (a copy of the
    template `database_url` made)."""
    eng = services.build_engine(database_url, clock=clock)
    yield eng
    eng.db.dispose()


@pytest.fixture
def deployed(engine):
    """The engine with every file in processes/ deployed (the template `database_url`
    copied has them)."""
    return engine


def _prepare(url: str, *, wanted: str, add: Callable | None = None) -> None:
    """What `engine` and `deployed` start from: the schema, the demo users and, for
    `deployed`, every file in processes/, deployed by the process owner at the fixed
    clock's moment; then what `add(engine)` adds (the `deployed_with` marker)."""
    eng = services.build_engine(url, clock=FixedClock())
    eng.db.create_schema()
    services.load_demo_users(eng, passwords=False)
    if wanted == "deployed":
        eng.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    if add is not None:
        add(eng)
    eng.db.dispose()


class Templates:
    """Databases tests start from, each built once for the run and copied for every test
    that starts from it: a file copy on SQLite, CREATE DATABASE ... TEMPLATE on
    PostgreSQL. Building them anew for every test (the migrations, thirty users, every
    process parsed and checked, or a handful of command-line processes) took most of the
    suite's time."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._sqlite: dict[str, Path] = {}
        self._postgres: dict[str, str] = {}
        self._made: list[str] = []
        self._admin = None

    def fill(self, url: str, name: str, build: Callable[[str], None]) -> None:
        """Make the empty database at `url` a copy of template `name`, which `build`
        (given an empty database's URL) makes the first time it is asked for."""
        if url.startswith("sqlite"):
            if name not in self._sqlite:
                path = self.directory / f"{name}.sqlite3"
                path.unlink(missing_ok=True)  # what a build that failed before left
                build(f"sqlite:///{path}")
                with sqlite3.connect(path) as conn:  # everything in the file itself
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._sqlite[name] = path
            shutil.copyfile(self._sqlite[name], url[len("sqlite:///"):])
            return
        database = make_url(url).database
        with self._admin_engine().connect() as conn:
            conn.execute(text(f"DROP DATABASE {database} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {database} TEMPLATE {self._template(name, build)}"))

    @contextmanager
    def postgres_database(self, name: str | None = None, build=None):
        """A database of its own, a copy of template `name` (see `fill`) or empty; dropped
        afterwards. Skips the test where no PostgreSQL is given."""
        if not POSTGRES_URL:
            pytest.skip("TILTAK_TEST_POSTGRES_URL is not set")
        database = f"t_{uuid.uuid4().hex[:12]}"
        template = f" TEMPLATE {self._template(name, build)}" if name else ""
        with self._admin_engine().connect() as conn:
            conn.execute(text(f"CREATE DATABASE {database}{template}"))
        try:
            yield _database_url(database)
        finally:
            with self._admin_engine().connect() as conn:
                conn.execute(text(f"DROP DATABASE {database} WITH (FORCE)"))

    def _template(self, name: str, build: Callable[[str], None]) -> str:
        if name not in self._postgres:
            database = f"tiltak_template_{uuid.uuid4().hex[:12]}"
            with self._admin_engine().connect() as conn:
                conn.execute(text(f"CREATE DATABASE {database}"))
            self._made.append(database)  # dropped at the end even if building fails
            build(_database_url(database))
            self._postgres[name] = database  # copied only once built
        return self._postgres[name]

    def _admin_engine(self):
        if self._admin is None:
            self._admin = create_engine(
                POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                isolation_level="AUTOCOMMIT")
        return self._admin

    def drop(self) -> None:
        if self._admin is None:
            return
        with self._admin.connect() as conn:
            for name in self._made:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        self._admin.dispose()


def _database_url(name: str) -> str:
    """POSTGRES_URL with another database (on the same server, as the same user)."""
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def templates(tmp_path_factory):
    found = Templates(tmp_path_factory.mktemp("templates"))
    yield found
    found.drop()
