"""A case as it stood after any event, rebuilt from its history alone for auditors: where
the tokens stood, the data, and what the event changed (docs/DESIGN.md, "Audit").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFound
from ..execution import projection
from ..models import HistoryEvent, ProcessInstance
from ..serialization import data_from_json, plain
from . import events as history
from .replay import replay_steps


@dataclass
class Change:
    scope: str
    name: str
    before: Any
    after: Any
    kind: str  # added, changed or removed


@dataclass
class Scope:
    """The variables of the process or of one called process, as they stood."""

    key: str
    label: str
    data: dict[str, Any]


@dataclass
class CaseAtStep:
    seq: int
    events: int
    event: HistoryEvent
    inputs: dict[str, Any]
    diagrams: list[dict[str, Any]]
    scopes: list[Scope]
    changes: list[Change]
    names: dict[str, str] = field(default_factory=dict)
    problem: str | None = None


def case_at(engine, instance_id: str, seq: int) -> CaseAtStep:
    """The case after event `seq` (1 = the start); `problem` is set if replay failed there."""
    with engine.db.transaction() as session:
        if session.get(ProcessInstance, instance_id) is None:
            raise NotFound(f"no process instance '{instance_id}'").coded(
                "no_case", case=instance_id)
        events = history.events_of(session, instance_id)
    if not 1 <= seq <= len(events):
        raise NotFound(f"the case has no event {seq} (it has {len(events)})").coded(
            "no_event", seq=seq, count=len(events))
    before: list[Scope] = []
    after: list[Scope] = []
    reached = None
    for step in replay_steps(engine, instance_id, events[:seq]):
        before, reached = after, step
        after = scopes_of(step.workflow) if step.workflow is not None else []
        if step.problem is not None:
            break
    diagrams = projection.progress(reached.workflow, reached.owner) \
        if reached.workflow is not None else []
    return CaseAtStep(seq=reached.event.seq, events=len(events), event=reached.event,
                      inputs=data_from_json(reached.event.data), diagrams=diagrams,
                      scopes=after, changes=changes_between(before, after),
                      names=element_names(reached.workflow), problem=reached.problem)


def scopes_of(workflow) -> list[Scope]:
    """The process's variables, then each called process's, labelled for a reader."""
    result = [Scope("", workflow.spec.description or workflow.spec.name,
                    plain(projection.variables(workflow)))]
    for task_id, sub in workflow.subprocesses.items():
        caller = workflow.get_task_from_id(task_id)
        if caller is None:
            continue
        label = sub.spec.description or sub.spec.name
        clinic = caller.data.get("klinikk")
        if isinstance(clinic, str):
            label = f"{label} – {clinic}"
        result.append(Scope(str(task_id), label, plain(projection.variables(sub))))
    seen: dict[str, int] = {}
    for scope in result:
        seen[scope.label] = seen.get(scope.label, 0) + 1
        if seen[scope.label] > 1:
            scope.label = f"{scope.label} ({seen[scope.label]})"
    return result


def changes_between(before: list[Scope], after: list[Scope]) -> list[Change]:
    """Variables added, changed or removed in any scope, in scope and name order."""
    earlier = {scope.key: scope.data for scope in before}
    result = []
    for scope in after:
        old, new = earlier.get(scope.key, {}), scope.data
        for name in sorted(old.keys() | new.keys()):
            if name not in old:
                result.append(Change(scope.label, name, None, new[name], "added"))
            elif name not in new:
                result.append(Change(scope.label, name, old[name], None, "removed"))
            elif old[name] != new[name]:
                result.append(Change(scope.label, name, old[name], new[name], "changed"))
    return result


def element_names(workflow) -> dict[str, str]:
    """BPMN element id -> its label, over the process and every process it calls."""
    if workflow is None:
        return {}
    names: dict[str, str] = {}
    specs = [workflow.spec, *workflow.subprocess_specs.values()]
    for spec in specs:
        for task_spec in spec.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            label = getattr(task_spec, "bpmn_name", None)
            if bpmn_id and label:
                names.setdefault(bpmn_id, projection.element_label(label))
    return names
