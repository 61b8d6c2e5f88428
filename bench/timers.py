"""Benchmark: timer lateness (due -> fired) and the cost of a sweep with idle instances.

1. Burst: N timers all due at the same moment, fired by two `tiltak worker` processes
   (sweeping every 0.2 s) started once all are due, on SQLite and (with `--postgres
   URL`) PostgreSQL: seconds until all fired, the rate, lateness p50/p99, and how many
   fired twice (must be 0).
2. Steady load: N timers due spread evenly over a window; lateness p50/p99.
3. Sweep cost: the time of one sweep with nothing due, with 0 and with M instances
   waiting on timers that are not due (bulk-inserted rows; the sweep reads only the
   indexed next-timer column), and their ratio.
The rest on a SQLite file (the embedded default). Prints medians; saves JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from databases import database, run_on, save_results  # noqa: E402
from sqlalchemy import select  # noqa: E402

from engine.clock import SystemClock  # noqa: E402
from engine.identity.users import add_user  # noqa: E402
from engine.models import HistoryEvent, ProcessInstance  # noqa: E402
from engine.timers import Scheduler, sweep  # noqa: E402
from installation import services  # noqa: E402

PROCESS = HERE / "processes" / "ventetimer.bpmn"


def new_engine(workdir: Path, name: str, url: str | None = None):
    engine = services.build_engine(url or f"sqlite:///{workdir / name}", clock=SystemClock())
    engine.db.create_schema()
    with engine.db.transaction() as session:
        add_user(session, "bench", ["bench"])
    engine.repository.deploy({PROCESS.name: PROCESS.read_bytes()}, actor="bench")
    return engine


def lateness(engine) -> list[float]:
    with engine.db.transaction() as session:
        events = session.scalars(select(HistoryEvent).where(HistoryEvent.type == "timer"))
        result = []
        for event in events:
            due = datetime.fromisoformat(json.loads(event.data)["due"])
            due = due if due.tzinfo else due.replace(tzinfo=UTC)
            at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
            result.append((at - due).total_seconds())
    return result


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": round(statistics.median(ordered), 3),
            "p99": round(ordered[int(len(ordered) * 0.99) - 1], 3),
            "max": round(ordered[-1], 3), "count": len(ordered)}


def burst(workdir: Path, n: int, kind: str = "sqlite", postgres: str | None = None,
          workers: int = 1) -> dict:
    """N timers due at one moment, fired by `workers` separate `tiltak worker` processes
    started once all are due: how long until every one has fired, and the lateness."""
    with database(kind, workdir, postgres) as url:
        engine = new_engine(workdir, "burst.sqlite3", url)
        lead = max(30, n // 100)  # meant to be after the last is created
        due = datetime.now(UTC) + timedelta(seconds=lead)
        for _ in range(n):
            left = max(1, int((due - datetime.now(UTC)).total_seconds()))
            engine.runtime.start("ventetimer", actor="bench", data={"ventetid": f"PT{left}S"})
        time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
        tiltak = Path(sys.executable).parent / "tiltak"
        env = {**os.environ, "TILTAK_DATABASE_URL": url}
        started = time.perf_counter()
        running = [subprocess.Popen([str(tiltak), "worker", "--interval", "0.2"], env=env,
                                    stdout=subprocess.DEVNULL) for _ in range(workers)]
        try:
            while time.perf_counter() - started < 900:
                with engine.db.reading() as session:
                    if session.scalar(select(ProcessInstance.id).where(
                            ProcessInstance.status == "running").limit(1)) is None:
                        break
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
        finally:
            for worker in running:
                worker.terminate()
                worker.wait()
        late = lateness(engine)
        fired_twice = len(late) - n
        engine.db.dispose()
    return {"database": kind, "timers": n, "workers": workers,
            "all_fired_s": round(elapsed, 1), "fire_rate_per_s": round(n / elapsed, 1),
            "fired_twice": fired_twice, "lateness_s": percentiles(late)}


def steady(workdir: Path, n: int, window: int) -> dict:
    """Timers due evenly over `window` seconds; all created beforehand, so the figure is
    the scheduler's own lateness, not that of a busy creator in the same process."""
    engine = new_engine(workdir, "steady.sqlite3")
    lead = 10 + n // 150
    first_due = datetime.now(UTC) + timedelta(seconds=lead)
    for i in range(n):
        target = first_due + timedelta(seconds=window * i / n)
        wait = (target - datetime.now(UTC)).total_seconds()
        engine.runtime.start("ventetimer", actor="bench", data={"ventetid": f"PT{wait:.3f}S"})
    scheduler = Scheduler(engine, interval=0.2)
    scheduler.start()
    try:
        deadline = time.monotonic() + lead + window + 120
        while time.monotonic() < deadline:
            with engine.db.transaction() as session:
                if session.scalars(select(ProcessInstance.id).where(
                        ProcessInstance.status == "running").limit(1)).first() is None:
                    break
            time.sleep(0.5)
    finally:
        scheduler.stop()
    return {"timers": n, "window_s": window, "per_s": round(n / window, 1),
            **percentiles(lateness(engine))}


def sweep_cost(workdir: Path, idle: int, repeats: int) -> dict:
    result = {}
    for label, count in (("idle_0", 0), (f"idle_{idle}", idle)):
        engine = new_engine(workdir, f"sweep-{count}.sqlite3")
        later = datetime.now(UTC) + timedelta(days=1)
        definition_id = engine.repository.latest("ventetimer").id
        rows = [{"id": str(uuid.uuid4()), "definition_id": definition_id,
                 "process_key": "ventetimer", "status": "running",
                 "bindings": {}, "id_counter": 0, "started_at": later, "started_by": "bench",
                 "next_timer_at": later + timedelta(seconds=i), "last_hash": "",
                 "event_count": 0, "version": 1} for i in range(count)]
        with engine.db.transaction() as session:
            for start in range(0, len(rows), 10_000):
                session.execute(ProcessInstance.__table__.insert(), rows[start:start + 10_000])
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            assert sweep(engine).due == 0
            times.append(time.perf_counter() - started)
        result[label] = round(statistics.median(times) * 1000, 3)
        engine.db.dispose()
    result["ratio"] = round(result[f"idle_{idle}"] / result["idle_0"], 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--steady", type=int, default=3_000)
    parser.add_argument("--window", type=int, default=60)
    parser.add_argument("--idle", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--only", choices=["burst", "steady", "sweep"])
    parser.add_argument("--postgres", metavar="URL",
                        help="also run the burst on PostgreSQL")
    parser.add_argument("--workers", type=int, default=2,
                        help="worker processes firing the burst (default: %(default)s)")
    args = parser.parse_args()
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.only in (None, "sweep"):
            result["sweep_ms"] = sweep_cost(workdir, args.idle, args.repeats)
            print(f"sweep with nothing due: {result['sweep_ms']}")
        if args.only in (None, "steady"):
            result["steady"] = steady(workdir, args.steady, args.window)
            print(f"steady load: {result['steady']}")
        if args.only in (None, "burst"):
            kinds = run_on(args.postgres)
            result["burst"] = [burst(workdir, args.burst, kind, args.postgres, args.workers)
                               for kind in kinds]
            for figures in result["burst"]:
                print(f"burst: {figures}")
    save_results(f"timers{'-' + args.only if args.only else ''}", result)


if __name__ == "__main__":
    main()
