"""Webhook topics: what each live webhook hears, a row per event type and process, so
that commands queue webhook events without reading the webhooks first.

Revision ID: 0014
Revises: 0013
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    topics = op.create_table(
        "webhook_topics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_webhook_topics_webhook_id", "webhook_topics", ["webhook_id"],
                    unique=False)
    op.create_index("ix_webhook_topics_event_process", "webhook_topics",
                    ["event_type", "process_key"], unique=False)
    live = op.get_bind().execute(sa.text(
        "SELECT id, events, processes FROM webhooks WHERE removed_at IS NULL")).all()
    rows = []
    for webhook_id, events, processes in live:
        events = json.loads(events) if isinstance(events, str) else events
        processes = json.loads(processes) if isinstance(processes, str) else processes
        for event_type in events or ():
            for key in processes or (None,):
                rows.append({"webhook_id": webhook_id, "event_type": event_type,
                             "process_key": key})
    if rows:
        op.bulk_insert(topics, rows)


def downgrade() -> None:
    op.drop_index("ix_webhook_topics_event_process", table_name="webhook_topics")
    op.drop_index("ix_webhook_topics_webhook_id", table_name="webhook_topics")
    op.drop_table("webhook_topics")
