"""What is deployed: deployments, their resources, process definitions and the
schedule of timer start events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class Deployment(Base):
    __tablename__ = "deployments"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str] = mapped_column(String(100), default="")
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str] = mapped_column(String(100))
    # where it came from, as the deploying client says (Camunda's deployment source)
    source: Mapped[str | None] = mapped_column(String(200))


class Resource(Base):
    """A deployed file (BPMN, DMN, Camunda Form) exactly as the process owner saved it."""

    __tablename__ = "resources"
    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    form_id: Mapped[str | None] = mapped_column(String(200), index=True)
    tenant: Mapped[str] = mapped_column(String(100), default="")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content: Mapped[str] = mapped_column(Text)


class ProcessDefinition(Base):
    __tablename__ = "process_definitions"
    __table_args__ = (UniqueConstraint("key", "tenant", "version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200), index=True)
    tenant: Mapped[str] = mapped_column(String(100), default="")
    version: Mapped[int]
    name: Mapped[str] = mapped_column(String(300))
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"))
    resource_name: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)
    called: Mapped[list[Any]] = mapped_column(default=list)
    starter_groups: Mapped[list[Any]] = mapped_column(default=list)
    start_form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    timer_start: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    deployed_at: Mapped[datetime]
    # no new cases while suspended (Camunda's suspended process definition)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TimerStart(Base):
    """When the next instance of a process with a timer start event is due."""

    __tablename__ = "timer_starts"
    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    tenant: Mapped[str] = mapped_column(String(100), default="")
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    next_at: Mapped[datetime] = mapped_column(index=True)
    remaining: Mapped[int]  # instances still to start; -1 for a cycle without end
    interval_seconds: Mapped[float | None]

