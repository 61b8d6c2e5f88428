"""`task_visibility` carries the case's title, so that the worklist's text search reads
no table but its own: looking the title up through `human_tasks` and `case_facts` for
every row the name and business key do not match grew with the number of open tasks.
The rows of tasks open now get their case's title.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("task_visibility", sa.Column("title", sa.String(length=200), nullable=True))
    op.execute("UPDATE task_visibility SET title = ("
               "SELECT case_facts.title FROM human_tasks JOIN case_facts "
               "ON case_facts.instance_id = human_tasks.instance_id "
               "WHERE human_tasks.id = task_visibility.task_id)")


def downgrade() -> None:
    with op.batch_alter_table("task_visibility", schema=None) as batch_op:
        batch_op.drop_column("title")
