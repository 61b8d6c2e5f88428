"""Workflow states are kept zlib-compressed (about a tenth of the JSON).

Revision ID: 0004
Revises: 0003
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade() -> None:
    _convert(sa.LargeBinary(), lambda text: zlib.compress(text.encode("utf-8"), 6))


def downgrade() -> None:
    _convert(sa.Text(), lambda data: zlib.decompress(data).decode("utf-8"))


def _convert(new_type, change) -> None:
    """A new column beside `state`, filled in batches, then put in its place (plain
    ALTER TABLE on both databases: no table is copied)."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    empty = "''" if isinstance(new_type, sa.Text) else "X''" if sqlite else "''::bytea"
    # NOT NULL needs a default to be added; SQLite cannot drop it afterwards
    op.add_column("process_instances", sa.Column("state_new", new_type, nullable=False,
                                                 server_default=sa.text(empty)))
    instances = sa.table("process_instances", sa.column("id", sa.String),
                         sa.column("state"), sa.column("state_new", new_type))
    conn = op.get_bind()
    after = ""
    while True:
        rows = conn.execute(sa.select(instances.c.id, instances.c.state)
                            .where(instances.c.id > after).order_by(instances.c.id)
                            .limit(BATCH)).all()
        if not rows:
            break
        conn.execute(instances.update().where(instances.c.id == sa.bindparam("row_id"))
                     .values(state_new=sa.bindparam("value")),
                     [{"row_id": row_id, "value": change(state)} for row_id, state in rows])
        after = rows[-1][0]
    op.drop_column("process_instances", "state")
    op.alter_column("process_instances", "state_new", new_column_name="state")
    if not sqlite:
        op.alter_column("process_instances", "state", server_default=None)
