"""What the benchmarks share: fresh databases (a SQLite file, or a PostgreSQL schema
dropped afterwards), the p95, and where the figures are saved."""

from __future__ import annotations

import json
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


def run_on(postgres: str | None) -> list[str]:
    """The databases a benchmark runs on: SQLite always, PostgreSQL when given a URL."""
    return ["sqlite"] + (["postgresql"] if postgres else [])


def save_results(name: str, results: object) -> None:
    """The figures as JSON under bench/results/."""
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2, default=int))


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]
