"""Benchmark: the worklist page with 10,000 open tasks in the database.

Fills the task projection (the only tables the worklist reads) with N open tasks spread
over clinics, groups, assignees and due dates, then times the logged-in worklist page
through the real Flask app: default view, overdue filter, text search, clinic filter,
a late page. The same requests against a database with 100 tasks, in the same run, are
the baseline; the ratio shows what the extra 9,900 tasks cost. Saves JSON.
"""

from __future__ import annotations

import argparse
import json
import random
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

from engine.clock import SystemClock  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.models import HumanTask, ProcessInstance, TaskCandidate  # noqa: E402
from tiltak import services  # noqa: E402

CLINICS = ["kir", "med", "psyk"]
VIEWS = {
    "default": "/",
    "overdue": "/?due=overdue",
    "search": "/?q=sepsis",
    "clinic": "/?clinic=med&sort=-due",
    "page_20": "/?page=20",
}


def fill(engine, n: int, definition_id: int) -> None:
    rng = random.Random(17)
    now = datetime.now(UTC)
    instances, tasks, candidates = [], [], []
    for i in range(n):
        instance_id = str(uuid.uuid4())
        clinic = rng.choice(CLINICS)
        instances.append({
            "id": instance_id, "definition_id": definition_id,
            "process_key": "hendelsesanalyse-oppfolging", "business_key": f"HA-{i:05d}",
            "status": "running", "state": "", "bindings": {}, "id_counter": 0,
            "started_at": now, "started_by": "frida", "last_hash": "", "event_count": 0,
            "version": 1})
        task_id = str(uuid.uuid4())
        assignee = "sigrid" if rng.random() < 0.05 else None
        group = rng.choice([f"kpu-sekretariat-{clinic}", f"kpu-{clinic}"])
        name = rng.choice(["Vurder og konkretiser foreslåtte tiltak", "Send KPU-referat",
                           "Kontroller at tiltaket er gjennomført", "Sepsis: bekreft"])
        tasks.append({
            "id": task_id, "instance_id": instance_id, "definition_id": definition_id,
            "process_key": "klinikk-oppfolging", "element_id": "Task_VurderTiltak",
            "name": name, "assignee": assignee, "candidate_groups": [group],
            "candidate_users": [], "due_at": now + timedelta(days=rng.randint(-60, 120)),
            "follow_up_at": None, "priority": 50, "form": {}, "created_at": now,
            "business_key": f"HA-{i:05d}", "clinic": clinic})
        candidates.append({"task_id": task_id, "kind": "group", "value": group})
    with engine.db.transaction() as session:
        session.execute(ProcessInstance.__table__.insert(), instances)
        session.execute(HumanTask.__table__.insert(), tasks)
        session.execute(TaskCandidate.__table__.insert(), candidates)


def measure(n: int, repeats: int, workdir: Path) -> dict[str, float]:
    from webui import create_app
    engine = services.build_engine(f"sqlite:///{workdir / f'worklist-{n}.sqlite3'}",
                                   clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    from engine.users import add_user
    with engine.db.transaction() as session:  # sigrid, with a password to log in
        add_user(session, "sigrid", ["kpu-sekretariat-kir", "kpu-sekretariat-med",
                                     "kpu-sekretariat-psyk"], password="bench")
    [definition] = [d for d in engine.deploy(collect_files([str(ROOT / "processes")]))
                    if d.key == "klinikk-oppfolging"]
    fill(engine, n, definition.definition_id)
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                      "INSTANCE_PATH": str(workdir / "instance")}, engine=engine)
    client = app.test_client()
    client.post("/login", data={"username": "sigrid", "password": "bench"})
    result = {}
    for label, url in VIEWS.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - started)
            assert response.status_code == 200, (label, response.status_code)
        result[label] = round(statistics.median(times) * 1000, 2)
    engine.db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = measure(args.baseline, args.repeats, Path(tmp))
        full = measure(args.n, args.repeats, Path(tmp))
    result = {"open_tasks": args.n, "baseline_open_tasks": args.baseline,
              "median_ms": full, "baseline_median_ms": base,
              "ratio": {k: round(full[k] / base[k], 2) for k in full}}
    print(f"worklist page, median of {args.repeats} requests (ms):")
    for label in VIEWS:
        print(f"  {label:8} {full[label]:8.1f} with {args.n} tasks   "
              f"{base[label]:6.1f} with {args.baseline}   ratio {result['ratio'][label]:.2f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "worklist.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
