"""Benchmark: `tiltak verify` on N instances of the six-step routine (target: 10,000 in 60 s).

The instances are real: each is walked by `walk_six_step` (tests/walks.py) through the
engine's own commands, 22 events and two clinics. Walking takes a while, so the
database is generated once, by several processes each walking into its own copy of a
freshly deployed database, and the copies' instance rows are then merged into one
SQLite file under bench/results/, named by N and a hash of processes/ and the walk. A
re-run with the same N reuses it. `--database URL` measures another database instead
(for PostgreSQL); missing instances are walked into it directly, and its planner
statistics are brought up to date (`ANALYZE`) before measuring.

Each round measures, in the same run:
  * the chain check alone: every instance's events read and its hash chain checked;
  * `verify_all` in full (chain and replay of every step), with `--jobs` processes;
  * `verify_all` again against the checkpoint of that clean run (engine/checkpoint.py:
    every chain checked, unchanged instances not replayed), as an auditor's next run
    over an archive that did not change;
  * per instance, in one process, on a sample: the fast replay, and the replay as it
    was before it got fast (the reference baseline: the state restored from its text
    and written again at every step, SpiffWorkflow's own workflow classes and task
    iterator, one query per instance);
  * per instance, what the engine spent producing an instance in the first place (a
    few walked into a scratch database).
Prints medians and ratios; saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow  # noqa: E402
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from sqlalchemy import Integer, func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from engine import serialization  # noqa: E402
from engine.clock import FixedClock  # noqa: E402
from engine.database import Database  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.execution import projection  # noqa: E402
from engine.history import replay  # noqa: E402
from engine.history.state_writer import StateWriter  # noqa: E402
from engine.models import Base, HistoryEvent, ProcessInstance  # noqa: E402
from engine.serialization import state_to_json  # noqa: E402
from engine.services import instances as engine_instances  # noqa: E402
from engine.store import state_format  # noqa: E402
from installation import services  # noqa: E402

from walks import PROCESSES, walk_six_step  # noqa: E402

RESULTS = HERE / "results"
PROCESS_KEY = "hendelsesanalyse-oppfolging"
FIRST_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
WALK_CHUNK = 25  # instances a generating worker walks between progress reports
TARGET = {"instances": 10_000, "seconds": 60.0}
ID_SPACE = uuid.UUID("3b0c2b8e-7f4e-4d36-9c1e-5a4f0e8d2b71")


# ------------------------------------------------------------------ the instances
def source_hash() -> str:
    """What the instances depend on: the deployed process files and the walk."""
    digest = hashlib.sha256()
    for path in [*sorted(p for p in PROCESSES.rglob("*") if p.is_file()),
                 ROOT / "tests" / "walks.py"]:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def new_engine(url: str):
    engine = services.build_engine(url, clock=FixedClock(FIRST_START))
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    engine.repository.deploy(collect_files([str(PROCESSES)]), actor="per")
    return engine


def walked(engine) -> int:
    with engine.db.transaction() as session:
        return session.scalar(select(func.count()).select_from(ProcessInstance)
                              .where(ProcessInstance.process_key == PROCESS_KEY))


_walker = None  # the engine of a generating worker process


def _walker_start(url: str, copy_into: str | None) -> None:
    """A generating worker's engine; with `copy_into`, on its own copy of the database."""
    global _walker
    if copy_into is not None:
        own = Path(copy_into) / f"walk-{os.getpid()}.sqlite3"
        shutil.copyfile(url[len("sqlite:///"):], own)
        url = f"sqlite:///{own}"
    _walker = services.build_engine(url, clock=FixedClock(FIRST_START))


def walk_one(engine, i: int) -> str:
    """Instance number i: its id and start time follow from i, so walking it again on
    the same code records the same state hashes."""
    engine.clock.set(FIRST_START + timedelta(minutes=i))
    engine.new_id = lambda: str(uuid.uuid5(ID_SPACE, f"bench-verify/{i}"))
    return walk_six_step(engine, business_key=f"HA-{i:05d}")


def _walk(task: tuple[int, int]) -> tuple[int, float]:
    first, count = task
    started = time.perf_counter()
    for i in range(first, first + count):
        walk_one(_walker, i)
    return count, time.perf_counter() - started


def walk_instances(url: str, first: int, count: int, jobs: int,
                   copy_into: Path | None = None) -> float:
    """Walk `count` instances with `jobs` processes; the seconds it took. With
    `copy_into`, each process walks into its own copy of the (SQLite) database there."""
    tasks = [(i, min(WALK_CHUNK, first + count - i))
             for i in range(first, first + count, WALK_CHUNK)]
    started = time.perf_counter()
    done = 0
    pool = multiprocessing.get_context("fork").Pool(
        jobs, _walker_start, (url, str(copy_into) if copy_into else None))
    try:
        for n, _ in pool.imap_unordered(_walk, tasks):
            done += n
            elapsed = time.perf_counter() - started
            print(f"\rwalked {done}/{count} instances, {elapsed / done:.3f} s each "
                  f"({jobs} processes)", end="", file=sys.stderr, flush=True)
        pool.close()
    finally:
        if done < count:
            pool.terminate()
        pool.join()
    print(file=sys.stderr)
    return time.perf_counter() - started


def checkpoint(path: Path) -> None:
    """Everything in the SQLite file itself, none of it left in its write-ahead log."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def merge(target: Path, parts: list[Path]) -> None:
    """Copy the instances walked into each part into `target`, a copy of the database
    the parts were copied from: rows new in a part are appended, integer ids moved on
    past those already there (and references to them with them)."""
    tables = Base.metadata.sorted_tables
    numbered = {t.name for t in tables if [c.name for c in t.primary_key.columns] == ["id"]
                and isinstance(t.c.id.type, Integer)}
    db = sqlite3.connect(target)
    template = {t: db.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
                for t in numbered}
    for part in parts:
        db.execute("ATTACH DATABASE ? AS part", (str(part),))
        with db:
            shift = {t: db.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0]
                     - template[t] for t in numbered}
            for table in tables:
                columns, values = [], []
                for column in table.columns:
                    refs = [fk.column.table.name for fk in column.foreign_keys
                            if fk.column.table.name in numbered]
                    if column.name == "id" and table.name in numbered:
                        refs = [table.name]
                    value = column.name
                    if refs:
                        value = f"CASE WHEN {column.name} > {template[refs[0]]} " \
                                f"THEN {column.name} + {shift[refs[0]]} ELSE {column.name} END"
                    columns.append(column.name)
                    values.append(value)
                where = f" WHERE id > {template[table.name]}" if table.name in numbered else ""
                db.execute(f"INSERT OR IGNORE INTO main.{table.name} ({', '.join(columns)}) "
                           f"SELECT {', '.join(values)} FROM part.{table.name}{where}")
        db.execute("DETACH DATABASE part")
    db.close()


def cached_database(n: int, jobs: int) -> tuple[str, dict]:
    """The SQLite file with n walked instances, generated if not there yet."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"verify-{n}-{source_hash()}.sqlite3"
    about = path.with_suffix(".json")
    if path.exists() and about.exists():
        if still_current(f"sqlite:///{path}"):
            print(f"using {path.relative_to(ROOT)} ({n} instances)", file=sys.stderr)
            return f"sqlite:///{path}", json.loads(about.read_text())
        print(f"{path.relative_to(ROOT)} was walked by an engine that recorded states "
              "differently: walking it again", file=sys.stderr)
        path.unlink()
    work = Path(tempfile.mkdtemp(prefix="verify-", dir=RESULTS))
    try:
        template = work / "template.sqlite3"
        new_engine(f"sqlite:///{template}").db.dispose()
        checkpoint(template)
        seconds = walk_instances(f"sqlite:///{template}", 0, n, jobs, copy_into=work)
        parts = sorted(work.glob("walk-*.sqlite3"))
        for part in parts:
            checkpoint(part)
        merge(template, parts)
        engine = services.build_engine(f"sqlite:///{template}")
        assert walked(engine) == n, "the merged database lacks instances"
        engine.db.dispose()
        checkpoint(template)
        template.replace(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info = {"instances": n, "walked_in_s": round(seconds, 1), "walk_processes": jobs,
            "walked_per_instance_s": round(seconds * jobs / n, 3)}
    about.write_text(json.dumps(info, indent=2))
    return f"sqlite:///{path}", info


def still_current(url: str) -> bool:
    """Whether instance 0, walked again now into a scratch database, records the same
    state hashes as it did in this database (the engine may have changed since)."""
    engine = services.build_engine(url)
    recorded = recorded_hashes(engine, 0)
    engine.db.dispose()
    with tempfile.TemporaryDirectory() as tmp:
        _, [again] = production(Path(tmp), 1, 0)
    return recorded == again


def given_database(url: str, n: int, jobs: int) -> tuple[str, dict]:
    """Another database: walk into it what is missing to n instances."""
    engine = new_engine(url)
    have = walked(engine)
    engine.db.dispose()
    if have and not still_current(url):
        raise SystemExit(f"the instances in {shown_url(url)} were walked by an engine that "
                         "recorded states differently; empty it to walk them again")
    info = {"instances": n, "already_there": have}
    if have < n:
        seconds = walk_instances(url, have, n - have, jobs)
        info.update(walked_in_s=round(seconds, 1), walk_processes=jobs,
                    walked_per_instance_s=round(seconds * jobs / (n - have), 3))
    planner_statistics(url)
    return url, info


def planner_statistics(url: str) -> None:
    """The query planner's statistics brought up to date, as autovacuum keeps them in a
    database that runs it. Measured at 10,000 instances on a PostgreSQL without them,
    each batch of fifty instances was read by scanning the whole event table (33 ms
    instead of 2 ms)."""
    database = Database(url)
    with database.engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    database.dispose()


def shown_url(url: str) -> str:
    """A database URL without its password, to show."""
    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------ the measurements
def chain_only(engine, ids: list[str]) -> float:
    started = time.perf_counter()
    for i in range(0, len(ids), replay.BATCH):
        for events, head in replay.load_batch(engine, ids[i:i + replay.BATCH]).values():
            assert replay.check_chain(events, head) is None
    return time.perf_counter() - started


def full(engine, jobs: int, known: replay.Known | None = None
         ) -> tuple[float, list[replay.Verdict]]:
    started = time.perf_counter()
    verdicts = replay.verify_all(engine, jobs=jobs, known=known)
    seconds = time.perf_counter() - started
    bad = [v.as_dict() for v in verdicts if not v.ok]
    assert not bad, f"{len(bad)} instances do not verify, e.g. {bad[:3]} (a database \
generated before the engine changed how it records states? delete it to walk it again)"
    return seconds, verdicts


def against_checkpoint(engine, jobs: int, verdicts: list[replay.Verdict]) -> float:
    """Verifying again with the checkpoint of a clean run: chains only, no replay."""
    known = {v.instance_id: (v.events, v.last_hash) for v in verdicts}
    seconds, again = full(engine, jobs, known)
    assert not any(v.replayed for v in again)
    return seconds


def per_instance(engine, sample: list[str]) -> list[float]:
    times = []
    for instance_id in sample:
        started = time.perf_counter()
        [verdict] = replay.verify_batch(engine, [instance_id])
        times.append(time.perf_counter() - started)
        assert verdict.ok, verdict.as_dict()
    return times


def reference(engine, sample: list[str]) -> list[float]:
    """Per instance, the replay as it was: every shortcut switched off (SpiffWorkflow's
    own workflow classes and task walks, too)."""
    saved = (replay._live, StateWriter.write, projection.every_task,
             serialization.EngineWorkflow, serialization.EngineSubWorkflow,
             engine_instances.EngineWorkflow, state_format.EngineWorkflow,
             state_format.EngineSubWorkflow)
    replay._live = lambda *args: None
    StateWriter.write = lambda self, workflow: state_to_json(workflow)
    projection.every_task = lambda workflow: workflow.get_tasks()
    serialization.EngineWorkflow = engine_instances.EngineWorkflow = BpmnWorkflow
    state_format.EngineWorkflow = BpmnWorkflow
    serialization.EngineSubWorkflow = state_format.EngineSubWorkflow = BpmnSubWorkflow
    try:
        times = []
        for instance_id in sample:
            started = time.perf_counter()
            verdict = replay.verify_instance(engine, instance_id)
            times.append(time.perf_counter() - started)
            assert verdict.ok, verdict.as_dict()
        return times
    finally:
        (replay._live, StateWriter.write, projection.every_task,
         serialization.EngineWorkflow, serialization.EngineSubWorkflow,
         engine_instances.EngineWorkflow, state_format.EngineWorkflow,
         state_format.EngineSubWorkflow) = saved


def production(workdir: Path, count: int, first: int) -> tuple[list[float], list[str]]:
    """Per instance, what the engine spent walking it (a scratch SQLite database), and
    the state hashes of each instance's events."""
    engine = new_engine(f"sqlite:///{workdir / f'produce-{time.monotonic_ns()}.sqlite3'}")
    times, hashes = [], []
    for i in range(first, first + count):
        started = time.perf_counter()
        instance_id = walk_one(engine, i)
        times.append(time.perf_counter() - started)
        hashes.append([e.state_hash for e in engine.history.events(instance_id)])
    engine.db.dispose()
    return times, hashes


def recorded_hashes(engine, i: int) -> list[str]:
    instance_id = str(uuid.uuid5(ID_SPACE, f"bench-verify/{i}"))
    with engine.db.transaction() as session:
        return list(session.scalars(select(HistoryEvent.state_hash).where(
            HistoryEvent.stream == instance_id).order_by(HistoryEvent.seq)))


def summary(values: list[float], digits: int = 3) -> dict:
    return {"median": round(statistics.median(values), digits),
            "all": [round(v, digits) for v in values]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="0: only generate")
    parser.add_argument("--database", metavar="URL",
                        help="measure this database instead of the generated SQLite file")
    parser.add_argument("--jobs", type=int, default=replay.default_jobs(),
                        help="processes for verify_all and for generating (default: cores)")
    parser.add_argument("--sample", type=int, default=100,
                        help="instances timed one by one, fast and reference, per round")
    parser.add_argument("--produce", type=int, default=5,
                        help="instances walked per round to time the engine producing them")
    args = parser.parse_args()

    if args.database:
        url, generated = given_database(args.database, args.instances, args.jobs)
    else:
        url, generated = cached_database(args.instances, args.jobs)
    if args.rounds < 1:
        print(f"generated: {json.dumps(generated)}")
        return
    engine = services.build_engine(url)
    with engine.db.transaction() as session:
        ids = list(session.scalars(select(ProcessInstance.id).order_by(
            ProcessInstance.started_at, ProcessInstance.id)))
    n = len(ids)
    sample = ids[::max(1, n // args.sample)][:args.sample]
    chain, whole, rechecked, fast, slow, produced = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(1, args.rounds + 1):  # interleaved, so noise hits all alike
            chain.append(chain_only(engine, ids))
            seconds, verdicts = full(engine, args.jobs)
            assert len(verdicts) == n
            whole.append(seconds)
            rechecked.append(against_checkpoint(engine, args.jobs, verdicts))
            fast.append(statistics.median(per_instance(engine, sample)))
            slow.append(statistics.median(reference(engine, sample)))
            times, _ = production(Path(tmp), args.produce, n + round_ * args.produce)
            produced.append(statistics.median(times))
            print(f"round {round_}: chain {chain[-1]:.1f} s, verify_all {whole[-1]:.1f} s "
                  f"({n / whole[-1]:.0f}/s), against a checkpoint {rechecked[-1]:.1f} s, "
                  f"per instance {fast[-1] * 1000:.1f} ms "
                  f"(reference {slow[-1] * 1000:.1f} ms)", file=sys.stderr)
    engine.db.dispose()

    total = statistics.median(whole)
    for_target = total * TARGET["instances"] / n
    result = {
        "database": engine.db.dialect, "instances": n, "jobs": args.jobs,
        "rounds": args.rounds, "sample": len(sample), "generated": generated,
        "chain_check_s": summary(chain, 2),
        "verify_all_s": summary(whole, 2),
        "verify_all_per_s": round(n / total, 1),
        "against_checkpoint_s": summary(rechecked, 2),
        "against_checkpoint_seconds_for_10000": round(
            statistics.median(rechecked) * TARGET["instances"] / n, 1),
        "per_instance_ms": summary([x * 1000 for x in fast], 2),
        "reference_per_instance_ms": summary([x * 1000 for x in slow], 2),
        "speedup_vs_reference": round(statistics.median(slow) / statistics.median(fast), 2),
        "production_per_instance_ms": summary([x * 1000 for x in produced], 1),
        "verify_vs_production": round(statistics.median(fast) / statistics.median(produced),
                                      3),
        "seconds_for_10000": round(for_target, 1),
        "seconds_for_10000_is": "measured" if n == TARGET["instances"] else
        f"extrapolated from {n}",
        "target_met": for_target <= TARGET["seconds"],
    }
    print(f"instances:                {n} ({engine.db.dialect}), {args.jobs} processes")
    print(f"chain check alone:        {result['chain_check_s']['median']} s")
    print(f"verify_all:               {result['verify_all_s']['median']} s, "
          f"{result['verify_all_per_s']} instances/s")
    print(f"against a checkpoint:     {result['against_checkpoint_s']['median']} s "
          f"(unchanged instances: chains checked, not replayed; 10,000: "
          f"{result['against_checkpoint_seconds_for_10000']} s)")
    print(f"per instance (1 process): {result['per_instance_ms']['median']} ms, reference "
          f"{result['reference_per_instance_ms']['median']} ms, "
          f"x{result['speedup_vs_reference']}")
    print(f"engine producing one:     {result['production_per_instance_ms']['median']} ms "
          f"(verify/produce {result['verify_vs_production']})")
    print(f"10,000 instances:         {result['seconds_for_10000']} s "
          f"({result['seconds_for_10000_is']}); target {TARGET['seconds']:.0f} s "
          f"{'met' if result['target_met'] else 'NOT met'}")
    RESULTS.mkdir(exist_ok=True)
    name = "verify.json" if not args.database else f"verify-{engine.db.dialect}.json"
    (RESULTS / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
