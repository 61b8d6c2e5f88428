"""The events a command causes, written to the webhook outbox in the command's own
transaction (the engine's `CaseHooks.saved`): one row per event and subscribed webhook,
the body fixed as written. What a body holds, and why no more: docs/WEBHOOKS.md."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.hooks import CaseChange
from engine.models import TaskRecord, Webhook, WebhookDelivery
from routines.measures import is_measure_done

VERSION = 1


def record(session: Session, change: CaseChange) -> int:
    """Queue the change's events for the webhooks that want them; returns how many rows."""
    hooks = list(session.scalars(select(Webhook).where(Webhook.removed_at.is_(None))))
    if not hooks:
        return 0
    queued = 0
    for event_type, keys, payload in events(session, change):
        wanted = [h for h in hooks if event_type in h.events
                  and (h.processes is None or keys & set(h.processes))]
        if not wanted:
            continue
        event_id = str(uuid.uuid4())
        body = json.dumps({"id": event_id, "type": event_type, **payload},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        for hook in wanted:
            session.add(WebhookDelivery(
                webhook_id=hook.id, event_id=event_id, event_type=event_type,
                instance_id=change.row.id, body=body, created_at=change.at,
                status="pending", attempts=0, next_attempt_at=change.at))
            queued += 1
    return queued


def events(session: Session, change: CaseChange
           ) -> Iterator[tuple[str, set[str], dict[str, Any]]]:
    """(type, the process keys it concerns, the body's fields) in the order they happened."""
    row = change.row
    case = {"version": VERSION, "time": change.at.isoformat(),
            "process_key": row.process_key, "business_key": row.business_key,
            "instance_id": row.id, "link": f"/instances/{row.id}"}
    keys = {row.process_key}
    if change.command == "start":
        yield "case.started", keys, case
    if change.completed is not None:
        record_ = session.get(TaskRecord, change.completed["id"])
        task = {"id": change.completed["id"], "element_id": change.completed["element_id"],
                "name": record_.name if record_ else None,
                "process_key": record_.process_key if record_ else row.process_key}
        task_keys = keys | {task["process_key"]}
        yield "task.completed", task_keys, {**case, "task": task}
        values = (change.data or {}).get("values") or {}
        if is_measure_done(task["process_key"], values):
            yield "measure.done", task_keys, {**case, "task": task}
    for opened in change.opened:
        task = {k: opened[k] for k in ("id", "element_id", "name", "process_key")}
        yield "task.created", keys | {task["process_key"]}, {**case, "task": task}
    if change.ended is not None:
        yield "case.closed", keys, {**case, "outcome": change.ended}
