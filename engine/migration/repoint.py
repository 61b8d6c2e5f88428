"""A case's state re-pointed onto a target version: each task of the migrated process
takes the target's spec for the element the plan maps it to, and the state is written
and restored against the target's specs. The engine's migration and the replay of a
`migrated` event both run this, so both reach the same state (and hash)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.util.task import TaskState

from ..store import state_format

ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
DONE = TaskState.COMPLETED | TaskState.CANCELLED
PREDICTED = TaskState.MAYBE | TaskState.LIKELY | TaskState.FUTURE


@dataclass(frozen=True)
class Problem:
    """Why a case cannot move: the element, and one sentence; `code` and `params` let a
    front end say it in its own words (as a coded TiltakError does)."""

    element: str
    problem: str
    code: str | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, str]:
        return {"element": self.element, "problem": self.problem}


@dataclass
class Target:
    """Where the case goes: the top spec and the specs it calls, as the engine assembles
    them for the instance's new definition and bindings."""

    spec: Any
    subprocess_specs: dict[str, Any]
    version: int


def problems(workflow, owner: dict[int, int], source_id: int, instructions: dict[str, str],
             target: Target) -> list[Problem]:
    """Everything that stops this case from moving (empty: it can)."""
    found: list[Problem] = []
    _walk(workflow, owner, source_id, instructions, target, found.append)
    return found


def moved(workflow, owner: dict[int, int], source_id: int, instructions: dict[str, str],
          target: Target, script_engine) -> tuple[Any, str]:
    """The case on the target version (restored from the text it is written as) and
    that text; ValueError when it cannot move (check `problems` first)."""
    found = problems(workflow, owner, source_id, instructions, target)
    if found:
        raise ValueError("; ".join(f"{p.element}: {p.problem}" for p in found))
    _walk(workflow, owner, source_id, instructions, target, None)
    text = state_format.write(workflow)
    return state_format.read(text, target.spec, target.subprocess_specs, script_engine), text


def _walk(top, owner, source_id, instructions, target, report) -> None:
    """Each workflow of the case against its target spec: faults to `report`, or (with
    `report` None) every task and workflow re-pointed in place."""
    old_specs = dict(top.subprocess_specs)
    pointed: list[tuple[Any, Any]] = []  # (workflow, its target spec)
    for workflow in [top, *top.subprocesses.values()]:
        migrating = owner.get(id(workflow.spec)) == source_id
        if workflow is top:
            spec = target.spec if migrating else top.spec
        else:
            key = _key_of(old_specs, workflow.spec)
            new_key = instructions.get(key, key) if migrating else key
            spec = target.subprocess_specs.get(new_key)
            if spec is None:
                if report is not None:
                    report(Problem(key, f"runs {new_key}, which the case on version "
                                        f"{target.version} does not call",
                                   "call_not_on_target",
                                   {"element": key, "runs": new_key,
                                    "version": target.version}))
                continue
        ahead: list = []  # predicted tasks of elements the target does not have
        for task in list(workflow.tasks.values()):
            name = _target_name(task, instructions, migrating, report, target)
            if name is None:
                continue
            task_spec = spec.task_specs.get(name)
            if task_spec is None and task.state & PREDICTED and not _after_done(task):
                ahead.append(task)
            elif report is not None:
                _check(task, task_spec, name, migrating, report, target)
            elif task_spec is not None:
                task.task_spec = task_spec
        if report is None:
            parents = [_drop(workflow, task) for task in ahead]
            for parent in dict.fromkeys(p for p in parents if p is not None):
                if parent.id in workflow.tasks:  # its path predicted on the target
                    parent.task_spec._predict(parent, mask=PREDICTED)
        pointed.append((workflow, spec))
    if report is None:
        for workflow, spec in pointed:
            workflow.spec = spec
        top.subprocess_specs = target.subprocess_specs


def _after_done(task) -> bool:
    """Whether the task's parent has finished (its path was chosen, not predicted)."""
    parent = task.parent
    return parent is not None and bool(parent.state & DONE)


def _drop(workflow, task):
    """A predicted task and what is predicted below it, let go; returns its parent,
    whose path the caller predicts again from the target's spec."""
    if task.id not in workflow.tasks:
        return None  # below another one dropped
    parent = workflow.tasks.get(task._parent) if task._parent is not None else None
    if parent is not None:
        parent._children = [c for c in parent._children if c != task.id]
    pending = [task]
    while pending:
        current = pending.pop()
        workflow.tasks.pop(current.id, None)
        pending.extend(workflow.tasks[c] for c in current._children if c in workflow.tasks)
    return parent


def _key_of(specs: dict[str, Any], spec) -> str:
    for key, candidate in specs.items():
        if candidate is spec:
            return key
    return spec.name


def _target_name(task, instructions, migrating, report, target) -> str | None:
    """The name of the task's spec on the target version; None when an active activity
    is not mapped (reported)."""
    name = task.task_spec.name
    if not migrating:
        return name
    element = getattr(task.task_spec, "bpmn_id", None)
    if element:
        to = instructions.get(element)
        if to is None:
            if task.state & ACTIVE:
                if report is not None:
                    report(Problem(element, "is active in the case and the plan does not "
                                            "map it", "active_not_mapped",
                                   {"element": element}))
                return None
            to = element  # done or ahead: the same element of the target, if it has it
        return name.replace(element, to, 1)
    for source, to in instructions.items():  # SpiffWorkflow's own parts of an element
        if name.startswith(source + "."):
            return to + name[len(source):]
    return name


def _check(task, task_spec, name, migrating, report, target) -> None:
    element = getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name
    if task_spec is None:
        values = {"element": element, "target": name, "version": target.version}
        if task.state & ACTIVE:
            report(Problem(element, f"is active in the case and is mapped to {name}, which "
                                    f"version {target.version} does not have",
                           "mapped_to_missing", values))
        else:
            report(Problem(element, f"was passed in the case and version {target.version} "
                                    f"does not have {name} (the path a case has taken is "
                                    "kept)", "passed_missing", values))
        return
    if not migrating:
        return
    if type(task_spec) is not type(task.task_spec):
        kind, target_kind = type(task.task_spec).__name__, type(task_spec).__name__
        report(Problem(element, f"a {kind} cannot become {name}, a {target_kind}",
                       "kind_changes", {"element": element, "kind": kind, "target": name,
                                        "target_kind": target_kind}))
    elif task.state & ACTIVE and isinstance(task_spec, SubWorkflowTask) and \
            getattr(task_spec, "spec", None) != getattr(task.task_spec, "spec", None):
        report(Problem(element, f"calls {task.task_spec.spec} and {name} on version "
                                f"{target.version} calls {task_spec.spec}",
                       "calls_other_process",
                       {"element": element, "calls": task.task_spec.spec, "target": name,
                        "version": target.version, "target_calls": task_spec.spec}))
