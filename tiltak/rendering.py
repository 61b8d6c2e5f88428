"""Plain-text rendering of tasks, instances and history for the command line."""

from __future__ import annotations

import json
from typing import Any

from engine.models import HistoryEvent, HumanTask


def print_tasks(tasks: list[HumanTask]) -> None:
    if not tasks:
        print("  (no open tasks)")
        return
    for t in tasks:
        who = t.assignee or ", ".join(t.candidate_groups + t.candidate_users) or "-"
        due = f"  due {t.due_at:%Y-%m-%d}" if t.due_at else ""
        print(f"  {t.id}  {t.name}  [{t.process_key}]  -> {who}{due}")


def print_instance(shown: dict[str, Any]) -> None:
    print(f"{shown['name']} ({shown['process_key']} v{shown['version']})")
    print(f"  id:           {shown['id']}")
    print(f"  business key: {shown['business_key'] or '-'}")
    print(f"  status:       {shown['status']}")
    print(f"  started:      {shown['started_at']} by {shown['started_by']}")
    if shown["ended_at"]:
        print(f"  ended:        {shown['ended_at']}")
    data = {k: v for k, v in (shown.get("data") or {}).items() if not k.startswith("_")}
    print("  data:" if data else "  data:         (none)")
    for key, value in data.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        print(f"    {key}: {text if len(text) <= 100 else text[:97] + '...'}")
    print("  open tasks:")
    for t in shown["open_tasks"]:
        print(f"    {t['id']}  {t['name']}  -> {t['assignee'] or ', '.join(t['candidate_groups'])}")
    if not shown["open_tasks"]:
        print("    (none)")


def print_history(events: list[HistoryEvent]) -> None:
    """One line per command; the hash chains it to the line before (`--json`: in full)."""
    for e in events:
        element = f" {e.element_id}" if e.element_id else ""
        print(f"  {e.seq:4}  {e.at:%Y-%m-%d %H:%M:%S}  {e.type:9} {e.actor:10} "
              f"{e.hash[:12]}{element}")
