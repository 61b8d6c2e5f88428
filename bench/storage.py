"""Benchmark: what a six-step case costs the database, written and kept.

Walks N six-step cases (the tests' own walk: both clinics, every step, every measure)
on SQLite and (with `--postgres URL`) PostgreSQL, and measures per finished case:
- bytes written: the size of every value the engine sent in INSERT and UPDATE
  statements, and on PostgreSQL the write-ahead log it caused;
- bytes stored, history and projections included: the growth of the database over the
  empty deployed one, after a plain VACUUM (SQLite: after a checkpoint, file pages in
  use), divided by N;
- the same with a plain VACUUM after every 10 cases, as autovacuum would run in service
  (space freed by one batch is used again by the next);
- in that run, the steady state: the growth over the second half of the cases only, per
  case and per table. The first half pays once for what does not grow with the number
  of finished cases: each table's free-space and visibility maps, and the pages that
  open tasks and timers take while cases run (freed again when they finish);
- the largest stored state row of one instance, and the time per case.
Saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from databases import database, run_on, save_results  # noqa: E402
from sqlalchemy import event, func, select, text  # noqa: E402

from engine.clock import SystemClock  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.models import InstanceState  # noqa: E402
from installation import services  # noqa: E402

from walks import walk_six_step  # noqa: E402  (the same walk the tests use)


def stored_bytes(engine) -> int:
    return sum(stored_tables(engine).values())


def stored_tables(engine) -> dict[str, int]:
    """Bytes per table (with its indexes and TOAST; SQLite: the whole file as one)."""
    db = engine.db
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM"))
            return dict(conn.execute(text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')")).all())
    raw = db.engine.raw_connection()  # no transaction around the checkpoint
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        found = {}
        for pragma in ("page_count", "freelist_count", "page_size"):
            found[pragma] = cursor.execute(f"PRAGMA {pragma}").fetchone()[0]
        return {"(file)": (found["page_count"] - found["freelist_count"]) * found["page_size"]}
    finally:
        raw.close()


def wal_position(engine) -> int | None:
    if engine.db.dialect != "postgresql":
        return None
    with engine.db.engine.connect() as conn:
        return conn.scalar(text("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))


def value_bytes(value) -> int:
    value = getattr(value, "obj", value)  # psycopg's Binary and Json wrappers
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray, memoryview)):
        return len(value)
    if isinstance(value, (dict, list)):
        return len(json.dumps(value))
    return len(str(value).encode())


def measure(url: str, cases: int, vacuum_every: int | None = None) -> dict:
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    engine.repository.deploy(collect_files([str(ROOT / "processes")]))
    empty = stored_bytes(engine)
    written = [0]

    @event.listens_for(engine.db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            rows = parameters if executemany else [parameters]
            for row in rows:
                values = row.values() if isinstance(row, dict) else row
                written[0] += sum(value_bytes(v) for v in values)

    wal_before = wal_position(engine)
    started = time.perf_counter()
    half = None
    for i in range(cases):
        walk_six_step(engine, business_key=f"HA-2026-{i:03d}")
        if vacuum_every and (i + 1) % vacuum_every == 0:
            tables = stored_tables(engine)
            if half is None and i + 1 >= cases // 2:
                half = (i + 1, tables)
    seconds = (time.perf_counter() - started) / cases
    event.remove(engine.db.engine, "before_cursor_execute", count)
    wal_after = wal_position(engine)
    with engine.db.reading() as session:
        largest_state = session.scalar(select(func.max(func.length(InstanceState.body))))
    tables = stored_tables(engine)
    result = {
        "cases": cases, "seconds_per_case": round(seconds, 3),
        "written_bytes_per_case": written[0] // cases,
        "stored_bytes_per_case": (sum(tables.values()) - empty) // cases,
        "largest_state_bytes": largest_state,
    }
    if half is not None and half[0] < cases:
        later = cases - half[0]
        grown = {name: (size - half[1].get(name, 0)) // later for name, size in tables.items()}
        result["steady_bytes_per_case"] = sum(grown.values())
        result["steady_bytes_per_case_by_table"] = {
            name: size for name, size in sorted(grown.items(), key=lambda kv: -kv[1]) if size}
    if wal_before is not None:
        result["wal_bytes_per_case"] = int(wal_after - wal_before) // cases
    engine.db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--cases", type=int, default=40)
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL")
    args = parser.parse_args()
    kinds = run_on(args.postgres)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            with database(kind, Path(tmp), args.postgres) as url:
                results[kind] = measure(url, args.cases)
            with database(kind, Path(tmp), args.postgres) as url:
                results[f"{kind}_vacuum_every_10"] = measure(url, args.cases, vacuum_every=10)
            print(f"{kind}: {results[kind]}")
            print(f"{kind}, VACUUM every 10 cases: {results[f'{kind}_vacuum_every_10']}")
    save_results("storage", results)


if __name__ == "__main__":
    main()
