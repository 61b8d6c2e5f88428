"""Running it: /health and /ready, Prometheus metrics that follow a case as it runs (also
summed over the server's worker processes), and request ids on the answers and in the
logs (text and JSON lines), on SQLite and PostgreSQL."""

from __future__ import annotations

import http.client
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

import pytest
from local_servers import children, free_port, serve
from prometheus_client.parser import text_string_to_metric_families

from engine.database import Database
from engine.definitions import collect_files
from engine.errors import PermissionDenied
from installation import logs, services
from webui import create_app

from walks import FIXTURES


def figures(client, **kwargs) -> dict[tuple[str, tuple], float]:
    """The scraped samples, by name and labels."""
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.content_type.startswith("text/plain; version=")
    return samples(response.get_data(as_text=True))


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def commands(found, name: str, outcome: str = "ok") -> float:
    return found.get(("tiltak_commands_total", (("command", name), ("outcome", outcome))), 0)


def timed(found, name: str) -> float:
    return found.get(("tiltak_command_seconds_count", (("command", name),)), 0)


@pytest.fixture
def app(engine, tmp_path):
    engine.repository.deploy(collect_files([str(FIXTURES / "timerformer.bpmn"),
                                            str(FIXTURES / "kvalitetsportal.bpmn")]), actor="per")
    return create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=engine)


def test_health_answers_without_a_database_and_ready_checks_schema(database_url, tmp_path):
    eng = services.build_engine(database_url)
    client = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=eng).test_client()
    response = client.get("/health")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    response = client.get("/ready")
    assert response.status_code == 503
    assert "no schema yet" in response.json["reason"]
    eng.db.create_schema()
    response = client.get("/ready")
    assert response.status_code == 200 and response.json == {"status": "ready"}
    with eng.db.engine.begin() as connection:  # a schema one migration behind
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    response = client.get("/ready")
    assert response.status_code == 503
    assert "at migration 0001" in response.json["reason"]
    assert "tiltak init" in response.json["reason"]
    eng.db.dispose()


def test_ready_says_when_the_database_cannot_be_reached(tmp_path):
    port = free_port()  # a port nothing listens on
    eng = services.build_engine(f"postgresql://nobody@127.0.0.1:{port}/none")
    client = create_app({"INSTANCE_PATH": str(tmp_path / "instance")}, engine=eng).test_client()
    assert client.get("/health").status_code == 200
    response = client.get("/ready")
    assert response.status_code == 503
    assert response.json["reason"].startswith("the database cannot be reached")


def test_metrics_follow_a_case_as_it_runs(app, engine, clock):
    client = app.test_client()
    before = figures(client)
    assert before[("tiltak_open_tasks", ())] == 0
    assert before[("tiltak_instances", (("status", "running"),))] == 0

    case = engine.runtime.start("kvalitetsportal", actor="system", data={"tittel": "Fall"},
                                business_key="KP-1")
    after_start = figures(client)
    assert commands(after_start, "start") == commands(before, "start") + 1
    assert timed(after_start, "start") == timed(before, "start") + 1
    assert after_start[("tiltak_instances", (("status", "running"),))] == 1
    assert after_start[("tiltak_open_tasks", ())] == 0  # it waits for the message

    engine.runtime.message("hendelse-bekreftet", business_key="KP-1")
    waiting = figures(client)
    assert commands(waiting, "message") == commands(before, "message") + 1
    assert waiting[("tiltak_open_tasks", ())] == 1

    [task] = engine.tasks.find(instance_id=case.id)
    with pytest.raises(PermissionDenied):  # ola may not: counted, with the error's name
        engine.tasks.complete(task.id, actor="ola")
    engine.tasks.complete(task.id, actor="frida")
    done = figures(client)
    assert commands(done, "complete") == commands(before, "complete") + 1
    assert commands(done, "complete", "PermissionDenied") == \
        commands(before, "complete", "PermissionDenied") + 1
    assert done[("tiltak_open_tasks", ())] == 0
    assert done[("tiltak_instances", (("status", "completed"),))] == 1
    assert done[("tiltak_instances", (("status", "running"),))] == 0

    # a timer due at 08:00 on 6 January: due once that has passed, late a minute on,
    # gone once a sweep fires it
    engine.runtime.start("timerformer", actor="frida", data={"frist": "PT2H", "purringer": 0})
    clock.set(datetime(2026, 1, 6, 8, 0, 30, tzinfo=UTC))
    due = figures(client)
    assert due[("tiltak_timers_due", ())] == 1 and due[("tiltak_timers_late", ())] == 0
    clock.set(datetime(2026, 1, 6, 8, 5, tzinfo=UTC))
    late = figures(client)
    assert late[("tiltak_timers_due", ())] == 1 and late[("tiltak_timers_late", ())] == 1
    engine.runtime.fire_due_timers()
    fired = figures(client)
    assert fired[("tiltak_timers_due", ())] == 0 and fired[("tiltak_timers_late", ())] == 0
    assert commands(fired, "fire_timers") == commands(before, "fire_timers") + 1
    assert fired[("tiltak_open_tasks", ())] == 1  # Behandle, due in two hours
    assert fired[("tiltak_overdue_tasks", ())] == 0
    assert fired[("tiltak_incidents", ())] == 0


def test_a_timer_fired_in_a_sweep_is_counted_once_it_can_be_seen(engine, clock):
    """The metrics hear of each timer a sweep fired once the sweep's transaction has
    committed: a scrape in between counted a firing whose task it could not yet see."""
    engine.repository.deploy(collect_files([str(FIXTURES / "timerformer.bpmn")]), actor="per")
    case = engine.runtime.start("timerformer", actor="frida",
                                data={"frist": "PT2H", "purringer": 0})
    seen = []
    told = engine.core.observe

    def observe(name: str, seconds: float, outcome: str) -> None:
        if name == "fire_timers":  # what a scrape would find in the database now
            seen.append((outcome, len(engine.tasks.find(instance_id=case.id))))
        told(name, seconds, outcome)
    engine.core.observe = observe
    clock.set(datetime(2026, 1, 6, 8, 5, tzinfo=UTC))
    assert engine.runtime.fire_due_timers() == (1, 1)
    assert seen == [("ok", 1)]


def test_metrics_are_for_this_machine_or_a_bearer_of_the_metrics_token(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 200  # loopback
    elsewhere = client.get("/metrics", environ_base={"REMOTE_ADDR": "10.20.30.40"})
    assert elsewhere.status_code == 403
    assert "TILTAK_METRICS_TOKEN" in elsewhere.get_data(as_text=True)
    # a reverse proxy on this machine: loopback, but it says whom it forwarded
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.20.30.40"}).status_code \
        == 403
    assert client.get("/metrics", headers={"Forwarded": "for=10.20.30.40"}).status_code == 403

    app.config["METRICS_TOKEN"] = "s3cret-for-prometheus"
    refused = client.get("/metrics")
    assert refused.status_code == 401  # loopback no longer enough once a token is set
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    figures(client, headers={"Authorization": "Bearer s3cret-for-prometheus"},
            environ_base={"REMOTE_ADDR": "10.20.30.40"})


def test_each_request_has_an_id_in_its_answer_and_on_its_log_lines(app):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonLines())
    handler.addFilter(logs.RequestId())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        client = app.test_client()
        given = client.get("/health", headers={"X-Request-ID": "kp-2026.42:a_b"})
        assert given.headers["X-Request-ID"] == "kp-2026.42:a_b"
        forged = client.get("/login", headers={"X-Request-ID": "x\" level=ERROR"})
        made = forged.headers["X-Request-ID"]
        assert len(made) == 32 and made != "x"
        long = client.get("/health", headers={"X-Request-ID": "a" * 129})
        assert len(long.headers["X-Request-ID"]) == 32
        logging.getLogger("tiltak.test").info("outside any request")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["logger"] == "tiltak.requests"]
    assert [(r["path"], r["status"], r["request_id"]) for r in requests] == [
        ("/health", 200, "kp-2026.42:a_b"), ("/login", 200, made),
        ("/health", 200, long.headers["X-Request-ID"])]
    assert all(r["method"] == "GET" and r["duration_ms"] >= 0 for r in requests)
    [outside] = [line for line in lines if line["logger"] == "tiltak.test"]
    assert "request_id" not in outside
    assert outside["message"] == "outside any request" and outside["level"] == "INFO"


def test_a_bad_log_format_is_refused_by_name(tmp_path, sqlite_url):
    result = subprocess.run([sys.executable, "-m", "tiltak.cli", "worker"],
                            env={**os.environ, "TILTAK_DATABASE_URL": sqlite_url,
                                 "TILTAK_LOG_FORMAT": "xml"},
                            capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "TILTAK_LOG_FORMAT is 'xml': it must be one of text, json" in result.stderr


def test_the_server_sums_its_workers_metrics_and_logs_json_lines(database_url, tmp_path):
    """`tiltak serve` with two web workers and, with nothing more said, the scheduler:
    however the requests are spread, each scrape counts every start, and the timer the
    scheduler fired; every log line is JSON, a request's with its id."""
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url, "TILTAK_LOG_FORMAT": "json"}
    for setting in ("PROMETHEUS_MULTIPROC_DIR", "TILTAK_SCHEDULER"):
        env.pop(setting, None)

    def tiltak(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                                capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout
    tiltak("init")
    tiltak("deploy", str(FIXTURES / "kvalitetsportal.bpmn"), str(FIXTURES / "kort-timer.bpmn"))
    tiltak("users", "add", "kvalitetsportalen", "--groups", "integrasjon")
    secret = tiltak("token", "create", "kvalitetsportalen", "--scope", "start,read",
                    "--process", "kvalitetsportal").strip()
    server, port = serve(env, tmp_path, workers=2)  # both web workers up: requests spread
    base = f"http://127.0.0.1:{port}"

    def call(path: str, body: dict | None = None, request_id: str | None = None):
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        if request_id:
            headers["X-Request-ID"] = request_id
        sent = urllib.request.Request(base + path, headers=headers, method="POST" if body
                                      else "GET",
                                      data=json.dumps(body).encode() if body else None)
        with urllib.request.urlopen(sent, timeout=30) as answer:
            return answer.headers, answer.read()
    try:
        processes = " ".join(children(server.pid).values())
        for n in range(6):
            headers, _ = call("/api/processes/kvalitetsportal/instances",
                              {"business_key": f"KP-{n}", "data": {"tittel": f"Avvik {n}"}},
                              request_id=f"kp-start-{n}")
            assert headers["X-Request-ID"] == f"kp-start-{n}"
        for _ in range(8):
            _, body = call("/metrics")
            found = samples(body.decode())
            assert commands(found, "start") == 6
            assert found[("tiltak_instances", (("status", "running"),))] == 6
        assert "tiltak.cli worker" in processes  # the scheduler, started by serve
        tiltak("start", "kort-timer", "--as", "system")  # due in three seconds
        for _ in range(150):
            found = samples(call("/metrics")[1].decode())
            if commands(found, "fire_timers"):
                break
            time.sleep(0.2)
        assert commands(found, "fire_timers") == 1  # counted by the scheduler's process
        assert found[("tiltak_instances", (("status", "completed"),))] == 1
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    lines = [line for line in output.splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert any("Booting worker" in e["message"] for e in entries)
    # the scheduler's process says it started in the same format
    assert any(e["logger"] == "tiltak.worker" and "sweeping timers" in e["message"]
               for e in entries)
    starts = [e for e in entries if e.get("path") == "/api/processes/kvalitetsportal/instances"]
    assert sorted(e["request_id"] for e in starts) == [f"kp-start-{n}" for n in range(6)]
    assert all(e["user"] == "kvalitetsportalen" and e["status"] == 201 for e in starts)
    assert "Traceback" not in output


def test_a_busy_web_worker_takes_no_second_connection(database_url, tmp_path):
    """Each request gets a web worker of its own while there are workers: one that is
    busy with a connection (here, a request still arriving) takes no other, so every
    request meanwhile goes to the other worker, whose every answer closes its connection
    (a client kept on a busy worker would share its one core with the request there)."""
    env = {**os.environ, "TILTAK_DATABASE_URL": database_url, "TILTAK_LOG_FORMAT": "json",
           "TILTAK_SCHEDULER": "0"}
    subprocess.run([sys.executable, "-m", "tiltak.cli", "init"], env=env, cwd=tmp_path,
                   check=True, capture_output=True, timeout=120)
    server, port = serve(env, tmp_path, workers=2)
    try:
        arriving = socket.create_connection(("127.0.0.1", port), timeout=10)
        arriving.sendall(b"GET /ready HTTP/1.1\r\nHost: tiltak\r\nX-Request-ID: arriving\r\n")
        time.sleep(0.5)  # a worker has taken it and waits for the rest
        for n in range(8):
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            client.request("GET", "/health", headers={"X-Request-ID": f"meanwhile-{n}"})
            answer = client.getresponse()
            answer.read()
            assert answer.status == 200 and answer.getheader("Connection") == "close"
            client.close()
        arriving.sendall(b"\r\n")
        assert arriving.recv(64).startswith(b"HTTP/1.1 ")
        arriving.close()
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    served_by = {e["request_id"]: e["pid"] for e in entries if "path" in e}
    assert "arriving" in served_by, output
    meanwhile = {served_by[f"meanwhile-{n}"] for n in range(8)}
    assert served_by["arriving"] not in meanwhile and len(meanwhile) == 1


def test_the_database_reports_its_newest_migration(database_url):
    db = Database(database_url)
    db.create_schema()
    from engine.queries import health
    assert db.schema_revision() == health.newest_revision()
    assert health.not_ready(db) is None
    db.dispose()
