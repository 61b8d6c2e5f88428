"""Benchmark: the worklist page with 1,000, 10,000 and 100,000 open tasks.

Fills the tables the worklist reads (open tasks, who may see them and the cases' titles,
written by the store's own code) with N open tasks spread over six groups, clinics,
assignees and due dates, then times the logged-in worklist page through the real Flask
app, as a user in three of the six groups: default view, overdue filter, text search (a
word a third of the tasks match, and a case number one task matches), clinic filter with
the latest deadlines first, page 20. Prints median and p95 per view and size, and the
ratio of each size's p95 to the smallest size's; on SQLite and (with `--postgres URL`)
PostgreSQL. Saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
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

from databases import database, p95, run_on, save_results  # noqa: E402

from engine.clock import SystemClock  # noqa: E402
from engine.definitions import collect_files  # noqa: E402
from engine.identity.users import add_user  # noqa: E402
from engine.models import CaseFacts, HumanTask, ProcessInstance  # noqa: E402
from engine.store import task_search, visibility  # noqa: E402
from installation import services  # noqa: E402

CLINICS = ["kir", "med", "psyk"]
GROUPS = [f"{kind}-{clinic}" for kind in ("kpu-sekretariat", "kpu") for clinic in CLINICS]
VIEWS = {
    "default": "/",
    "overdue": "/?due=overdue",
    "search": "/?q=sepsis",
    "case_no": "/?q=HA-000123",  # a rare term: one case matches
    "clinic": "/?clinic=med&sort=-due",
    "page_20": "/?page=20",
}
TITLES = ["Fall fra seng på natt", "Forsinket oppfølging av sepsis", "Feil dose insulin",
          "Pasient utskrevet uten epikrise", "Forveksling av prøveglass"]
BATCH = 5_000


def fill(engine, n: int, definition_id: int) -> None:
    rng = random.Random(17)
    now = datetime.now(UTC)
    for first in range(0, n, BATCH):
        instances, tasks, facts = [], [], []
        for i in range(first, min(n, first + BATCH)):
            instance_id = str(uuid.uuid4())
            clinic = rng.choice(CLINICS)
            instances.append({
                "id": instance_id, "definition_id": definition_id,
                "process_key": "hendelsesanalyse-oppfolging", "business_key": f"HA-{i:06d}",
                "status": "running", "bindings": {}, "id_counter": 0,
                "started_at": now, "started_by": "frida", "last_hash": "",
                "event_count": 0, "version": 1})
            title = f"{rng.choice(TITLES)} ({i})"
            facts.append({"instance_id": instance_id, "process_key": "hendelsesanalyse-oppfolging",
                          "clinic": clinic, "anonymous": False, "sensitive": False,
                          "title": title})
            tasks.append({
                "id": str(uuid.uuid4()), "instance_id": instance_id,
                "definition_id": definition_id, "process_key": "klinikk-oppfolging",
                "element_id": "Task_VurderTiltak",
                "name": rng.choice(["Vurder og konkretiser foreslåtte tiltak",
                                    "Send KPU-referat", "Sepsis: bekreft",
                                    "Kontroller at tiltaket er gjennomført"]),
                "assignee": "sigrid" if rng.random() < 0.02 else None,
                "candidate_groups": [rng.choice(GROUPS)], "candidate_users": [],
                "due_at": now + timedelta(days=rng.randint(-60, 120)),
                "follow_up_at": None, "priority": 50, "form": {},
                "created_at": now - timedelta(seconds=rng.randint(0, 10**7)),
                "business_key": f"HA-{i:06d}", "clinic": clinic})
        with engine.db.transaction() as session:
            session.execute(ProcessInstance.__table__.insert(), instances)
            session.execute(HumanTask.__table__.insert(), tasks)
            session.execute(CaseFacts.__table__.insert(), facts)
            titles = {f["instance_id"]: f["title"] for f in facts}
            visibility.add(session.connection(), tasks, titles)
            if task_search.kept(session.connection()):
                task_search.index_now(session.connection(), {
                    row["id"]: task_search.case_text(row["business_key"], titles[row["id"]])
                    for row in instances})
    if engine.db.dialect == "postgresql":
        # as autovacuum would have by now: statistics taken, and (after so many inserts)
        # the table vacuumed, which also moves the search index's pending entries in
        with engine.db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


def measure(url: str, n: int, repeats: int, workdir: Path) -> dict[str, dict[str, float]]:
    from webui import create_app
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    services.load_demo_users(engine, passwords=False)
    with engine.db.transaction() as session:  # three of the six groups, and a password
        add_user(session, "sigrid", GROUPS[:3], password="bench")
    [definition] = [d for d in engine.repository.deploy(collect_files([str(ROOT / "processes")]))
                    if d.key == "klinikk-oppfolging"]
    fill(engine, n, definition.definition_id)
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False,
                      "INSTANCE_PATH": str(workdir / "instance")}, engine=engine)
    client = app.test_client()
    client.post("/login", data={"username": "sigrid", "password": "bench"})
    result = {}
    for label, url_path in VIEWS.items():
        client.get(url_path)  # warm
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            response = client.get(url_path)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (label, response.status_code)
        result[label] = {"median": round(statistics.median(times), 2),
                         "p95": round(p95(times), 2)}
    engine.db.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000",
                        help="open task counts, comma-separated (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = run_on(args.postgres)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            results[kind] = {}
            for n in sizes:
                with database(kind, Path(tmp), args.postgres) as url:
                    results[kind][n] = measure(url, n, args.repeats, Path(tmp))
    for kind in kinds:
        smallest = results[kind][sizes[0]]
        print(f"{kind}: worklist page, ms (median / p95), p95 ratio to {sizes[0]} tasks")
        for label in VIEWS:
            cells = [f"{results[kind][n][label]['median']:6.1f} / "
                     f"{results[kind][n][label]['p95']:6.1f}" for n in sizes]
            ratio = results[kind][sizes[-1]][label]["p95"] / smallest[label]["p95"]
            print(f"  {label:8} " + "   ".join(f"{n:>7}: {c}" for n, c in
                                               zip(sizes, cells, strict=True))
                  + f"   ratio {ratio:.2f}")
    save_results("worklist", {"sizes": sizes, "repeats": args.repeats, "ms": results})


if __name__ == "__main__":
    main()
