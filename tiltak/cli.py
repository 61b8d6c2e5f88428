"""The `tiltak` command line: the operator's tool on the server (see ARCHITECTURE.md).

It needs no password; `--as` names the user on whose behalf a command runs, and that
user's permissions apply. Errors go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from engine import limits
from engine.definitions import collect_files
from engine.errors import InvalidInput, TiltakError
from engine.history import export
from engine.identity import tokens as tokens_module
from engine.identity.users import add_user
from engine.queries import search
from engine.runtime import Engine
from engine.serialization import data_from_json, plain
from installation import logs, metrics, services
from installation.shapes import task_json

from .backup import add_commands as add_backup_commands
from .migrating import add_commands as add_migration_commands
from .rendering import print_history, print_instance, print_tasks
from .webhook_commands import add_commands as add_webhook_commands


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `tiltak tasks --json | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _parser().parse_args(argv)
    if args.command == "serve" or (args.command == "demo" and args.serve):
        # before any command is counted: the web workers and the scheduler this starts
        # count their commands together (installation/metrics.py)
        metrics.share_between_processes()
    try:
        engine = services.build_engine()
        return args.handler(engine, args) or 0
    except TiltakError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except json.JSONDecodeError as err:
        print(f"error: --data is not valid JSON: {err.msg} at column {err.colno}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tiltak", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(handler=handler)
        return p

    command("init", cmd_init, "create or upgrade the database")
    p = command("deploy", cmd_deploy, "deploy BPMN/DMN/.form files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--tenant", default="", help="deploy as the variant of one clinic (tenant)")
    p.add_argument("--as", dest="actor", default="system")
    p.add_argument("--json", action="store_true")

    p = command("lint", cmd_lint, "report every problem of BPMN/DMN/.form files or folders, "
                "by element, without deploying them")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--tenant", default="", help="check against the forms and decisions "
                   "deployed for one clinic (tenant)")
    p.add_argument("--json", action="store_true",
                   help="per file: errors and warnings (message, line, element)")

    users = command("users", None, "manage users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    p = users_sub.add_parser("add", help="create a user or update their groups")
    p.set_defaults(handler=cmd_users_add)
    p.add_argument("name")
    p.add_argument("--groups", default="")
    p.add_argument("--display-name", default="")
    p.add_argument("--email")
    p.add_argument("--password-stdin", action="store_true")
    p = users_sub.add_parser("end-sessions", help="sign the user out everywhere, now")
    p.set_defaults(handler=cmd_users_end_sessions)
    p.add_argument("name")
    for verb, help_text in (("disable", "refuse the user's sign-in and end their sessions"),
                            ("enable", "let a disabled user sign in again")):
        p = users_sub.add_parser(verb, help=help_text)
        p.set_defaults(handler=cmd_users_active, active=verb == "enable")
        p.add_argument("name")

    tokens = command("token", None, "API tokens for integrations (shown once, kept hashed)")
    tokens_sub = tokens.add_subparsers(dest="token_command", required=True)
    p = tokens_sub.add_parser("create", help="make a token and print it (once)")
    p.set_defaults(handler=cmd_token_create)
    p.add_argument("name", help="the integration, e.g. kvalitetsportalen")
    p.add_argument("--as", dest="actor", help="the user the token acts for, whose "
                   "permissions apply (default: the user named NAME)")
    p.add_argument("--scope", required=True, metavar="SCOPE,...",
                   help="what it may do: " + "; ".join(f"{k}: {v}"
                                                       for k, v in tokens_module.SCOPES.items()))
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--process", nargs="+", action="extend", metavar="KEY",
                       help="the processes it may act on")
    which.add_argument("--all-processes", action="store_true",
                       help="every process, also those deployed later")
    p = tokens_sub.add_parser("list", help="the tokens, without their secrets")
    p.set_defaults(handler=cmd_token_list)
    p.add_argument("--json", action="store_true")
    p = tokens_sub.add_parser("revoke", help="refuse the token from now on")
    p.set_defaults(handler=cmd_token_revoke)
    p.add_argument("name")

    p = command("start", cmd_start, "start a process instance")
    p.add_argument("process_key")
    p.add_argument("--as", dest="actor", required=True)
    p.add_argument("--data", default="{}", help="JSON object, @FILE or @- for stdin")
    p.add_argument("--business-key")
    p.add_argument("--tenant", default="")
    p.add_argument("--id", action="store_true", help="print only the new instance's id")

    p = command("tasks", cmd_tasks, "open tasks USER may work on (all without --as)")
    p.add_argument("--as", dest="actor")
    p.add_argument("--instance")
    shown = p.add_mutually_exclusive_group()
    shown.add_argument("--json", action="store_true")
    shown.add_argument("--ids", action="store_true", help="print only the tasks' ids")

    for name, handler, help_ in (("claim", cmd_claim, "claim a task"),
                                 ("unclaim", cmd_unclaim, "give a claimed task back")):
        p = command(name, handler, help_)
        p.add_argument("task_id")
        p.add_argument("--as", dest="actor", required=True)

    p = command("complete", cmd_complete, "complete a task with its form values")
    p.add_argument("task_id")
    p.add_argument("--as", dest="actor", required=True)
    p.add_argument("--data", default="{}", help="JSON object, @FILE or @- for stdin")

    p = command("message", cmd_message, "deliver a message to the instance waiting for it")
    p.add_argument("name")
    p.add_argument("--business-key")
    p.add_argument("--data", default="{}", help="JSON object, @FILE or @- for stdin")
    p.add_argument("--as", dest="actor", default="system")

    p = command("cancel", cmd_cancel, "cancel a running instance")
    p.add_argument("instance_id")
    p.add_argument("--as", dest="actor", required=True)
    p.add_argument("--reason", default="")

    for name, handler, help_ in (("show", cmd_show, "show one instance"),
                                 ("history", cmd_history, "the instance's history events")):
        p = command(name, handler, help_)
        p.add_argument("instance_id")
        p.add_argument("--json", action="store_true")

    p = command("demo", cmd_demo, "set up the demo: database, processes, users; print the worklist")
    p.add_argument("--serve", action="store_true", help="then start the web UI")
    _serve_options(p)
    p = command("serve", cmd_serve, "the web UI (and the scheduler, on SQLite)")
    _serve_options(p)
    p = command("worker", cmd_worker, "the scheduler only: fires timers, sends mail")
    p.add_argument("--interval", type=float, default=1.0, help="seconds between sweeps")
    p = command("verify", cmd_verify,
                "check every instance's hash chain and replay it from its events")
    p.add_argument("instance_id", nargs="?")
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="worker processes for --all (default: one per core)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="with --all: instances unchanged since the clean verdicts kept in "
                        "FILE are not replayed again (their chains are checked); FILE is "
                        "then written anew. Keep it out of reach of the database's writers")
    p = command("export", cmd_export,
                "export the history of instances as XES (process mining) or CSV")
    p.add_argument("instance_id", nargs="?", metavar="INSTANCE_ID",
                   help="one instance; without it, every instance the filters match")
    p.add_argument("--format", required=True, choices=("xes", "csv"))
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--process", metavar="KEY", help="process key")
    p.add_argument("--version", type=int, metavar="N", help="definition version")
    p.add_argument("--business-key", metavar="TEXT", help="part of the business key, any case")
    p.add_argument("--clinic", metavar="CODE", help="a clinic the instance concerns")
    p.add_argument("--status", choices=search.STATUSES)
    p.add_argument("--from", dest="started_from", metavar="DATE",
                   help="started on or after: YYYY-MM-DD or an ISO date-time "
                        "(local time unless it has an offset)")
    p.add_argument("--to", dest="started_to", metavar="DATE",
                   help="started on or before this day (before this moment, for a date-time)")
    p = command("retry", cmd_retry, "retry an instance whose timer failed (an incident)")
    p.add_argument("instance_id")
    p.add_argument("--as", dest="actor", required=True)
    add_migration_commands(command)
    add_webhook_commands(command)
    add_backup_commands(command)
    return parser


def _data(text: str) -> dict[str, Any]:
    """JSON given inline, as @FILE, or as @- for standard input (read as the engine reads
    any JSON from outside: engine/limits.py)."""
    raw: str | bytes = text
    if text.startswith("@"):
        source = text[1:]
        raw = sys.stdin.buffer.read() if source == "-" else _read(source)
    value = limits.parse_json(raw, "--data")
    if not isinstance(value, dict):
        raise InvalidInput({"--data": "must be a JSON object"})
    return value


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(limits.MAX_JSON_BYTES + 1)
    except OSError as err:
        raise TiltakError(f"cannot read {path}: {err.strerror}") from None


def cmd_init(engine: Engine, args) -> None:
    engine.db.create_schema()
    print(f"database ready: {engine.db.engine.url.render_as_string(hide_password=True)}")


def cmd_deploy(engine: Engine, args) -> None:
    results = engine.deploy(collect_files(args.paths), actor=args.actor, tenant=args.tenant)
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return
    for r in results:
        tenant = f" [{r.tenant}]" if r.tenant else ""
        if r.kind == "form":
            print(f"form {r.key}{tenant}: {'deployed' if r.created else 'unchanged'}")
        else:
            state = "deployed" if r.created else "unchanged"
            print(f"{r.key}{tenant} version {r.version}: {state}")


def cmd_lint(engine: Engine, args) -> int:
    """Errors exit with 3 (the files cannot be deployed), warnings alone with 0."""
    files = collect_files(args.paths)
    try:
        deployed = engine.db.schema_revision() is not None
    except SQLAlchemyError:
        deployed = False
    if not deployed:
        print("note: no database (tiltak init): the files are checked against each other "
              "only, not against deployed forms and decisions", file=sys.stderr)
    reports = engine.lint(files, groups=services.known_groups(), tenant=args.tenant,
                          deployed=deployed)
    errors = sum(len(r.errors) for r in reports.values())
    warnings = sum(len(r.warnings) for r in reports.values())
    if args.json:
        print(json.dumps({name: r.as_dict() for name, r in reports.items()}, indent=2,
                         ensure_ascii=False))
    else:
        for name, report in reports.items():
            for severity, problems in (("error", report.errors),
                                       ("warning", report.warnings)):
                for p in problems:
                    where = f"{name}:{p.line}" if p.line else name
                    element = f" element '{p.element}':" if p.element else ""
                    print(f"{where}: {severity}:{element} {p.message}")
        print(f"{len(reports)} files: {errors} errors, {warnings} warnings")
    return 3 if errors else 0


def cmd_users_add(engine: Engine, args) -> None:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    with engine.db.transaction() as session:
        add_user(session, args.name, groups, password=password,
                 display_name=args.display_name, email=args.email)
    print(f"user {args.name}: groups {', '.join(groups) or '(none)'}")


def cmd_users_end_sessions(engine: Engine, args) -> None:
    engine.end_sessions(args.name)
    print(f"user {args.name}: every session ended")


def cmd_users_active(engine: Engine, args) -> None:
    engine.set_active(args.name, args.active)
    print(f"user {args.name}: {'enabled' if args.active else 'disabled, every session ended'}")


def cmd_token_create(engine: Engine, args) -> None:
    row, secret = tokens_module.create(
        engine.db, args.name, user=args.actor or args.name, scopes=args.scope.split(","),
        processes=None if args.all_processes else args.process, now=engine.clock.now())
    print(secret)
    print(f"token {row.name}: acts for {row.user_name}; {', '.join(row.scopes)}; "
          f"{_processes(row)}. It is shown this once: keep it in the integration's "
          "secret store.", file=sys.stderr)


def _processes(row) -> str:
    return "every process" if row.processes is None else ", ".join(row.processes)


def cmd_token_list(engine: Engine, args) -> None:
    rows = tokens_module.listed(engine.db)
    if args.json:
        print(json.dumps([{
            "name": r.name, "user": r.user_name, "scopes": r.scopes, "processes": r.processes,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None} for r in rows],
            indent=2))
        return
    for r in rows:
        state = f"revoked {r.revoked_at:%Y-%m-%d %H:%M}" if r.revoked_at else "active"
        print(f"{r.name}  for {r.user_name}  [{', '.join(r.scopes)}]  {_processes(r)}  "
              f"made {r.created_at:%Y-%m-%d %H:%M}  {state}")
    if not rows:
        print("no tokens")


def cmd_token_revoke(engine: Engine, args) -> None:
    row = tokens_module.revoke(engine.db, args.name, now=engine.clock.now())
    print(f"token {row.name}: revoked")


def cmd_start(engine: Engine, args) -> None:
    row = engine.start(args.process_key, actor=args.actor, data=_data(args.data),
                       business_key=args.business_key, tenant=args.tenant)
    print(row.id if args.id else json.dumps({"instance_id": row.id,
                                              "business_key": row.business_key}))


def cmd_tasks(engine: Engine, args) -> None:
    tasks = engine.tasks(actor=args.actor, instance_id=args.instance)
    if args.ids:
        print("\n".join(t.id for t in tasks))
    elif args.json:
        print(json.dumps([task_json(engine, t) for t in tasks], indent=2, ensure_ascii=False))
    else:
        print_tasks(tasks)


def cmd_claim(engine: Engine, args) -> None:
    task = engine.claim(args.task_id, actor=args.actor)
    print(f"claimed: {task.name} ({task.id})")


def cmd_unclaim(engine: Engine, args) -> None:
    task = engine.unclaim(args.task_id, actor=args.actor)
    print(f"unclaimed: {task.name} ({task.id})")


def cmd_complete(engine: Engine, args) -> None:
    row = engine.complete(args.task_id, actor=args.actor, data=_data(args.data))
    print(json.dumps({"instance_id": row.id, "status": row.status}))


def cmd_message(engine: Engine, args) -> None:
    row = engine.message(args.name, actor=args.actor, business_key=args.business_key,
                         data=_data(args.data))
    print(json.dumps({"instance_id": row.id, "status": row.status}))


def cmd_cancel(engine: Engine, args) -> None:
    row = engine.cancel(args.instance_id, actor=args.actor, reason=args.reason)
    print(json.dumps({"instance_id": row.id, "status": row.status}))


def cmd_show(engine: Engine, args) -> None:
    shown = engine.show(args.instance_id)
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print_instance(shown)


def cmd_history(engine: Engine, args) -> None:
    events = engine.history(args.instance_id)
    if args.json:
        print(json.dumps([{
            "seq": e.seq, "type": e.type, "actor": e.actor, "at": e.at.isoformat(),
            "element_id": e.element_id, "task_id": e.task_id,
            "data": plain(data_from_json(e.data)), "state_hash": e.state_hash,
            "prev_hash": e.prev_hash, "hash": e.hash} for e in events],
            indent=2, ensure_ascii=False))
    else:
        print_history(events)


def cmd_demo(engine: Engine, args) -> None:
    engine.db.create_schema()
    results = engine.deploy(collect_files([str(services.PROCESSES)]), actor="system")
    users = services.load_demo_users(engine)
    print(f"Database: {engine.db.engine.url.render_as_string(hide_password=True)}")
    print("Deployed: " + ", ".join(f"{r.key} v{r.version}" for r in results
                                   if r.kind == "process"))
    print(f"\nDemo users (password for all: {users[0]['password']}):")
    for user in users:
        print(f"  {user['name']:8} {user['display_name']}  [{', '.join(user['groups'])}]")
    print("\nOpen tasks:")
    print_tasks(engine.tasks())
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


def cmd_serve(engine: Engine, args) -> None:
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
    print(f"worker: sweeping timers every {args.interval:g} s (Ctrl+C stops it)", flush=True)
    try:
        services.scheduler(engine, interval=args.interval, blocking=True).start()
    except (KeyboardInterrupt, SystemExit):
        pass


def cmd_verify(engine: Engine, args) -> int:
    from engine.history.checkpoint import Checkpoint, CheckpointError
    from engine.history.replay import default_jobs, verify_all, verify_instance

    if bool(args.instance_id) == bool(args.all):
        print("error: give an INSTANCE_ID or --all", file=sys.stderr)
        return 2
    if args.checkpoint and not args.all:
        print("error: --checkpoint goes with --all", file=sys.stderr)
        return 2
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    current = Checkpoint.now(engine) if checkpoint else None
    known = None
    if checkpoint is not None and checkpoint.exists():
        try:
            earlier = Checkpoint.load(checkpoint)
        except CheckpointError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        why = earlier.usable_with(current)
        if why:
            print(f"checkpoint not used: {why}; every instance is replayed", file=sys.stderr)
        else:
            known = earlier.instances
    if args.instance_id:
        engine.instance(args.instance_id)  # NotFound (exit 4) for an id that is no instance
        verdicts = [verify_instance(engine, args.instance_id)]
    else:
        verdicts = verify_all(engine, _VerifyProgress(), jobs=args.jobs or default_jobs(),
                              known=known)
    failed = [v for v in verdicts if not v.ok]
    if current is not None:
        current.instances = {v.instance_id: (v.events, v.last_hash)
                             for v in verdicts if v.ok and v.last_hash}
        current.save(checkpoint)
    if args.json:
        print(json.dumps([v.as_dict() for v in verdicts], indent=2))
    else:
        for v in failed:
            print(f"{v.instance_id}: event {v.seq} ({v.event_type or '-'}): {v.problem}")
        unchanged = sum(1 for v in verdicts if not v.replayed)
        print(f"{len(verdicts) - len(failed)} of {len(verdicts)} instances verify clean"
              + (f" ({unchanged} unchanged since the checkpoint: chains checked, not "
                 "replayed)" if unchanged else ""))
    return 9 if failed else 0


class _VerifyProgress:
    """`verified 1200/10000, 160/s, about 55 s left` on stderr, and the time at the end.

    On a terminal one line, redrawn twice a second; into a file or pipe a line every
    five seconds."""

    def __init__(self) -> None:
        self.started = self.shown = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.every = 0.5 if self.tty else 5.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.shown < self.every:
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-9)
        left = f", about {(total - done) / rate:.0f} s left" if done < total else \
            f" in {now - self.started:.1f} s"
        line = f"verified {done}/{total}, {rate:.0f}/s{left}"
        if self.tty:
            print(f"\r{line}\033[K", end="\n" if done == total else "", file=sys.stderr,
                  flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def cmd_export(engine: Engine, args) -> None:
    wanted = search.InstanceFilter(
        business_key=args.business_key or None, process_key=args.process or None,
        version=args.version, clinic=args.clinic or None, status=args.status,
        started_from=_moment("--from", args.started_from, end=False),
        started_to=_moment("--to", args.started_to, end=True))
    if args.instance_id:
        if wanted != search.InstanceFilter():
            raise InvalidInput("give an INSTANCE_ID or filters, not both")
        ids = [args.instance_id]
    else:
        ids = search.matching_ids(engine, wanted)
    summary = export.Summary()
    pieces = export.xes_chunks if args.format == "xes" else export.csv_chunks
    chunks = pieces(engine, ids, summary)  # an unknown instance is refused here
    if args.out is None:
        sys.stdout.flush()
        binary = sys.stdout.buffer
        for chunk in chunks:
            binary.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
        binary.flush()
        return
    _write_file(Path(args.out), chunks)
    print(f"exported {summary.instances} instances ({summary.events} events) to {args.out}")


def _moment(option: str, text: str | None, *, end: bool) -> datetime | None:
    """A date (the whole day) or an ISO date-time; local time unless an offset is given."""
    if not text:
        return None
    text = text.strip()
    try:
        day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
        moment = datetime(day.year, day.month, day.day)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput({option: f"'{text}' is not a date (YYYY-MM-DD) or an ISO "
                                        "date-time"}) from None
    return moment if moment.tzinfo else moment.astimezone()


def _write_file(path: Path, chunks) -> None:
    """Write to FILE.partial and rename it when complete: no half file under FILE."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise TiltakError(f"cannot write {path}: {err.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def cmd_retry(engine: Engine, args) -> None:
    row = engine.retry(args.instance_id, actor=args.actor)
    print(json.dumps({"instance_id": row.id, "status": row.status}))


if __name__ == "__main__":
    sys.exit(main())
