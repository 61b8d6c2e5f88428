"""The process owners' overview: every process definition version with who deployed it
and when, and how many of its cases are running, stopped at an incident and finished;
and the deployments, newest first, with what each of them made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, defer

from ..models import Deployment, ProcessDefinition, ProcessInstance, Resource


@dataclass(frozen=True)
class Version:
    id: int
    key: str
    name: str
    version: int
    tenant: str
    resource_name: str
    deployment_id: int
    deployed_at: datetime
    deployed_by: str
    running: int = 0
    incidents: int = 0
    finished: int = 0  # completed or cancelled
    suspended: bool = False  # starts no new cases (Camunda's suspended definition)


@dataclass
class DeploymentSummary:
    id: int
    name: str
    tenant: str
    source: str | None
    deployed_at: datetime
    deployed_by: str
    versions: list[Version] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def versions(session: Session, key: str | None = None) -> list[Version]:
    """Every version (of one process key, or of all), by key, tenant and version."""
    counts: dict[int, dict[str, int]] = {}
    statement = select(ProcessInstance.definition_id, ProcessInstance.status,
                       func.count()).group_by(ProcessInstance.definition_id,
                                              ProcessInstance.status)
    if key is not None:
        statement = statement.where(ProcessInstance.process_key == key)
    for definition_id, status, count in session.execute(statement):
        counts.setdefault(definition_id, {})[status] = count
    query = select(ProcessDefinition, Deployment).options(
        defer(ProcessDefinition.spec)).join(
        Deployment, Deployment.id == ProcessDefinition.deployment_id).order_by(
        ProcessDefinition.key, ProcessDefinition.tenant, ProcessDefinition.version)
    if key is not None:
        query = query.where(ProcessDefinition.key == key)
    found = []
    for definition, deployment in session.execute(query):
        by_status = counts.get(definition.id, {})
        found.append(Version(
            definition.id, definition.key, definition.name, definition.version,
            definition.tenant, definition.resource_name, deployment.id,
            deployment.deployed_at, deployment.deployed_by,
            running=by_status.get("running", 0), incidents=by_status.get("error", 0),
            finished=by_status.get("completed", 0) + by_status.get("cancelled", 0),
            suspended=bool(definition.suspended)))
    return found


def deployments(session: Session, limit: int = 50) -> list[DeploymentSummary]:
    """The latest deployments, newest first, with the versions and files each made."""
    rows = session.scalars(select(Deployment).order_by(Deployment.id.desc()).limit(limit)).all()
    found = {d.id: DeploymentSummary(d.id, d.name, d.tenant, d.source, d.deployed_at,
                                     d.deployed_by) for d in rows}
    if not found:
        return []
    for version in versions(session):
        if version.deployment_id in found:
            found[version.deployment_id].versions.append(version)
    for deployment_id, name in session.execute(select(Resource.deployment_id, Resource.name)
                                               .where(Resource.deployment_id.in_(found))
                                               .order_by(Resource.id)):
        found[deployment_id].files.append(name)
    return list(found.values())
