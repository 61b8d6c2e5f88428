"""Benchmark: instances end to end through the engine vs bare SpiffWorkflow.

Both run the same start -> user task -> end process in the same run. Bare SpiffWorkflow
parses once, then per instance: create, run to the user task, serialize, deserialize,
complete, run to the end, serialize. The engine does start + complete, each one
transaction with state, task projection and history (the task to complete taken from
the start's result, as a client of the API takes it from the answer), on a SQLite file and (with
`--postgres URL`) on a fresh PostgreSQL schema. Also one full six-step instance: time
and stored bytes. Prints medians, the ratio (the median over rounds of each round's rate
over the bare rate of the same round, so that load on the machine falls on both alike),
the p95 of one instance, the SQL statements and commits per instance, and the floor a
durable commit sets on each database (one INSERT and COMMIT on the driver alone, in the
same round), with the ratio to bare SpiffWorkflow charged that floor for as many commits
as the engine makes (each command is one durable transaction; nothing that keeps that
promise can beat it); saves JSON under bench/results/.

With `--instructions` (and valgrind on the machine), also the instructions each side
executes per instance, counted by callgrind: bare SpiffWorkflow, and the engine on
SQLite (whose own work runs in the same process). Counts do not depend on what else the
machine is doing; the difference between a run of FEW and one of MANY instances, over
MANY - FEW, is one instance's count without the setup. Time per instruction is not
counted: system calls (the log's writes), cache misses and threads show in the times
above, not here.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import event, func, select

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from databases import database, p95, run_on, save_results  # noqa: E402

from engine.clock import SystemClock  # noqa: E402
from engine.database import Database  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.models import HistoryEvent, InstanceState  # noqa: E402
from installation import services  # noqa: E402

SIMPLE = HERE / "processes" / "enkel-oppgave.bpmn"
DURABLE_COMMANDS = 2  # start and complete, each one transaction


def bare_spiff(n: int) -> float:
    parser = CamundaParser()
    parser.add_bpmn_file(str(SIMPLE))
    spec = parser.get_spec("enkel-oppgave")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))
    started = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(spec)
        wf.do_engine_steps()
        text = serializer.serialize_json(wf)
        wf = serializer.deserialize_json(text)
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data["kommentar"] = "ok"
        task.run()
        wf.do_engine_steps()
        assert wf.is_completed()
        serializer.serialize_json(wf)
    return n / (time.perf_counter() - started)


def commit_floor(url: str, n: int = 200) -> float:
    """Median seconds of one INSERT + COMMIT on the bare driver connection: what every
    durable command pays at least (fsync of the WAL on PostgreSQL), with the engine's own
    connection settings (on SQLite each statement then commits by itself)."""
    engine = Database(url).engine
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("CREATE TABLE commit_floor (id INTEGER PRIMARY KEY, v TEXT)")
        raw.commit()
        each = []
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        for i in range(n):
            began = time.perf_counter()
            cursor.execute(f"INSERT INTO commit_floor (id, v) VALUES ({marker}, 'x')", (i,))
            raw.commit()
            each.append(time.perf_counter() - began)
        cursor.execute("DROP TABLE commit_floor")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return statistics.median(each)


def tiltak_engine(n: int, url: str) -> tuple[float, list[float], float, float]:
    """Instances per second, each instance's seconds, SQL statements and commits per
    instance (counted in a short run after the timed one: a listener on every statement
    would be timed with the engine)."""
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    from engine.identity.users import add_user
    with engine.db.transaction() as session:
        add_user(session, "bench", ["bench"])
    engine.repository.deploy({SIMPLE.name: SIMPLE.read_bytes()})

    def one_instance() -> None:
        row = engine.runtime.start("enkel-oppgave", actor="bench")
        # the start's own result names the task it opened, as the API's answer does
        [task] = row.open_tasks
        done = engine.tasks.complete(task.id, actor="bench", data={"kommentar": "ok"})
        assert done.status == "completed"

    each = []
    started = time.perf_counter()
    for _ in range(n):
        began = time.perf_counter()
        one_instance()
        each.append(time.perf_counter() - began)
    rate = n / (time.perf_counter() - started)
    statements, commits = [0], [0]
    event.listen(engine.db.engine, "before_cursor_execute",
                 lambda *args: statements.__setitem__(0, statements[0] + 1))
    event.listen(engine.db.engine, "commit", lambda *args: commits.__setitem__(0, commits[0] + 1))
    counted = 20
    for _ in range(counted):
        one_instance()
    engine.db.dispose()
    return rate, each, statements[0] / counted, commits[0] / counted


FEW, MANY = 20, 60  # instances in the two counted runs of each side


def _counted_run(side: str, n: int, workdir: Path) -> int:
    """Instructions callgrind counts in one run of `side` with n instances."""
    out = workdir / f"callgrind-{side}-{n}.out"
    found = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable,
         __file__, "--one-side", side, "-n", str(n)],
        capture_output=True, text=True, check=True, cwd=workdir,
        env={**os.environ, "PYTHONHASHSEED": "0"})  # the same dict orders every run
    return int(re.search(r"Collected : (\d+)", found.stderr).group(1))


def instructions_per_instance(workdir: Path) -> dict:
    """Each side's instructions per instance, and the engine's ratio to bare (runs in
    parallel: counts do not depend on load)."""
    runs = [(side, n) for side in ("bare", "sqlite") for n in (FEW, MANY)]
    with ThreadPoolExecutor(len(runs)) as pool:
        counts = dict(zip(runs, pool.map(lambda r: _counted_run(*r, workdir), runs),
                          strict=True))
    per = {side: (counts[side, MANY] - counts[side, FEW]) / (MANY - FEW)
           for side in ("bare", "sqlite")}
    return {"bare_spiffworkflow": round(per["bare"]), "tiltak_sqlite": round(per["sqlite"]),
            "ratio": round(per["bare"] / per["sqlite"], 3)}


def one_side(side: str, n: int) -> None:
    """What a counted run runs: n instances of one side."""
    if side == "bare":
        bare_spiff(n)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tiltak_engine(n, f"sqlite:///{Path(tmp) / 'counted.sqlite3'}")


def six_step(workdir: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from walks import walk_six_step  # the same walk the tests use

    url = f"sqlite:///{workdir / 'six-step.sqlite3'}"
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    engine.repository.deploy(collect_files([str(ROOT / "processes")]))
    started = time.perf_counter()
    instance_id = walk_six_step(engine)
    elapsed = time.perf_counter() - started
    with engine.db.transaction() as session:
        state_bytes = session.scalar(select(func.sum(func.length(InstanceState.body))))
        history_bytes = session.scalar(select(func.sum(func.length(HistoryEvent.data))))
        events = session.scalar(select(func.count()).select_from(HistoryEvent)
                                .where(HistoryEvent.instance_id == instance_id))
    engine.db.dispose()
    return {"seconds": round(elapsed, 3), "state_bytes": state_bytes,
            "history_data_bytes": history_bytes, "history_events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=300, help="instances per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions per instance with valgrind")
    parser.add_argument("--one-side", choices=("bare", "sqlite"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_side:
        one_side(args.one_side, args.n)
        return
    if args.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind")
    kinds = run_on(args.postgres)
    bare: list[float] = []
    ours: dict[str, dict[str, list]] = {
        k: {"rates": [], "ratios": [], "durable_ratios": [], "each": [], "statements": [],
            "commits": [], "floor": []} for k in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
            bare.append(bare_spiff(args.n))
            for kind in kinds:
                with database(kind, workdir, args.postgres) as url:
                    rate, each, statements, commits = tiltak_engine(args.n, url)
                    floor = commit_floor(url)
                ours[kind]["rates"].append(rate)
                ours[kind]["ratios"].append(rate / bare[-1])
                # bare SpiffWorkflow that also made its commits durable: what no engine
                # that commits each command can beat on this machine
                durable_bare = 1 / (1 / bare[-1] + DURABLE_COMMANDS * floor)
                ours[kind]["durable_ratios"].append(rate / durable_bare)
                ours[kind]["each"].extend(each)
                ours[kind]["statements"].append(statements)
                ours[kind]["commits"].append(commits)
                ours[kind]["floor"].append(floor)
        six = six_step(workdir)
        counted = instructions_per_instance(workdir) if args.instructions else None
    bare_median = statistics.median(bare)
    result = {
        "instances_per_round": args.n, "rounds": args.rounds,
        "bare_spiffworkflow_per_s": {"median": round(bare_median, 1),
                                     "all": [round(x, 1) for x in bare]},
        "six_step_instance": six,
    }
    print(f"bare SpiffWorkflow: {bare_median:.1f} instances/s")
    for kind, found in ours.items():
        median = statistics.median(found["rates"])
        result[f"tiltak_{kind}"] = {
            "per_s_median": round(median, 1), "per_s_all": [round(x, 1) for x in found["rates"]],
            "ratio_median": round(statistics.median(found["ratios"]), 3),
            "ratio_all": [round(x, 3) for x in found["ratios"]],
            "ratio_to_durable_bare_median": round(statistics.median(found["durable_ratios"]), 3),
            "instance_ms_median": round(statistics.median(found["each"]) * 1000, 2),
            "instance_ms_p95": round(p95(found["each"]) * 1000, 2),
            "statements_per_instance": round(statistics.median(found["statements"]), 1),
            "commits_per_instance": round(statistics.median(found["commits"]), 1),
            "commit_floor_ms": round(statistics.median(found["floor"]) * 1000, 3)}
        shown = result[f"tiltak_{kind}"]
        print(f"tiltak on {kind}: {median:.1f} instances/s, ratio {shown['ratio_median']:.3f} "
              f"(target >= 0.5); one instance median {shown['instance_ms_median']} ms, "
              f"p95 {shown['instance_ms_p95']} ms; {shown['statements_per_instance']} "
              f"SQL statements, {shown['commits_per_instance']} commits; a bare INSERT + "
              f"COMMIT {shown['commit_floor_ms']} ms; ratio to bare SpiffWorkflow with "
              f"as many durable commits {shown['ratio_to_durable_bare_median']:.3f}")
    print(f"six-step instance:  {six['seconds']} s, state {six['state_bytes']} bytes, "
          f"history data {six['history_data_bytes']} bytes in {six['history_events']} events")
    if counted is not None:
        result["instructions_per_instance"] = counted
        print(f"instructions per instance (callgrind): bare SpiffWorkflow "
              f"{counted['bare_spiffworkflow']:,}, tiltak on sqlite "
              f"{counted['tiltak_sqlite']:,}, ratio {counted['ratio']:.3f}")
    save_results("engine_throughput", result)


if __name__ == "__main__":
    main()
