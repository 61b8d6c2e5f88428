"""Indexes no query reads, dropped: every command that opens, claims or closes a task, or
starts a case, wrote them. The worklist reads `task_visibility`, which has its own
indexes by assignee, clinic and process; a case is found by a part of its business key,
which no index on the whole key serves. An instance's events are read by their stream,
which the (stream, seq) index serves; the events' instance id needs no index of its own.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

UNREAD = (("ix_human_tasks_assignee", "human_tasks", "assignee"),
          ("ix_human_tasks_clinic", "human_tasks", "clinic"),
          ("ix_human_tasks_process_key", "human_tasks", "process_key"),
          ("ix_process_instances_business_key", "process_instances", "business_key"),
          ("ix_history_events_instance_id", "history_events", "instance_id"))


def upgrade() -> None:
    for name, table, _column in UNREAD:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, column in UNREAD:
        op.create_index(name, table, [column], unique=False)
