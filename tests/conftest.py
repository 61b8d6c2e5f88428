"""Shared fixtures: an engine on a fresh SQLite file and, when a URL is given, on PostgreSQL.

PostgreSQL tests run when TILTAK_TEST_POSTGRES_URL is set (CI sets it); each test gets
its own schema, dropped afterwards. Throughout the suite the engine's fast task walks
run beside SpiffWorkflow's own iterators and fail a test where the two disagree.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, text

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
def database_url(request, tmp_path):
    """A database URL for each backend: SQLite always, PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tiltak.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TILTAK_TEST_POSTGRES_URL is not set")
    with postgres_schema() as url:
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
    """An engine on an empty schema with the demo users, nothing deployed."""
    eng = services.build_engine(database_url, clock=clock)
    eng.db.create_schema()
    services.load_demo_users(eng, passwords=False)
    yield eng
    eng.db.dispose()


@pytest.fixture
def deployed(engine):
    """The engine with every file in processes/ deployed."""
    engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    return engine
