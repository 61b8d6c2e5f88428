"""`tiltak serve`: the web UI in a production WSGI server (gunicorn, several worker
processes), with the timer scheduler beside it as its own `tiltak worker` process when
the embedded default asks for it. Flask's development server only when asked for.

Each worker process serves one connection at a time, and closes it after the response:
a worker that is busy takes no new connection, so the next one goes to a free worker.
Requests are mostly CPU (the engine's commands), and Python runs one thread of a process
at a time: with several threads per worker, the clients whose kept-alive connections a
worker happened to take shared one core between them while other workers idled (four
clients on one worker of four: half the throughput, twice the p95). A connection per
worker keeps every request in a process of its own, as the cores allow. A gthread
worker with one thread (not a sync worker): its main thread keeps reporting to gunicorn
while a long response (an audit export) streams, so no timeout ends it.
"""

from __future__ import annotations

import os
import subprocess
import sys

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from engine.database import database_url


def default_workers() -> int:
    """Two per available core, at least two and at most eight."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform
        cores = os.cpu_count() or 1
    return max(2, min(8, 2 * cores))


class ServerLog(Logger):
    """Gunicorn's own messages go through the installation's log handler (its format,
    installation/logs.py); each request is logged by the application, with its id
    (webui/request_ids.py), so gunicorn's access log is off."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


class WebServer(BaseApplication):
    """Gunicorn with the Flask application made in each worker (after the fork), so no
    database connection is shared between processes."""

    def __init__(self, url: str, options: dict):
        self.url, self.options = url, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if "control_socket_disable" in self.cfg.settings:
            # newer gunicorns open a control socket at one path per user: two servers on
            # a machine (or one starting while another stops) would share it
            self.cfg.set("control_socket_disable", True)

    def load(self):
        from installation import services
        from webui import create_app
        return create_app(engine=services.build_engine(self.url))


def _worker_ended(_arbiter, worker) -> None:
    from installation import metrics
    metrics.process_ended(worker.pid)


def serve(host: str, port: int, workers: int, *, scheduler: bool) -> None:
    from installation import logs
    from webui.settings import secret_key

    logs.configure()  # the workers are forked with it
    secret_key()  # one key for every worker, made before they start
    timers = subprocess.Popen([sys.executable, "-m", "tiltak.cli", "worker",
                               "--parent", str(os.getpid())]) \
        if scheduler else None
    try:
        WebServer(database_url(), {
            "bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
            "threads": 1, "worker_connections": 1, "keepalive": 0,
            "accesslog": None, "logger_class": ServerLog, "timeout": 60,
            "graceful_timeout": 10, "child_exit": _worker_ended,
        }).run()
    finally:
        if timers is not None:
            timers.terminate()
            timers.wait(timeout=10)
