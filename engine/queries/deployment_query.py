"""Finding deployments by name, source, tenant and time, sorted and paged, in the
terms of Camunda's deployment query (what Camunda Modeler asks before it deploys)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, defer

from ..models import Deployment, ProcessDefinition, Resource

SORTS = {"id": Deployment.id, "name": Deployment.name,
         "deploymentTime": Deployment.deployed_at, "tenantId": Deployment.tenant}


@dataclass(frozen=True)
class DeploymentQuery:
    id: int | None = None
    name: str | None = None
    name_like: str | None = None
    source: str | None = None
    without_source: bool = False
    tenants: tuple[str, ...] | None = None
    without_tenant: bool = False
    include_without_tenant: bool = False
    after: datetime | None = None
    before: datetime | None = None
    sort_by: str = "id"
    descending: bool = False
    first: int = 0
    limit: int | None = None


def find(session: Session, query: DeploymentQuery) -> list[Deployment]:
    if query.limit == 0:
        return []
    statement = _filtered(select(Deployment), query)
    order = SORTS[query.sort_by]
    statement = statement.order_by(order.desc() if query.descending else order.asc(),
                                   Deployment.id)
    statement = statement.offset(query.first)
    if query.limit is not None:
        statement = statement.limit(query.limit)
    return list(session.scalars(statement))


def _filtered(statement: Select, query: DeploymentQuery) -> Select:
    if query.id is not None:
        statement = statement.where(Deployment.id == query.id)
    if query.name is not None:
        statement = statement.where(Deployment.name == query.name)
    if query.name_like is not None:
        statement = statement.where(Deployment.name.like(query.name_like))
    if query.source is not None:
        statement = statement.where(Deployment.source == query.source)
    if query.without_source:
        statement = statement.where(Deployment.source.is_(None))
    if query.tenants is not None:
        tenants = set(query.tenants) | ({""} if query.include_without_tenant else set())
        statement = statement.where(Deployment.tenant.in_(tenants))
    if query.without_tenant:
        statement = statement.where(Deployment.tenant == "")
    if query.after is not None:
        statement = statement.where(Deployment.deployed_at > query.after)
    if query.before is not None:
        statement = statement.where(Deployment.deployed_at < query.before)
    return statement


def definitions_of(session: Session, deployment_id: int) -> list[ProcessDefinition]:
    """The process definition versions a deployment created."""
    return list(session.scalars(select(ProcessDefinition).options(
        defer(ProcessDefinition.spec)).where(
        ProcessDefinition.deployment_id == deployment_id).order_by(ProcessDefinition.id)))


def resources_of(session: Session, deployment_id: int) -> list[Resource]:
    return list(session.scalars(select(Resource).where(
        Resource.deployment_id == deployment_id).order_by(Resource.id)))
