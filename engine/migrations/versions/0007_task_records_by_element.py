"""Task records by process, element and end: the last completion of a task, which a task
with the property `fra_forrige` is shown (engine/carry_over.py), is found by this index.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = ["process_key", "element_id", "ended_at"]


def upgrade() -> None:
    with op.batch_alter_table("task_records", schema=None) as batch_op:
        batch_op.create_index("ix_task_records_element_ended", COLUMNS, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("task_records", schema=None) as batch_op:
        batch_op.drop_index("ix_task_records_element_ended")
