"""Prometheus metrics with prometheus_client: the engine's commands counted and timed as
they run, and the running figures (tasks, timers, incidents, mail) counted from the
database when /metrics is read.

`tiltak serve` runs several web worker processes and a scheduler beside them; each
counts its own commands. So that a scrape, whichever worker answers it, sees the sum,
they share one directory through prometheus_client's multiprocess mode
(`share_between_processes`, called before any of them starts). The figures come from
the database at scrape time, so they are the same from every worker and include what
`tiltak worker`s on other machines did.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

from engine.queries import health
from engine.runtime import Engine

SHARED = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own setting
STATUSES = ("running", "completed", "cancelled", "error")

_instruments: tuple[Any, Any] | None = None
_made = threading.Lock()


def share_between_processes() -> str:
    """Let this process and those it starts count into one fresh directory, unless the
    environment names one already. Must run before prometheus_client is first imported
    (it reads the setting then); prometheus_client is imported lazily here for that."""
    if os.environ.get(SHARED):
        return os.environ[SHARED]
    directory = tempfile.mkdtemp(prefix="tiltak-metrics-")
    os.environ[SHARED] = directory
    owner = os.getpid()

    def remove() -> None:  # by the process that made it, not by a forked worker
        if os.getpid() == owner:
            shutil.rmtree(directory, ignore_errors=True)
    atexit.register(remove)
    return directory


def process_ended(pid: int) -> None:
    """A worker process ended (gunicorn's child_exit): forget its live gauges."""
    if os.environ.get(SHARED):
        from prometheus_client import multiprocess
        multiprocess.mark_process_dead(pid)


def _commands() -> tuple[Any, Any]:
    global _instruments
    with _made:
        if _instruments is None:
            from prometheus_client import Counter, Histogram
            _instruments = (
                Counter("tiltak_commands", "Engine commands run, by command and outcome "
                        "(ok, or the error they ended with)", ["command", "outcome"],
                        registry=None),
                Histogram("tiltak_command_seconds", "How long engine commands took",
                          ["command"], registry=None))
        return _instruments


# each (command, outcome)'s two series, found once: prometheus_client looks a label's
# series up under a lock, and every command is observed
_series: dict[tuple[str, str], tuple[Any, Any]] = {}


def observe(name: str, seconds: float, outcome: str) -> None:
    """The engine's CommandObserver."""
    series = _series.get((name, outcome))
    if series is None:
        counted, timed = _commands()
        series = _series[name, outcome] = (counted.labels(name, outcome), timed.labels(name))
    series[0].inc()
    series[1].observe(seconds)


class CaseFigures:
    """A collector that counts the running figures in the database when scraped."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        now = self.engine.clock.now()
        found = health.figures(self.engine.db, now)
        for name, text, value in (
                ("tiltak_open_tasks", "Open human tasks", found.open_tasks),
                ("tiltak_overdue_tasks", "Open human tasks past their due date",
                 found.overdue_tasks),
                ("tiltak_timers_due", "Timers (in cases and timer start events) whose time "
                 "has come and that have not fired yet", found.timers_due),
                ("tiltak_timers_late", "Timers due for more than "
                 f"{int(health.LATE_AFTER.total_seconds())} s and not fired: is a scheduler "
                 "running?", found.timers_late),
                ("tiltak_incidents", "Cases stopped by an incident (a failed timer or "
                 "script), waiting for a retry", found.incidents),
                ("tiltak_mail_waiting", "E-mails waiting in the outbox to be sent",
                 found.mail_waiting),
                ("tiltak_webhooks_waiting", "Webhook deliveries waiting in the outbox "
                 "(to be sent or retried)", found.webhooks_waiting)):
            yield GaugeMetricFamily(name, text, value=value)
        cases = GaugeMetricFamily("tiltak_instances", "Process instances by status",
                                  labels=["status"])
        for status in sorted(set(STATUSES) | set(found.instances)):
            cases.add_metric([status], found.instances.get(status, 0))
        yield cases


def exposition(engine: Engine) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        generate_latest,
        multiprocess,
    )

    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(SHARED):
        multiprocess.MultiProcessCollector(registry)
    else:
        for instrument in _commands():
            registry.register(instrument)
    registry.register(CaseFigures(engine))
    return generate_latest(registry), CONTENT_TYPE_LATEST
