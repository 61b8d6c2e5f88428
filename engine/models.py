"""Database tables: definitions on one side, instances and their projections on the other
(docs/DESIGN.md, "Persistence").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON,
                           list[Any]: JSON}


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


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
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
    process_key: Mapped[str] = mapped_column(String(200), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    assignee: Mapped[str | None] = mapped_column(String(100), index=True)
    candidate_groups: Mapped[list[Any]] = mapped_column(default=list)
    candidate_users: Mapped[list[Any]] = mapped_column(default=list)
    due_at: Mapped[datetime | None] = mapped_column(index=True)
    follow_up_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(Integer, default=50)
    form: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    # copied for filtering and display, so the worklist never needs the instance's state
    business_key: Mapped[str | None] = mapped_column(String(200))
    clinic: Mapped[str | None] = mapped_column(String(100), index=True)


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
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
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


class Notification(Base):
    """A message to one user (reminder, escalation), shown in the app and e-mailed."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(String(100), index=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), index=True)
    element_id: Mapped[str | None] = mapped_column(String(200))
    template: Mapped[str] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(10))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class OutboxMail(Base):
    """E-mail waiting to be sent; retried with backoff, never lost on a crash."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id"))
    to_address: Mapped[str] = mapped_column(String(200))
    # a notification's mail is its notification's subject and body, not a copy of them
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending sent failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class User(Base):
    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="nb")
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # a signed-in session names the epoch it began in; moving it on ends every session
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None]  # sign-in paused after too many failures


class UserGroup(Base):
    __tablename__ = "user_groups"
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name", ondelete="CASCADE"),
                                           primary_key=True)
    group_name: Mapped[str] = mapped_column(String(200), primary_key=True, index=True)


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


class Receipt(Base):
    """A reporter's receipt: the code (stored hashed) that fetches the feedback on a report.

    An anonymous reporter's name is recorded nowhere; an e-mail address for the feedback
    is kept here only, never in the case's data, so the handlers do not see it.
    """

    __tablename__ = "receipts"
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"),
                                             unique=True)
    email: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="nb")
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_at: Mapped[datetime | None]


class CaseFollow(Base):
    """A user follows a case: it is listed under "Mine saker" until they stop."""

    __tablename__ = "case_follows"
    user_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"),
                                             primary_key=True, index=True)
    since: Mapped[datetime]


class AccessLog(Base):
    """Who read a sensitive case, when and which page: append-only, shown to auditors."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("process_instances.id"), index=True)
    user_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]
    what: Mapped[str] = mapped_column(String(50))


class ApiToken(Base):
    """A token an integration (an incident system) uses on the JSON API on behalf of one
    user, limited to some actions and processes. Only its SHA-256 is kept: the token is
    shown once, when it is made (engine/tokens.py)."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_name: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    processes: Mapped[list[Any] | None] = mapped_column(JSON)  # none: every process
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Webhook(Base):
    """An operator's subscription: the events of some processes posted to a URL, signed
    with its own secret. The secret is kept as it is, since signing needs it (a hash
    cannot sign); a removed webhook keeps its row so its delivery log stays readable."""

    __tablename__ = "webhooks"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(100))
    events: Mapped[list[Any]] = mapped_column(default=list)
    processes: Mapped[list[Any] | None] = mapped_column(JSON)  # none: every process
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    removed_at: Mapped[datetime | None]


class WebhookDelivery(Base):
    """One event for one webhook: its body as first written (so every retry sends and
    signs the same bytes), retried with backoff until delivered or given up."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str | None] = mapped_column(String(36))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending sent failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One try at a delivery, for the operators' log: when, the receiver's HTTP status
    or the error, and how long it took."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
