"""The engine's changes to SpiffWorkflow are in place, and were made for the SpiffWorkflow
that is installed.

Each override repeats or wraps a SpiffWorkflow function; a release that changes that
function would be silently overwritten. So the source of every function an override
replaces is held to the digest taken from the pinned version (engine/execution/spiff_overrides.py).
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
from importlib import metadata

import pytest
import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
import SpiffWorkflow.task as spiff_task
import SpiffWorkflow.workflow as spiff_workflow
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.util.deep_merge import DeepMerge

import engine
from engine.execution import spiff_overrides
from engine.execution.spiff_overrides import GLOBALS_READ_BY, PRIVATE_MEMBERS, REPEATED, REPLACED


def _functions(module: str) -> tuple[str, dict[str, ast.AST]]:
    """A module's source and its functions and methods by qualified name (`Class.method`),
    read from its file: what SpiffWorkflow ships, whatever has been put in its place."""
    text = open(importlib.util.find_spec(module).origin, encoding="utf-8").read()
    found: dict[str, ast.AST] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found[prefix + child.name] = child
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(text), "")
    return text, found


def source_digest(qualified: str) -> str | None:
    """SHA-256 of a function's source, whitespace normalised; None if it is gone."""
    module, name = qualified.split(":")
    text, functions = _functions(module)
    node = functions.get(name)
    if node is None:
        return None
    source = " ".join(ast.get_source_segment(text, node).split())
    return hashlib.sha256(source.encode()).hexdigest()


def test_the_pinned_spiffworkflow_is_installed():
    assert metadata.version("SpiffWorkflow") == spiff_overrides.SPIFFWORKFLOW_VERSION


@pytest.mark.parametrize("qualified", sorted({**REPLACED, **REPEATED}))
def test_spiffworkflow_still_has_the_functions_the_copies_were_made_from(qualified):
    expected = {**REPLACED, **REPEATED}[qualified]
    installed = source_digest(qualified)
    assert installed == expected, (
        f"SpiffWorkflow {metadata.version('SpiffWorkflow')} changed {qualified} (source "
        f"digest {installed}): review the engine's version of it "
        "(engine/execution/spiff_overrides.py, docs/SPIFFWORKFLOW.md) before recording the "
        "new digest")


@pytest.mark.parametrize("qualified", sorted(GLOBALS_READ_BY))
def test_a_replaced_module_global_is_read_only_where_it_was(qualified):
    """A function that starts to read `uuid4`, `time` or the timers' `datetime` would get
    the engine's stand-in without anyone having looked at it."""
    module, name = qualified.split(":")
    _, functions = _functions(module)
    readers = {qualified_name for qualified_name, node in functions.items()
               if any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))}
    assert readers == set(GLOBALS_READ_BY[qualified]), (
        f"in SpiffWorkflow {metadata.version('SpiffWorkflow')} the functions reading "
        f"{qualified} are {sorted(readers)}: review the override of {qualified}")
    assert all(f"{module}:{reader}" in REPLACED for reader in readers)


def _member_exists(owner: type, name: str) -> bool:
    if hasattr(owner, name):
        return True
    # an attribute its instances get in __init__
    _, functions = _functions(owner.__module__)
    init = functions.get(f"{owner.__name__}.__init__")
    return init is not None and any(
        isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr == name
        and isinstance(n.value, ast.Name) and n.value.id == "self" for n in ast.walk(init))


@pytest.mark.parametrize("owner", sorted(PRIVATE_MEMBERS))
def test_the_private_members_the_engine_uses_still_exist(owner):
    module, name = owner.split(":")
    cls = getattr(importlib.import_module(module), name)
    missing = [member for member in PRIVATE_MEMBERS[owner] if not _member_exists(cls, member)]
    assert not missing, (f"SpiffWorkflow {metadata.version('SpiffWorkflow')} has no "
                         f"{', '.join(missing)} on {owner}: the engine uses them")


def test_importing_the_engine_puts_every_override_in_place():
    assert engine.execution.spiff_overrides is spiff_overrides
    task = spiff_task.Task
    assert task._set_state is spiff_overrides._set_state
    assert task._add_child is spiff_overrides._add_child
    assert task.is_descendant_of is spiff_overrides._is_descendant_of
    assert DeepMerge.merge is spiff_overrides._merge
    assert TimeDateEventDefinition.has_fired is spiff_overrides._has_fired
    assert spiff_task.uuid4 is spiff_overrides.task_uuid
    assert spiff_task.time is spiff_overrides.TaskTime
    assert spiff_timer.datetime is spiff_overrides.TimerDatetime
    assert spiff_workflow.Workflow._tiltak_sparse is None
    assert task._tiltak_removed is False


def test_installing_again_changes_nothing():
    merge, add_child = DeepMerge.merge, spiff_task.Task._add_child
    spiff_overrides.install()
    assert DeepMerge.merge is merge
    assert spiff_task.Task._add_child is add_child

