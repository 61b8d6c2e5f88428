"""`tiltak demo`, `tiltak serve` and `tiltak worker`: the product running, with the demo's
users and cases or the hospital's own."""

from __future__ import annotations

import argparse
import logging
import os
from typing import TYPE_CHECKING

from engine.definitions import collect_files
from engine.errors import TiltakError
from engine.queries import health
from engine.runtime import Engine
from installation import demo_cases, logs, services

from .rendering import print_tasks

if TYPE_CHECKING:
    from engine.timers import Scheduler

log = logging.getLogger("tiltak.worker")


def add_commands(command) -> None:
    """The commands, on the parser's `command(name, handler, help)`."""
    p = command("demo", cmd_demo, "set up the demo: database, processes, users and four "
                "weeks of cases; "
                "print the worklist")
    p.add_argument("--serve", action="store_true", help="then start the web UI")
    _serve_options(p)
    p = command("serve", cmd_serve, "the web UI in gunicorn, and a scheduler "
                "beside it unless TILTAK_SCHEDULER=0")
    _serve_options(p)
    p = command("worker", cmd_worker, "the scheduler only: fires timers, sends mail, "
                "posts webhooks")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between sweeps")
    p.add_argument("--parent", type=int, metavar="PID",
                   help="stop when process PID is no longer this worker's parent "
                   "(`tiltak serve` starts its worker so, to take it along when it dies)")


def cmd_demo(engine: Engine, args) -> None:
    engine.db.create_schema()
    results = engine.repository.deploy(collect_files([str(services.PROCESSES)]), actor="system")
    users = services.load_demo_users(engine)
    print(f"Database: {engine.db.engine.url.render_as_string(hide_password=True)}")
    cases = demo_cases.load(engine)
    print("Deployed: " + ", ".join(f"{r.key} v{r.version}" for r in results
                                   if r.kind == "process"))
    print(f"\nDemo users (password for all: {users[0]['password']}):")
    for user in users:
        print(f"  {user['name']:8} {user['display_name']}  [{', '.join(user['groups'])}]")
    print(f"\nDemo cases: {cases.loaded} made over the last {demo_cases.DAYS} days "
          f"({cases.completed_tasks} tasks done, {cases.timers_fired} timers fired)")
    if cases.skipped:
        print(f"  {cases.skipped} were already there and are left as they are: "
              "running the demo again adds no case twice")
    for problem in cases.stuck:
        print(f"  left early: {problem}")
    print("\nOpen tasks:")
    print_tasks(engine.tasks.find())
    if args.serve:
        cmd_serve(engine, args)
        return
    print("\nGo on, for example:\n"
          "  tiltak serve                      (the web UI on http://127.0.0.1:5000)\n"
          "  tiltak start hendelsesanalyse-oppfolging --as frida --data @- "
          "(see README for a full walk)\n"
          "  tiltak tasks --as sigrid")


def _serve_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.add_argument("--workers", type=int, default=None,
                   help="web server processes (default: two per core, 2 to 8)")
    p.add_argument("--dev", action="store_true",
                   help="Flask's development server in one process, for development only")


def _ready(engine: Engine) -> None:
    """A server or scheduler starts only on a database it can serve: reachable, with its
    schema at the newest migration."""
    reason = health.not_ready(engine.db)
    if reason is not None:
        raise TiltakError(reason)


def cmd_serve(engine: Engine, args) -> None:
    _ready(engine)
    print(f"\nTiltak answers on http://{args.host}:{args.port}/  (Ctrl+C stops it)", flush=True)
    embedded = services.embedded_scheduler()
    if not args.dev:
        from .server import default_workers, serve

        engine.db.dispose()  # the server's workers connect on their own
        serve(args.host, args.port, args.workers or default_workers(), scheduler=embedded)
        return
    from webui import create_app

    logs.configure()
    app = create_app(engine=engine)
    scheduler = services.scheduler(engine) if embedded else None
    if scheduler is not None:
        scheduler.start()
    try:
        app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.stop()


def cmd_worker(engine: Engine, args) -> None:
    logs.configure()
    _ready(engine)
    # a log line, so that it comes in the format the other lines come in (JSON or text)
    log.info("worker: sweeping timers every %g s (Ctrl+C stops it)", args.interval)
    jobs = [] if args.parent is None else [("parent", lambda: _follow(args.parent, scheduler),
                                            PARENT_INTERVAL)]
    scheduler = services.scheduler(engine, interval=args.interval, blocking=True, jobs=jobs)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass


PARENT_INTERVAL = 1.0  # seconds between looks at whether the server is still there


def _follow(parent: int, scheduler: Scheduler) -> None:
    """Stop the worker once its server is gone, however it ended (a SIGKILL gives the server
    no chance to stop it): the worker is then the child of another process. A sweep that
    is running finishes first."""
    if os.getppid() != parent:
        log.warning("worker: the server that started it (process %d) is gone; stopping",
                    parent)
        scheduler.stop(wait=False)

