"""`tiltak webhook add|list|remove|log`: the operators' subscriptions to case events and
the log of their deliveries (docs/WEBHOOKS.md)."""

from __future__ import annotations

import json
import sys

from engine.runtime import Engine
from installation.webhooks import subscriptions


def add_commands(command) -> None:
    """The commands, on the parser's `command(name, handler, help)`."""
    hooks = command("webhook", None, "webhooks: case events posted, signed, to other systems")
    sub = hooks.add_subparsers(dest="webhook_command", required=True)
    p = sub.add_parser("add", help="post events to a URL; prints its signing secret (once)")
    p.set_defaults(handler=cmd_add)
    p.add_argument("name", help="the receiver, e.g. kvalitetsportalen")
    p.add_argument("url", help="where the events are posted (https in production)")
    p.add_argument("--events", required=True, metavar="EVENT,...",
                   help="; ".join(f"{k}: {v}" for k, v in subscriptions.EVENTS.items()))
    p.add_argument("--process", nargs="+", action="extend", metavar="KEY",
                   help="only cases of these processes (or tasks of a process they call); "
                        "default: every process")
    p.add_argument("--as", dest="actor", default="system")
    p = sub.add_parser("list", help="the webhooks, without their secrets")
    p.set_defaults(handler=cmd_list)
    p.add_argument("--removed", action="store_true", help="removed ones too")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("remove", help="post nothing more to it (its log stays)")
    p.set_defaults(handler=cmd_remove)
    p.add_argument("name")
    p = sub.add_parser("log", help="the latest deliveries, newest first, with each attempt")
    p.set_defaults(handler=cmd_log)
    p.add_argument("name", nargs="?", help="one webhook's (default: all)")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")


def cmd_add(engine: Engine, args) -> None:
    added = subscriptions.add(engine.db, args.name, args.url, args.events.split(","),
                              args.process, actor=args.actor, now=engine.clock.now())
    print(added.secret)
    row = added.webhook
    print(f"webhook {row.name}: {', '.join(row.events)} of {_processes(row)} to {row.url}. "
          "The secret above signs every delivery; it is shown this once: give it to the "
          "receiver.", file=sys.stderr)


def _processes(row) -> str:
    return "every process" if row.processes is None else ", ".join(row.processes)


def cmd_list(engine: Engine, args) -> None:
    rows = subscriptions.listed(engine.db, removed=args.removed)
    if args.json:
        print(json.dumps([{
            "name": r.name, "url": r.url, "events": r.events, "processes": r.processes,
            "created_at": r.created_at.isoformat(), "created_by": r.created_by,
            "removed_at": r.removed_at.isoformat() if r.removed_at else None}
            for r in rows], indent=2))
        return
    for r in rows:
        state = f"removed {r.removed_at:%Y-%m-%d %H:%M}" if r.removed_at else "active"
        print(f"{r.name}  {r.url}  [{', '.join(r.events)}]  {_processes(r)}  {state}")
    if not rows:
        print("no webhooks")


def cmd_remove(engine: Engine, args) -> None:
    dropped = subscriptions.remove(engine.db, args.name, engine.clock.now())
    print(f"webhook {args.name} removed; {dropped} waiting deliveries dropped")


def cmd_log(engine: Engine, args) -> int:
    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    lines = subscriptions.log(engine.db, args.name, limit=args.limit)
    if args.json:
        print(json.dumps([_as_dict(line) for line in lines], indent=2))
        return 0
    for line in lines:
        d = line.delivery
        print(f"{d.created_at:%Y-%m-%d %H:%M:%S}  {line.webhook}  {d.event_type}  "
              f"{d.event_id}  {d.status}  attempts {d.attempts}"
              + (f"  next {d.next_attempt_at:%H:%M:%S}" if d.status == "pending" else ""))
        for a in line.attempts:
            print(f"    {a.at:%Y-%m-%d %H:%M:%S}  "
                  f"{a.status_code if a.status_code is not None else '-'}  "
                  f"{a.duration_ms} ms  {a.error or 'ok'}")
    if not lines:
        print("no deliveries")
    return 0


def _as_dict(line: subscriptions.LogLine) -> dict:
    d = line.delivery
    return {"webhook": line.webhook, "event_id": d.event_id, "event_type": d.event_type,
            "instance_id": d.instance_id, "created_at": d.created_at.isoformat(),
            "status": d.status, "attempts": d.attempts,
            "next_attempt_at": d.next_attempt_at.isoformat() if d.status == "pending" else None,
            "sent_at": d.sent_at.isoformat() if d.sent_at else None,
            "last_error": d.last_error,
            "tries": [{"at": a.at.isoformat(), "status_code": a.status_code, "error": a.error,
                       "duration_ms": a.duration_ms} for a in line.attempts]}
