"""`tiltak users ...` and `tiltak token ...`: the people who sign in and the integrations
that call the JSON API."""

from __future__ import annotations

import json
import sys

from engine.identity import tokens as tokens_module
from engine.identity.users import add_user
from engine.runtime import Engine


def add_commands(command) -> None:
    """The commands, on the parser's `command(name, handler, help)`."""
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


def cmd_users_add(engine: Engine, args) -> None:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    with engine.db.transaction() as session:
        add_user(session, args.name, groups, password=password,
                 display_name=args.display_name, email=args.email)
    print(f"user {args.name}: groups {', '.join(groups) or '(none)'}")


def cmd_users_end_sessions(engine: Engine, args) -> None:
    engine.identity.end_sessions(args.name)
    print(f"user {args.name}: every session ended")


def cmd_users_active(engine: Engine, args) -> None:
    engine.identity.set_active(args.name, args.active)
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

