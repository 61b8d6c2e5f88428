"""Benchmark: instances end to end through the engine vs bare SpiffWorkflow.

Both run the same start -> user task -> end process in the same run. Bare SpiffWorkflow
parses once, then per instance: create, run to the user task, serialize, deserialize,
complete, run to the end, serialize. The engine does start + complete, each one
transaction with state, task projection and history, on a SQLite file and (with
`--postgres URL`) on a fresh PostgreSQL schema. Also one full six-step instance: time
and stored bytes. Prints medians, the ratio (the median over rounds of each round's rate
over the bare rate of the same round, so that load on the machine falls on both alike),
the p95 of one instance, the SQL statements and commits per instance, and the floor a
durable commit sets on each database (one INSERT and COMMIT on the driver alone, in the
same round), with the ratio to bare SpiffWorkflow charged that floor for as many commits
as the engine makes (each command is one durable transaction; nothing that keeps that
promise can beat it); saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
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
DURABLE_COMMANDS = 2  # start and complete write; the task list between them only reads


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
        task = engine.tasks.find(instance_id=row.id)[0]
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
    args = parser.parse_args()
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
    save_results("engine_throughput", result)


if __name__ == "__main__":
    main()
