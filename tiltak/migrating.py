"""`tiltak migrate plan|run`, `tiltak suspend` and `tiltak activate`: moving running
cases to another version of their process, and holding definitions and cases
(docs/MIGRATION.md)."""

from __future__ import annotations

import json
import sys

from engine.errors import Conflict, InvalidInput, TiltakError
from engine.migration import plan as plans
from engine.runtime import Engine
from engine.services.migration import MigrationRefused, Report


def add_commands(command) -> None:
    """The commands, on the parser's `command(name, handler, help)`."""
    migrate = command("migrate", None, "move running cases to another version")
    steps = migrate.add_subparsers(dest="migrate_command", required=True)
    p = steps.add_parser("plan", help="a plan mapping every activity both versions have "
                                      "to itself, as JSON to edit")
    p.set_defaults(handler=cmd_plan)
    p.add_argument("process_key")
    p.add_argument("--from", dest="source", type=int, required=True, metavar="V")
    p.add_argument("--to", dest="target", type=int, required=True, metavar="W")
    p.add_argument("--tenant", default="")
    p = steps.add_parser("run", help="validate a plan for the cases, then move each (exit 2, "
                                     "nothing moved, when a case does not fit)")
    p.set_defaults(handler=cmd_run)
    p.add_argument("plan", metavar="PLAN", help="the plan's JSON file (- for stdin)")
    chosen = p.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--instances", nargs="+", metavar="ID")
    chosen.add_argument("--all-at-version", action="store_true",
                        help="every running case on the plan's source version")
    p.add_argument("--validate", action="store_true", help="validate only; move nothing")
    p.add_argument("--as", dest="actor", default="system")
    p.add_argument("--json", action="store_true")
    for name, handler, help_ in (
            ("suspend", cmd_suspend, "hold a case (its tasks and timers) or a process "
                                     "definition (no new cases)"),
            ("activate", cmd_activate, "let a suspended case or definition go on")):
        p = command(name, handler, help_)
        p.add_argument("instance_id", nargs="?", metavar="INSTANCE_ID")
        p.add_argument("--definition", metavar="KEY[:VERSION]",
                       help="a process definition: every version, or one")
        p.add_argument("--tenant", default="")
        p.add_argument("--as", dest="actor", default="system")


def cmd_plan(engine: Engine, args) -> None:
    plan = engine.migration.migration_plan(args.process_key, args.source, args.target, args.tenant)
    sys.stdout.write(plan.to_json())


def cmd_run(engine: Engine, args) -> int:
    plan = plans.parse(_read(args.plan), args.plan)
    ids = args.instances if args.instances else \
        engine.migration.cases_at_version(plan.process_key, plan.source_version, plan.tenant)
    if not ids:
        print(f"no running case is on {plan.process_key} version {plan.source_version}")
        return 0
    try:
        report = engine.migration.migrate(plan, ids, actor=args.actor, validate_only=args.validate)
    except MigrationRefused as refused:
        _print(refused.report, args.json)
        raise
    _print(report, args.json)
    if report.refused:  # moved cases stay moved; these were changed meanwhile
        print(f"error: {len(report.refused)} cases could not be moved", file=sys.stderr)
        return Conflict.exit_code
    return 0


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    plan = report.plan
    for outcome in report.outcomes:
        if outcome.moved:
            print(f"{outcome.instance_id}: moved to version {plan.target_version}")
        elif not outcome.problems:
            print(f"{outcome.instance_id}: can move")
        for problem in outcome.problems:
            element = f" element '{problem.element}':" if problem.element else ""
            print(f"{outcome.instance_id}: refused:{element} {problem.problem}")
    moved = sum(1 for o in report.outcomes if o.moved)
    print(f"{plan.process_key} {plan.source_version} -> {plan.target_version}: "
          f"{moved} moved, {len(report.refused)} refused")


def cmd_suspend(engine: Engine, args) -> None:
    _hold(engine, args, suspend=True)


def cmd_activate(engine: Engine, args) -> None:
    _hold(engine, args, suspend=False)


def _hold(engine: Engine, args, *, suspend: bool) -> None:
    word = "suspended" if suspend else "activated"
    if (args.instance_id is None) == (args.definition is None):
        raise InvalidInput("give either INSTANCE_ID or --definition KEY[:VERSION]")
    if args.instance_id is not None:
        verb = engine.suspension.suspend if suspend else engine.suspension.activate
        row = verb(args.instance_id, actor=args.actor)
        print(json.dumps({"instance_id": row.id, "suspended": row.suspended}))
        return
    key, _, version = args.definition.partition(":")
    if version and not version.isdigit():
        raise InvalidInput({"--definition": f"{version!r} is not a version number"})
    suspension = engine.suspension
    verb = suspension.suspend_definition if suspend else suspension.activate_definition
    versions = verb(key, int(version) if version else None, actor=args.actor,
                    tenant=args.tenant)
    print(f"{key} version {', '.join(map(str, versions))}: {word}")


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as err:
        raise TiltakError(f"cannot read {path}: {err.strerror}") from None
