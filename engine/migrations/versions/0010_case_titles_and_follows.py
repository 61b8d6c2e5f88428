"""Case facts get the case's title, users may follow cases, and the history is indexed
by who acted ("Mine saker": the cases a user took part in).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("case_facts", sa.Column("title", sa.String(length=200), nullable=True))
    op.create_table(
        "case_follows",
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"]),
        sa.PrimaryKeyConstraint("user_name", "instance_id"))
    op.create_index("ix_case_follows_instance_id", "case_follows", ["instance_id"])
    op.create_index("ix_history_events_actor", "history_events", ["actor"])


def downgrade() -> None:
    op.drop_index("ix_history_events_actor", table_name="history_events")
    op.drop_index("ix_case_follows_instance_id", table_name="case_follows")
    op.drop_table("case_follows")
    op.drop_column("case_facts", "title")
