"""Tiltak's deployments, definitions and cases in the JSON shapes of Camunda 7's REST API
(DeploymentDto, ProcessDefinitionDto, ProcessInstanceDto)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import url_for

from engine.errors import NotFound
from engine.model.xml import parse_xml
from engine.models import Deployment, ProcessDefinition, ProcessInstance, Resource


def camunda_time(moment: datetime | None) -> str | None:
    """`2026-03-01T09:30:00.000+0000`, as Camunda writes a date."""
    if moment is None:
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + \
        moment.strftime("%z")


def definition_id(definition: ProcessDefinition) -> str:
    """Camunda's `key:version:id`; the row number after the last colon finds it again."""
    return f"{definition.key}:{definition.version}:{definition.id}"


def row_of_definition_id(text: str) -> int:
    number = text.rsplit(":", 1)[-1]
    if not number.isdigit() or len(number) > 18:
        raise NotFound(f"No matching process definition with id {text}")
    return int(number)


def link(endpoint: str, **values: Any) -> dict[str, str]:
    return {"method": "GET", "href": url_for(endpoint, _external=True, **values),
            "rel": "self"}


def deployment(row: Deployment) -> dict[str, Any]:
    return {"links": [link("engine_rest.deployment", deployment_id=row.id)],
            "id": str(row.id), "name": row.name, "source": row.source,
            "deploymentTime": camunda_time(row.deployed_at), "tenantId": row.tenant or None}


def process_definition(row: ProcessDefinition) -> dict[str, Any]:
    return {"id": definition_id(row), "key": row.key, "category": None,
            "description": None, "name": row.name, "version": row.version,
            "resource": row.resource_name, "deploymentId": str(row.deployment_id),
            "diagram": None, "suspended": bool(row.suspended), "tenantId": row.tenant or None,
            "versionTag": None, "historyTimeToLive": None, "startableInTasklist": True}


def decision_definitions(resource: Resource) -> dict[str, dict[str, Any]]:
    """The decision tables of a DMN file in a deployment. Tiltak versions a decision
    with the processes that use it, so a decision has no version of its own here."""
    root = parse_xml(resource.content.encode("utf-8"), resource.name).getroot()
    found = {}
    for node in root:
        if isinstance(node.tag, str) and node.tag.endswith("}decision") and node.get("id"):
            ident = f"{node.get('id')}:{resource.deployment_id}"
            found[ident] = {"id": ident, "key": node.get("id"), "category": None,
                            "name": node.get("name"), "version": None,
                            "resource": resource.name,
                            "deploymentId": str(resource.deployment_id),
                            "tenantId": resource.tenant or None,
                            "decisionRequirementsDefinitionId": None,
                            "decisionRequirementsDefinitionKey": None,
                            "historyTimeToLive": None, "versionTag": None}
    return found


def deployment_with_definitions(row: Deployment, processes: list[ProcessDefinition],
                                resources: list[Resource]) -> dict[str, Any]:
    decisions: dict[str, Any] = {}
    for resource in resources:
        if resource.kind == "dmn":
            decisions.update(decision_definitions(resource))
    return {**deployment(row),
            "deployedProcessDefinitions": {definition_id(d): process_definition(d)
                                           for d in processes} or None,
            "deployedCaseDefinitions": None,
            "deployedDecisionDefinitions": decisions or None,
            "deployedDecisionRequirementsDefinitions": None}


def process_instance(row: ProcessInstance, definition: ProcessDefinition) -> dict[str, Any]:
    return {"links": [link("engine_rest.process_instance", instance_id=row.id)],
            "id": row.id, "definitionId": definition_id(definition),
            "definitionKey": definition.key, "businessKey": row.business_key,
            "caseInstanceId": None, "ended": row.status in ("completed", "cancelled"),
            "suspended": bool(row.suspended), "tenantId": definition.tenant or None}
