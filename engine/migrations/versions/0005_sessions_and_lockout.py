"""Users: a session epoch that ends every session when it moves, and a sign-in lockout.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


# plain ALTER TABLE, not a batch copy: copying `users` on SQLite would drop the old table,
# and with it (ON DELETE CASCADE) every user's groups
def upgrade() -> None:
    op.add_column("users", sa.Column("session_epoch", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), nullable=False,
                                     server_default="0"))
    op.add_column("users", sa.Column("locked_until", sa.DateTime(timezone=True),
                                     nullable=True))


def downgrade() -> None:
    for column in ("locked_until", "failed_logins", "session_epoch"):
        op.drop_column("users", column)
