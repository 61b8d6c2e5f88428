"""A notification's e-mail takes its subject and body from the notification, not a copy.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

outbox = sa.table("outbox_mail", sa.column("notification_id", sa.Integer),
                  sa.column("subject", sa.String), sa.column("body", sa.Text))
notes = sa.table("notifications", sa.column("id", sa.Integer),
                 sa.column("subject", sa.String), sa.column("body", sa.Text))


def upgrade() -> None:
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(300), nullable=True)
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=True)
    op.execute(outbox.update().where(outbox.c.notification_id.is_not(None))
               .values(subject=None, body=None))


def downgrade() -> None:
    def of_note(column):
        return sa.select(column).where(notes.c.id == outbox.c.notification_id) \
            .scalar_subquery()

    op.execute(outbox.update().where(outbox.c.notification_id.is_not(None))
               .values(subject=of_note(notes.c.subject), body=of_note(notes.c.body)))
    with op.batch_alter_table("outbox_mail", schema=None) as batch_op:
        batch_op.alter_column("subject", existing_type=sa.String(300), nullable=False)
        batch_op.alter_column("body", existing_type=sa.Text(), nullable=False)
