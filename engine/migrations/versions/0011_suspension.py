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


# plain ALTER TABLE on both databases: SQLite adds and drops a column in place, where a
# batch copy of process_definitions would have to drop a table others refer to
def upgrade() -> None:
    for table in ("process_definitions", "process_instances"):
        op.add_column(table, sa.Column("suspended", sa.Boolean(), nullable=False,
                                       server_default=sa.false()))


def downgrade() -> None:
    for table in ("process_instances", "process_definitions"):
        op.drop_column(table, "suspended")
