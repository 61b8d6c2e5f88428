"""Benchmark: the indicators dashboard over a generated history of 10,000 cases.

Writes N deviation cases (instances, case facts, task records; the generator of
tests/generated_cases.py) into a fresh database and times, median of R runs: the
figures alone (`indicators.compute`, SQL only), and the logged-in dashboard page through
the real Flask app, for all time and for a four-month period, per clinic and per unit.
Baseline in the same run: reading every row of the three tables into Python, which is
the least any count-it-in-Python dashboard would pay. Saves JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from generated_cases import generate, write  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine.clock import FixedClock  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.identity.users import add_user  # noqa: E402
from engine.models import CaseFacts, ProcessInstance, TaskRecord  # noqa: E402
from installation import services  # noqa: E402
from routines import indicators  # noqa: E402

NOW = datetime(2026, 10, 15, tzinfo=UTC)
PERIOD = "from=2026-03-01&to=2026-06-30"
PAGES = {"all_by_clinic": "/dashboard", "period_by_clinic": f"/dashboard?{PERIOD}",
         "period_by_unit": f"/dashboard?{PERIOD}&by=unit"}


def timed(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    from webui import create_app
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{Path(tmp) / 'dashboard.sqlite3'}"
        engine = services.build_engine(url, clock=FixedClock(NOW))
        engine.db.create_schema()
        services.load_demo_users(engine, passwords=False)
        with engine.db.transaction() as session:
            add_user(session, "kirsten", ["leder-kir"], password="bench")
        files = collect_files([str(ROOT / "processes")])
        [definition] = [d for d in engine.repository.deploy(files)
                        if d.key == "hendelsesanalyse-oppfolging"]
        cases = generate(args.n, now=NOW)
        with engine.db.transaction() as session:
            write(session, cases, definition.definition_id)
            records = session.query(TaskRecord).count()

        def baseline():
            with engine.db.transaction() as session:
                for model in (ProcessInstance, CaseFacts, TaskRecord):
                    session.execute(select(*model.__table__.columns)).all()

        def figures():
            with engine.db.transaction() as session:
                indicators.compute(session, now=NOW)

        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                          "INSTANCE_PATH": str(Path(tmp) / "instance")}, engine=engine)
        client = app.test_client()
        client.post("/login", data={"username": "kirsten", "password": "bench"})
        result = {"cases": args.n, "task_records": records, "repeats": args.repeats,
                  "database": engine.db.dialect,
                  "baseline_read_all_rows_ms": timed(baseline, args.repeats),
                  "figures_sql_ms": timed(figures, args.repeats), "pages_ms": {}}
        for label, path in PAGES.items():
            def page(path=path):
                assert client.get(path).status_code == 200
            result["pages_ms"][label] = timed(page, args.repeats)
        engine.db.dispose()
    base = result["baseline_read_all_rows_ms"]
    result["ratio_figures_to_baseline"] = round(result["figures_sql_ms"] / base, 2)
    print(f"dashboard over {args.n} cases ({records} task records), {result['database']}, "
          f"median of {args.repeats} (ms):")
    print(f"  baseline: read every row        {base:8.1f}")
    print(f"  figures (SQL only)              {result['figures_sql_ms']:8.1f}   "
          f"ratio {result['ratio_figures_to_baseline']:.2f}")
    for label, ms in result["pages_ms"].items():
        print(f"  page {label:26} {ms:8.1f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / f"dashboard-{result['database']}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
