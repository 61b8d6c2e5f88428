"""What a case is: its instance row and state, its history, and the projections
commands keep of it (open tasks and who sees them, subscriptions, task records, facts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    bindings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    id_counter: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime | None]
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)
    last_hash: Mapped[str] = mapped_column(String(64), default="")
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # tasks and timers held until activated (Camunda's suspended process instance)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __mapper_args__ = {"version_id_col": version}


class InstanceState(Base):
    """An instance's workflow state: a snapshot and the deltas written after it, each
    zlib-compressed; read and written by the store (engine/store/states.py) only."""

    __tablename__ = "instance_states"
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    snapshot: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[bytes] = mapped_column(LargeBinary)


class InstanceClinic(Base):
    """A clinic an instance concerns, taken from its start data when it is created.

    The auditors' search filters on it without reading any workflow state.
    """

    __tablename__ = "instance_clinics"
    instance_id: Mapped[str] = mapped_column(
        ForeignKey("process_instances.id", ondelete="CASCADE"), primary_key=True)
    clinic: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class HumanTask(Base):
    """An open user task: the worklist reads only this table and task_visibility."""

    __tablename__ = "human_tasks"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"))
    # the worklist filters and sorts on task_visibility's indexes, not on these columns
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    assignee: Mapped[str | None] = mapped_column(String(100))
    candidate_groups: Mapped[list[Any]] = mapped_column(default=list)
    candidate_users: Mapped[list[Any]] = mapped_column(default=list)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    follow_up_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    # copied for filtering and display, so the worklist never needs the instance's state
    business_key: Mapped[str | None] = mapped_column(String(200))
    clinic: Mapped[str | None] = mapped_column(String(100))


class TaskVisibility(Base):
    """Who may see an open task: one row per principal, the assignee alone once claimed
    (`a:name`), else each candidate user (`u:name`) and group (`g:group`). It carries
    the worklist's sort and filter keys, so a page reads one short index range per
    principal, however many tasks are open."""

    __tablename__ = "task_visibility"
    __table_args__ = (
        Index("ix_task_visibility_due", "principal", "due_key", "created_at", "task_id"),
        Index("ix_task_visibility_created", "principal", "created_at", "task_id"),
        Index("ix_task_visibility_name", "principal", "name", "created_at", "task_id"),
        Index("ix_task_visibility_process", "principal", "process_key", "created_at",
              "task_id"),
    )
    principal: Mapped[str] = mapped_column(String(210), primary_key=True)
    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    due_key: Mapped[datetime]  # the deadline, or the end of time for tasks without one
    created_at: Mapped[datetime]
    name: Mapped[str] = mapped_column(String(300))
    process_key: Mapped[str] = mapped_column(String(200))
    clinic: Mapped[str | None] = mapped_column(String(100))
    business_key: Mapped[str | None] = mapped_column(String(200))
    # the case's title (case_facts.title), kept with the row so that the text search
    # reads no other table
    title: Mapped[str | None] = mapped_column(String(200))


class MessageSubscription(Base):
    __tablename__ = "message_subscriptions"
    __table_args__ = (Index("ix_message_subscriptions_name_key", "message_name", "business_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    message_name: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))


class HistoryEvent(Base):
    """Append-only: one row per command, chained by hashes per instance."""

    __tablename__ = "history_events"
    __table_args__ = (UniqueConstraint("stream", "seq"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    stream: Mapped[str] = mapped_column(String(60))
    seq: Mapped[int]
    # the instance's events are its stream (read by the stream's index); None: a deployment
    instance_id: Mapped[str | None] = mapped_column(String(36))
    type: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100), index=True)  # "Mine saker": took part
    at: Mapped[datetime]
    element_id: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(36), index=True)
    data: Mapped[str] = mapped_column(Text)
    state_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # what wrote it (none on events written before they were recorded)
    state_format: Mapped[str | None] = mapped_column(String(40))
    engine_version: Mapped[str | None] = mapped_column(String(40))


class Attachment(Base):
    """A document attached to an instance (final analysis, KPU minutes), stored once."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    field: Mapped[str | None] = mapped_column(String(200))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime]


class TaskRecord(Base):
    """Every human task that was ever open, kept when it closes: the indicators read it.

    `indicator` is the task's `indikator` extension property from the diagram (e.g.
    `tiltak`, `tilbakemelding`, `lovpalagt-varsel`, `undersokelse`), so a process owner
    decides in the Modeler which tasks count for which figure.
    """

    __tablename__ = "task_records"
    __table_args__ = (Index("ix_task_records_indicator_ended", "indicator", "ended_at"),
                      Index("ix_task_records_element_ended", "process_key", "element_id",
                            "ended_at"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    indicator: Mapped[str | None] = mapped_column(String(100))
    clinic: Mapped[str | None] = mapped_column(String(100))
    unit: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # completed or cancelled
    completed_by: Mapped[str | None] = mapped_column(String(100))


class CaseFacts(Base):
    """What a case is about, from its process variables after every command.

    Kept for the indicators and for visibility (anonymous reporter, sensitive case), so
    neither ever deserializes a workflow.
    """

    __tablename__ = "case_facts"
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"),
                                             primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    clinic: Mapped[str | None] = mapped_column(String(100), index=True)
    unit: Mapped[str | None] = mapped_column(String(100))
    serious: Mapped[bool | None] = mapped_column(Boolean)
    risk_class: Mapped[str | None] = mapped_column(String(20))
    expertise: Mapped[bool | None] = mapped_column(Boolean)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    # what the case is called on screen (routines/case_facts.py: TITLE_VARIABLES)
    title: Mapped[str | None] = mapped_column(String(200))


class CaseFollow(Base):
    """A user follows a case: it is listed under "Mine saker" until they stop."""

    __tablename__ = "case_follows"
    user_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"),
                                             primary_key=True, index=True)
    since: Mapped[datetime]

