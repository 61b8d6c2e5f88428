"""Deployments: the source the deploying client names (Camunda's deployment source).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deployments", sa.Column("source", sa.String(200), nullable=True))


def downgrade() -> None:
    op.drop_column("deployments", "source")
