"""Benchmark: instances end to end through the engine on a SQLite file vs bare SpiffWorkflow.

Both run the same start -> user task -> end process in the same run. Bare SpiffWorkflow
parses once, then per instance: create, run to the user task, serialize, deserialize,
complete, run to the end, serialize. The engine does start + complete, each one
transaction with state, task projection and history. Also one full six-step instance:
time and stored bytes. Prints medians and the ratio; saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import json
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
from sqlalchemy import func, select

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from engine.clock import SystemClock  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.models import HistoryEvent, ProcessInstance  # noqa: E402
from tiltak import services  # noqa: E402

SIMPLE = HERE / "processes" / "enkel-oppgave.bpmn"


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


def tiltak_engine(n: int, workdir: Path) -> float:
    url = f"sqlite:///{workdir / f'bench-{time.monotonic_ns()}.sqlite3'}"
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    from engine.users import add_user
    with engine.db.transaction() as session:
        add_user(session, "bench", ["bench"])
    engine.deploy({SIMPLE.name: SIMPLE.read_bytes()})
    started = time.perf_counter()
    for _ in range(n):
        row = engine.start("enkel-oppgave", actor="bench")
        task = engine.tasks(instance_id=row.id)[0]
        done = engine.complete(task.id, actor="bench", data={"kommentar": "ok"})
        assert done.status == "completed"
    rate = n / (time.perf_counter() - started)
    engine.db.dispose()
    return rate


def six_step(workdir: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from walks import walk_six_step  # the same walk the tests use

    url = f"sqlite:///{workdir / 'six-step.sqlite3'}"
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    engine.deploy(collect_files([str(ROOT / "processes")]))
    started = time.perf_counter()
    instance_id = walk_six_step(engine)
    elapsed = time.perf_counter() - started
    with engine.db.transaction() as session:
        state_bytes = session.scalar(select(func.sum(func.length(ProcessInstance.state))))
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
    args = parser.parse_args()
    bare, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            bare.append(bare_spiff(args.n))
            ours.append(tiltak_engine(args.n, workdir))
        six = six_step(workdir)
    result = {
        "instances_per_round": args.n, "rounds": args.rounds,
        "bare_spiffworkflow_per_s": {"median": round(statistics.median(bare), 1),
                                     "all": [round(x, 1) for x in bare]},
        "tiltak_sqlite_per_s": {"median": round(statistics.median(ours), 1),
                                "all": [round(x, 1) for x in ours]},
        "ratio_median": round(statistics.median(ours) / statistics.median(bare), 3),
        "six_step_instance": six,
    }
    print(f"bare SpiffWorkflow: {result['bare_spiffworkflow_per_s']['median']:.1f} instances/s")
    print(f"tiltak on SQLite:   {result['tiltak_sqlite_per_s']['median']:.1f} instances/s")
    print(f"ratio (median):     {result['ratio_median']:.3f}  (target >= 0.5)")
    print(f"six-step instance:  {six['seconds']} s, state {six['state_bytes']} bytes, "
          f"history data {six['history_data_bytes']} bytes in {six['history_events']} events")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "engine_throughput.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
