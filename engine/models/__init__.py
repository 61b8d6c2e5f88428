"""Database tables (docs/DESIGN.md, "Persistence"), by what they hold: what is deployed,
what a case is, the people, and the systems Tiltak talks to. Alembic's migrations and
every reader import them from here."""

from .base import Base
from .cases import (
    Attachment,
    CaseFacts,
    CaseFollow,
    HistoryEvent,
    HumanTask,
    InstanceClinic,
    InstanceState,
    MessageSubscription,
    ProcessInstance,
    TaskRecord,
    TaskVisibility,
)
from .definitions import (
    Deployment,
    ProcessDefinition,
    Resource,
    TimerStart,
)
from .integrations import (
    ApiToken,
    Webhook,
    WebhookAttempt,
    WebhookDelivery,
    WebhookTopic,
)
from .people import (
    AccessLog,
    Notification,
    OutboxMail,
    Receipt,
    User,
    UserGroup,
)

__all__ = [
    "AccessLog",
    "ApiToken",
    "Attachment",
    "Base",
    "CaseFacts",
    "CaseFollow",
    "Deployment",
    "HistoryEvent",
    "HumanTask",
    "InstanceClinic",
    "InstanceState",
    "MessageSubscription",
    "Notification",
    "OutboxMail",
    "ProcessDefinition",
    "ProcessInstance",
    "Receipt",
    "Resource",
    "TaskRecord",
    "TaskVisibility",
    "TimerStart",
    "User",
    "UserGroup",
    "Webhook",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookTopic",
]
