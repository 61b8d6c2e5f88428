"""Suspension, as in Camunda 7: a suspended process definition starts no new cases, a
suspended case has its tasks and timers held until it is activated.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("process_definitions", "process_instances"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("suspended", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))


def downgrade() -> None:
    for table in ("process_instances", "process_definitions"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("suspended")
