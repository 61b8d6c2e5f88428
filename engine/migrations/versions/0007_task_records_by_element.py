"""Task records indexed by process, element and end, for `fra_forrige` (carry_over.py).

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
