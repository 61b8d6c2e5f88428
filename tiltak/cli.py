"""The `tiltak` command line: the operator's tool on the server (see ARCHITECTURE.md).

It needs no password; `--as` names the user on whose behalf a command runs, and that
user's permissions apply. Errors go to stderr with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from engine import limits
from engine.definitions import collect_files
from engine.errors import InvalidInput, TiltakError
from engine.queries import health
from engine.runtime import Engine
from engine.serialization import data_from_json, plain
from installation import metrics, services
from installation.shapes import task_json

from .auditing import add_commands as add_auditing_commands
from .backup import add_commands as add_backup_commands
from .migrating import add_commands as add_migration_commands
from .people import add_commands as add_people_commands
from .rendering import print_history, print_instance, print_tasks
from .running import add_commands as add_running_commands
from .webhook_commands import add_commands as add_webhook_commands


def main(argv: list[str] | None = None) -> int:
    if hasattr(signal, "SIGPIPE"):  # `tiltak tasks --json | head` ends quietly
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = _parser().parse_args(argv)
    if args.command == "serve" or (args.command == "demo" and args.serve):
        # before any command is counted: the web workers and the scheduler this starts
        # count their commands together (installation/metrics.py)
        metrics.share_between_processes()
    engine = None
    try:
        engine = services.build_engine()
        return args.handler(engine, args) or 0
    except TiltakError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except SQLAlchemyError:
        # a database that cannot be reached, or has no schema (yet, or not the newest),
        # is said so; anything else is a fault to be seen whole
        reason = health.not_ready(engine.db) if engine is not None else None
        if reason is None:
            raise
        print(f"error: {reason}", file=sys.stderr)
        return 1
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

    add_people_commands(command)

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

    add_running_commands(command)
    add_auditing_commands(command)
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
    results = engine.repository.deploy(collect_files(args.paths), actor=args.actor,
                                       tenant=args.tenant)
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
    reports = engine.repository.lint(files, groups=services.known_groups(), tenant=args.tenant,
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


def cmd_start(engine: Engine, args) -> None:
    row = engine.runtime.start(args.process_key, actor=args.actor, data=_data(args.data),
                               business_key=args.business_key, tenant=args.tenant)
    print(row.id if args.id else json.dumps({"instance_id": row.id,
                                              "business_key": row.business_key}))


def cmd_tasks(engine: Engine, args) -> None:
    tasks = engine.tasks.find(actor=args.actor, instance_id=args.instance)
    if args.ids:
        print("\n".join(t.id for t in tasks))
    elif args.json:
        print(json.dumps([task_json(engine, t) for t in tasks], indent=2, ensure_ascii=False))
    else:
        print_tasks(tasks)


def cmd_claim(engine: Engine, args) -> None:
    task = engine.tasks.claim(args.task_id, actor=args.actor)
    print(f"claimed: {task.name} ({task.id})")


def cmd_unclaim(engine: Engine, args) -> None:
    task = engine.tasks.unclaim(args.task_id, actor=args.actor)
    print(f"unclaimed: {task.name} ({task.id})")


def cmd_complete(engine: Engine, args) -> None:
    row = engine.tasks.complete(args.task_id, actor=args.actor, data=_data(args.data))
    print(json.dumps({"instance_id": row.id, "status": row.status}))


def cmd_message(engine: Engine, args) -> None:
    row = engine.runtime.message(args.name, actor=args.actor, business_key=args.business_key,
                                 data=_data(args.data))
    print(json.dumps({"instance_id": row.id, "status": row.status}))


def cmd_cancel(engine: Engine, args) -> None:
    row = engine.runtime.cancel(args.instance_id, actor=args.actor, reason=args.reason)
    print(json.dumps({"instance_id": row.id, "status": row.status}))


def cmd_show(engine: Engine, args) -> None:
    shown = engine.history.show(args.instance_id)
    if args.json:
        print(json.dumps(shown, indent=2, ensure_ascii=False))
    else:
        print_instance(shown)


def cmd_history(engine: Engine, args) -> None:
    events = engine.history.events(args.instance_id)
    if args.json:
        print(json.dumps([{
            "seq": e.seq, "type": e.type, "actor": e.actor, "at": e.at.isoformat(),
            "element_id": e.element_id, "task_id": e.task_id,
            "data": plain(data_from_json(e.data)), "state_hash": e.state_hash,
            "prev_hash": e.prev_hash, "hash": e.hash} for e in events],
            indent=2, ensure_ascii=False))
    else:
        print_history(events)


def cmd_retry(engine: Engine, args) -> None:
    row = engine.runtime.retry(args.instance_id, actor=args.actor)
    print(json.dumps({"instance_id": row.id, "status": row.status}))


if __name__ == "__main__":
    sys.exit(main())
