"""Benchmark: completing tasks over HTTP, several clients at once, production server.

Starts `tiltak serve` (gunicorn, its default workers) on a fresh database, opens N
instances of a one-task process, then C clients, each signed in with its own session,
complete them through `POST /api/tasks/ID/complete` as fast as the server answers.
Prints the latency median and p95 and the throughput; the baseline, in the same run
on the same database, is the same completion called in-process through the engine
(no HTTP, no server), so the ratio shows what the web layer adds. On SQLite and (with
`--postgres URL`) PostgreSQL. Saves JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from databases import database, p95, run_on, save_results  # noqa: E402

from engine.clock import SystemClock  # noqa: E402
from engine.identity.users import add_user  # noqa: E402
from installation import services  # noqa: E402

PROCESS = HERE / "processes" / "enkel-oppgave.bpmn"
PASSWORD = "bench-passord"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """One signed-in browser session over one keep-alive connection."""

    def __init__(self, port: int, user: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.cookies: dict[str, str] = {}
        page = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', page).group(1).decode()
        body = urllib.parse.urlencode({"csrf_token": token, "username": user,
                                       "password": PASSWORD})
        self.request("POST", "/login", body.encode(),
                     {"Content-Type": "application/x-www-form-urlencoded"})

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> bytes:
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        self.conn.request(method, path, body, headers)
        response = self.conn.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}: {response.status} {data[:200]!r}")
        return data

    def complete(self, task_id: str) -> None:
        self.request("POST", f"/api/tasks/{task_id}/complete",
                     json.dumps({"data": {"kommentar": "ok"}}).encode(),
                     {"Content-Type": "application/json"})


def prepare(url: str, instances: int, clients: int) -> tuple[object, list[str]]:
    engine = services.build_engine(url, clock=SystemClock())
    engine.db.create_schema()
    with engine.db.transaction() as session:
        for i in range(clients):
            add_user(session, f"bench{i}", ["bench"], password=PASSWORD)
    engine.repository.deploy({PROCESS.name: PROCESS.read_bytes()}, actor="bench0")
    task_ids = []
    for _ in range(instances):
        row = engine.runtime.start("enkel-oppgave", actor="bench0")
        task_ids.append(engine.tasks.find(instance_id=row.id)[0].id)
    return engine, task_ids


def in_process(engine, task_ids: list[str]) -> list[float]:
    times = []
    for task_id in task_ids:
        started = time.perf_counter()
        engine.tasks.complete(task_id, actor="bench0", data={"kommentar": "ok"})
        times.append((time.perf_counter() - started) * 1000)
    return times


def over_http(url: str, workdir: Path, task_ids: list[str], clients: int) -> tuple:
    port = free_port()
    env = {**os.environ, "TILTAK_DATABASE_URL": url, "TILTAK_INSTANCE": str(workdir / "i"),
           "TILTAK_SECRET_KEY": "bench"}
    server = subprocess.Popen([str(Path(sys.executable).parent / "tiltak"), "serve",
                               "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        sessions = [Client(port, f"bench{i}") for i in range(clients)]
        for client in sessions:  # each worker process warm
            client.request("GET", "/api/tasks?page=1")
        shares = [task_ids[i::clients] for i in range(clients)]
        times: list[list[float]] = [[] for _ in range(clients)]

        def run(i: int) -> None:
            for task_id in shares[i]:
                started = time.perf_counter()
                sessions[i].complete(task_id)
                times[i].append((time.perf_counter() - started) * 1000)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return [x for share in times for x in share], len(task_ids) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=400, help="tasks completed over HTTP")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--postgres", metavar="URL", help="also measure on PostgreSQL")
    args = parser.parse_args()
    kinds = run_on(args.postgres)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            with database(kind, Path(tmp), args.postgres) as url:
                engine, task_ids = prepare(url, args.n + 100, args.clients)
                baseline = in_process(engine, task_ids[:100])
                engine.db.dispose()
                http_times, rate = over_http(url, Path(tmp), task_ids[100:], args.clients)
            results[kind] = {
                "clients": args.clients, "completions": len(http_times),
                "http_ms": {"median": round(statistics.median(http_times), 2),
                            "p95": round(p95(http_times), 2)},
                "http_per_s": round(rate, 1),
                "in_process_ms": {"median": round(statistics.median(baseline), 2),
                                  "p95": round(p95(baseline), 2)},
            }
            shown = results[kind]
            print(f"{kind}: over HTTP with {args.clients} clients median "
                  f"{shown['http_ms']['median']} ms, p95 {shown['http_ms']['p95']} ms "
                  f"(target p95 <= 25 ms), {shown['http_per_s']}/s; in-process one at a "
                  f"time median {shown['in_process_ms']['median']} ms, p95 "
                  f"{shown['in_process_ms']['p95']} ms; p95 ratio "
                  f"{shown['http_ms']['p95'] / shown['in_process_ms']['p95']:.2f}")
    save_results("http_completion", results)


if __name__ == "__main__":
    main()
