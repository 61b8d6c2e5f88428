"""History events name the state format and the engine version that wrote them.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("history_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state_format", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("engine_version", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("history_events", schema=None) as batch_op:
        batch_op.drop_column("engine_version")
        batch_op.drop_column("state_format")
