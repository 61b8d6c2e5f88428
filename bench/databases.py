"""Fresh databases for the benchmarks: a SQLite file, or a PostgreSQL schema dropped
afterwards."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from engine.database import Database


@contextmanager
def database(kind: str, workdir: Path, postgres: str | None) -> Iterator[str]:
    """A fresh database of that kind: a SQLite file, or a PostgreSQL schema dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / f'bench-{time.monotonic_ns()}.sqlite3'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(Database(postgres).url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{Database(postgres).url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]
