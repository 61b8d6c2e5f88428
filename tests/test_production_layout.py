"""The layout docs/OPERATIONS.md describes, run as written: PostgreSQL, two `tiltak serve`
(two web workers each, no scheduler of their own) and two `tiltak worker`s, behind
nginx. Cases started through the proxy each have their timer fired exactly once, by one
of the two workers; readiness and metrics answer through the proxy. PostgreSQL only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from walks import FIXTURES

# the integration starts it; its timer is due three seconds later
TIMER_PROCESS = (FIXTURES / "kort-timer.bpmn").read_text(encoding="utf-8").replace(
    'isExecutable="true"', 'isExecutable="true" camunda:candidateStarterGroups="integrasjon"')

NGINX_CONF = """daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream tiltak {{
        server 127.0.0.1:{web1};
        server 127.0.0.1:{web2};
    }}
    server {{
        listen 127.0.0.1:{proxy};
        location / {{
            proxy_pass http://tiltak;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-ID $request_id;
        }}
    }}
}}
"""


def nginx() -> str:
    """Debian's nginx, installed as .ci/run does when it is missing."""
    found = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "nginx-light"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       capture_output=True, timeout=600)
        found = shutil.which("nginx") or "/usr/sbin/nginx"
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check, seconds: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"not within {seconds:g} s: {what}")


def test_two_servers_and_two_workers_behind_nginx_fire_each_timer_once(postgres_url,
                                                                       tmp_path):
    env = {**os.environ, "TILTAK_DATABASE_URL": postgres_url, "TILTAK_SCHEDULER": "0",
           "TILTAK_SECRET_KEY": "the-same-key-on-every-machine",
           "TILTAK_METRICS_TOKEN": "scraper-token", "TILTAK_LOG_FORMAT": "json"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)

    def tiltak(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "tiltak.cli", *args], env=env,
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout
    tiltak("init")
    (tmp_path / "kort-timer.bpmn").write_text(TIMER_PROCESS, encoding="utf-8")
    tiltak("deploy", str(tmp_path / "kort-timer.bpmn"))
    tiltak("users", "add", "kvalitetsportalen", "--groups", "integrasjon")
    token = tiltak("token", "create", "kvalitetsportalen", "--scope", "start,read",
                   "--process", "kort-timer").strip()

    web1, web2, proxy = free_port(), free_port(), free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "nginx.conf").write_text(NGINX_CONF.format(prefix=prefix, web1=web1, web2=web2,
                                                         proxy=proxy))
    started: list[subprocess.Popen] = []

    def run(*args: str, name: str, env_=env) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")
        process = subprocess.Popen(list(args), env=env_, cwd=tmp_path, stdout=log,
                                   stderr=subprocess.STDOUT)
        log.close()
        started.append(process)
        return process

    base = f"http://127.0.0.1:{proxy}"

    def call(path: str, body: dict | None = None, auth: str = token) -> dict:
        sent = urllib.request.Request(
            base + path, method="POST" if body is not None else "GET",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {auth}", "Content-Type": "application/json"})
        with urllib.request.urlopen(sent, timeout=30) as answer:
            text = answer.read().decode()
            return json.loads(text) if text.startswith(("{", "[")) else {"text": text}
    try:
        for name, port in (("web1", web1), ("web2", web2)):
            run(sys.executable, "-m", "tiltak.cli", "serve", "--port", str(port),
                "--workers", "2", name=name)
        for name in ("worker1", "worker2"):
            run(sys.executable, "-m", "tiltak.cli", "worker", "--interval", "0.5", name=name)
        run(nginx(), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e",
            str(prefix / "error.log"), name="nginx", env_=os.environ)
        for port in (web1, web2):
            wait_until(lambda port=port: urllib.request.urlopen(
                f"http://127.0.0.1:{port}/ready", timeout=2).status == 200, what="ready")
        wait_until(lambda: urllib.request.urlopen(base + "/ready", timeout=2).status == 200,
                   what="the proxy")
        assert call("/ready") == {"status": "ready"}

        cases = [call("/api/processes/kort-timer/instances", {"business_key": f"T-{n}"})["id"]
                 for n in range(6)]

        def all_completed() -> bool:
            return all(call(f"/api/instances/{c}")["status"] == "completed" for c in cases)
        wait_until(all_completed, 90, "every timer fired")
        time.sleep(2)  # let both workers sweep again: nothing more may fire
        for case in cases:
            history = call(f"/api/instances/{case}/history")
            assert [e["type"] for e in history] == ["start", "timer"], history

        metrics = call("/metrics", auth="scraper-token")["text"]
        assert 'tiltak_instances{status="completed"} 6.0' in metrics
        assert "tiltak_webhooks_waiting 0.0" in metrics
        for name in ("worker1", "worker2"):
            assert "Traceback" not in (tmp_path / f"{name}.log").read_text()
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM if process.args[0] != nginx() else signal.SIGQUIT)
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    access = (prefix / "access.log").read_text()
    assert access.count("POST /api/processes/kort-timer/instances") == 6
    # both servers answered through the proxy
    served = [sum(1 for line in (tmp_path / f"{name}.log").read_text().splitlines()
                  if '"path": "/api/' in line) for name in ("web1", "web2")]
    assert all(served), served
