"""`task_visibility` replaces `task_candidates`: who may see which open task, with sort keys.

Revision ID: 0003
Revises: 0002
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)
INDEXES = {
    "ix_task_visibility_due": ["principal", "due_key", "created_at", "task_id"],
    "ix_task_visibility_created": ["principal", "created_at", "task_id"],
    "ix_task_visibility_name": ["principal", "name", "created_at", "task_id"],
    "ix_task_visibility_process": ["principal", "process_key", "created_at", "task_id"],
    "ix_task_visibility_task_id": ["task_id"],
}


def upgrade() -> None:
    visibility = op.create_table(
        "task_visibility",
        sa.Column("principal", sa.String(length=210), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("due_key", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("process_key", sa.String(length=200), nullable=False),
        sa.Column("clinic", sa.String(length=100), nullable=True),
        sa.Column("business_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("principal", "task_id"),
    )
    with op.batch_alter_table("task_visibility", schema=None) as batch_op:
        for name, columns in INDEXES.items():
            batch_op.create_index(name, columns, unique=False)
    rows = []
    for task in _open_tasks():
        keys = {"task_id": task["id"], "due_key": task["due_at"] or NO_DEADLINE,
                "created_at": task["created_at"], "name": task["name"],
                "process_key": task["process_key"], "clinic": task["clinic"],
                "business_key": task["business_key"]}
        who = [f"a:{task['assignee']}"] if task["assignee"] else list(dict.fromkeys(
            [*(f"g:{g}" for g in task["candidate_groups"] or []),
             *(f"u:{u}" for u in task["candidate_users"] or [])]))
        rows += [{"principal": p, **keys} for p in who]
    if rows:
        op.bulk_insert(visibility, rows)
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.drop_index("ix_task_candidates_kind_value")
    op.drop_table("task_candidates")


def _open_tasks():
    tasks = sa.table("human_tasks", *(sa.column(c) for c in (
        "id", "assignee", "name", "process_key", "clinic", "business_key")),
        sa.column("due_at", sa.DateTime(timezone=True)),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("candidate_groups", sa.JSON), sa.column("candidate_users", sa.JSON))
    return op.get_bind().execute(sa.select(tasks)).mappings().all()


def downgrade() -> None:
    candidates = op.create_table(
        "task_candidates",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=5), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "kind", "value"),
    )
    with op.batch_alter_table("task_candidates", schema=None) as batch_op:
        batch_op.create_index("ix_task_candidates_kind_value", ["kind", "value"], unique=False)
    rows = [{"task_id": task["id"], "kind": kind, "value": value} for task in _open_tasks()
            for kind, values in (("group", task["candidate_groups"] or []),
                                 ("user", task["candidate_users"] or []))
            for value in dict.fromkeys(values)]
    if rows:
        op.bulk_insert(candidates, rows)
    with op.batch_alter_table("task_visibility", schema=None) as batch_op:
        for name in INDEXES:
            batch_op.drop_index(name)
    op.drop_table("task_visibility")
