"""Shared fixtures: an engine on a fresh SQLite file and, when a URL is given, on PostgreSQL.

PostgreSQL tests run when TILTAK_TEST_POSTGRES_URL is set (CI sets it); each test gets
its own schema, or its own copy of a template database, dropped afterwards. Throughout
the suite the engine's fast task walks run beside SpiffWorkflow's own iterators and fail
a test where the two disagree.
"""

from __future__ import annotations

import os
import shutil
import uuid
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
    """A database URL for each backend: SQLite always, PostgreSQL when configured. Empty,
    unless the test uses `engine` or `deployed`: then a copy of the database those start
    from, built once for the run (`Templates`)."""
    wanted = "deployed" if "deployed" in request.fixturenames else \
        "engine" if "engine" in request.fixturenames else None
    if request.param == "sqlite":
        path = tmp_path / "tiltak.sqlite3"
        if wanted:
            shutil.copyfile(templates.sqlite(wanted), path)
        yield f"sqlite:///{path}"
        return
    if not POSTGRES_URL:
        pytest.skip("TILTAK_TEST_POSTGRES_URL is not set")
    with templates.postgres_copy(wanted) if wanted else postgres_schema() as url:
        yield url


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


def _prepare(url: str, wanted: str) -> None:
    """What `engine` and `deployed` start from: the schema, the demo users and, for
    `deployed`, every file in processes/, deployed by the process owner at the fixed
    clock's moment."""
    eng = services.build_engine(url, clock=FixedClock())
    eng.db.create_schema()
    services.load_demo_users(eng, passwords=False)
    if wanted == "deployed":
        eng.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    eng.db.dispose()


class Templates:
    """The databases `engine` and `deployed` start from, built once for the run and
    copied for each test: a file copy on SQLite, CREATE DATABASE ... TEMPLATE on
    PostgreSQL. Building them anew for every test (the migrations, thirty users, every
    process parsed and checked) took most of the suite's time."""

    def __init__(self, directory: Path):
        self.directory = directory
        self._sqlite: dict[str, Path] = {}
        self._postgres: dict[str, str] = {}
        self._admin = None

    def sqlite(self, wanted: str) -> Path:
        if wanted not in self._sqlite:
            path = self.directory / f"{wanted}.sqlite3"
            _prepare(f"sqlite:///{path}", wanted)
            self._sqlite[wanted] = path
        return self._sqlite[wanted]

    @contextmanager
    def postgres_copy(self, wanted: str):
        admin = self._admin_engine()
        if wanted not in self._postgres:
            name = f"tiltak_template_{uuid.uuid4().hex[:12]}"
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {name}"))
            _prepare(_database_url(name), wanted)
            self._postgres[wanted] = name
        name = f"t_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name} TEMPLATE {self._postgres[wanted]}"))
        try:
            yield _database_url(name)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))

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
            for name in self._postgres.values():
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
