"""A migration plan: which activity of a source version becomes which activity of a
target version of the same process key. Generated with a same-id mapping for every
activity both versions have, edited as JSON, and read back with every fault named."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from .repoint import Problem

PLAN_FORMAT = "tiltak-migration-plan/1"


@dataclass
class Plan:
    """`instructions`: source element id -> target element id (Camunda's
    sourceActivityIds/targetActivityIds, one each)."""

    process_key: str
    source_version: int
    target_version: int
    instructions: dict[str, str] = field(default_factory=dict)
    tenant: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"format": PLAN_FORMAT, "processKey": self.process_key,
                "tenant": self.tenant or None,
                "sourceVersion": self.source_version, "targetVersion": self.target_version,
                "instructions": [{"sourceActivityId": s, "targetActivityId": t}
                                 for s, t in sorted(self.instructions.items())]}

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"


def activities(spec, embedded: dict[str, Any]) -> dict[str, str]:
    """The activities and events a process version has, by element id, with their kind
    (the task spec's class): its own and those of its embedded subprocesses."""
    found: dict[str, str] = {}
    for process in (spec, *embedded.values()):
        for task_spec in process.task_specs.values():
            element = getattr(task_spec, "bpmn_id", None)
            if element:
                found[element] = type(task_spec).__name__
    return found


def same_ids(process_key: str, source_version: int, target_version: int,
             source: dict[str, str], target: dict[str, str], tenant: str = "") -> Plan:
    """Every activity present in both versions mapped to itself."""
    return Plan(process_key, source_version, target_version,
                {element: element for element in sorted(source) if element in target},
                tenant)


def parse(text: str, where: str = "the plan") -> Plan:
    """A plan from its JSON; InvalidInput naming what is wrong and where."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as err:
        raise InvalidInput(f"{where} is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"{where} must be a JSON object")
    if doc.get("format", PLAN_FORMAT) != PLAN_FORMAT:
        raise InvalidInput(f"{where} has the format {doc.get('format')!r}, not {PLAN_FORMAT}")
    key = doc.get("processKey")
    if not isinstance(key, str) or not key:
        raise InvalidInput(f"{where}: processKey must name a process")
    versions = []
    for name in ("sourceVersion", "targetVersion"):
        value = doc.get(name)
        if type(value) is not int or value < 1:
            raise InvalidInput(f"{where}: {name} must be a version number (1 or more)")
        versions.append(value)
    tenant = doc.get("tenant") or ""
    if not isinstance(tenant, str):
        raise InvalidInput(f"{where}: tenant must be text or null")
    if doc.get("variables"):
        raise InvalidInput(f"{where}: setting variables while migrating (Camunda's "
                           "plan variables) is not supported")
    listed = doc.get("instructions")
    if not isinstance(listed, list):
        raise InvalidInput(f"{where}: instructions must be a list")
    instructions: dict[str, str] = {}
    for number, item in enumerate(listed, 1):
        spot = f"{where}, instruction {number}"
        if not isinstance(item, dict):
            raise InvalidInput(f"{spot} must be an object")
        if item.get("updateEventTrigger"):
            raise InvalidInput(f"{spot}: updateEventTrigger is not supported (a waiting "
                               "timer keeps its due time, a message event its name)")
        source, target = (_one_id(item, name, spot) for name in ("sourceActivityId",
                                                                  "targetActivityId"))
        if source in instructions:
            raise InvalidInput(f"{spot}: {source} is mapped twice")
        instructions[source] = target
    return Plan(key, versions[0], versions[1], instructions, tenant)


def _one_id(item: dict[str, Any], name: str, spot: str) -> str:
    """The element an instruction names as `name`, or as Camunda's list `name + "s"`
    with one id in it."""
    value = item.get(name)
    if value is None and isinstance(item.get(name + "s"), list):
        listed = item[name + "s"]
        if len(listed) != 1:
            raise InvalidInput(f"{spot}: {name}s must hold one id: instructions with "
                               "several source or target activities are not supported")
        value = listed[0]
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{spot}: {name} must name an element")
    return value


def check_against(plan: Plan, source: dict[str, str], target: dict[str, str]
                  ) -> list[Problem]:
    """What of the plan names elements the versions do not have, or maps an activity to
    one of another kind (each fault one sentence, about the source element)."""
    faults = []
    key = plan.process_key
    for element, to in sorted(plan.instructions.items()):
        if element not in source:
            faults.append(Problem(element, f"version {plan.source_version} of {key} has no "
                                           "such element", "plan_source_missing",
                                  {"element": element, "key": key,
                                   "version": plan.source_version}))
        elif to not in target:
            faults.append(Problem(element, f"version {plan.target_version} of {key} has no "
                                           f"element {to}", "plan_target_missing",
                                  {"element": element, "key": key, "target": to,
                                   "version": plan.target_version}))
        elif source[element] != target[to]:
            faults.append(Problem(element, f"a {source[element]} cannot become {to}, a "
                                           f"{target[to]}", "kind_changes",
                                  {"element": element, "kind": source[element],
                                   "target": to, "target_kind": target[to]}))
    return faults
