"""Instance states move to `instance_states`: a snapshot, then one delta per command.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    states = op.create_table(
        "instance_states",
        sa.Column("instance_id", sa.String(36),
                  sa.ForeignKey("process_instances.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("snapshot", sa.Boolean(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id", "seq"),
    )
    instances = sa.table("process_instances", sa.column("id", sa.String),
                         sa.column("state", sa.LargeBinary))
    op.get_bind().execute(states.insert().from_select(
        ["instance_id", "seq", "snapshot", "body"],
        sa.select(instances.c.id, sa.literal(1), sa.true(), instances.c.state)))
    # plain ALTER TABLE (SQLite 3.35 and later): no table is copied
    op.drop_column("process_instances", "state")


def downgrade() -> None:
    """Each instance's state put together again into the row's column."""
    import zlib

    from engine.store.states import assembled

    op.add_column("process_instances", sa.Column("state", sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    states = sa.table("instance_states", sa.column("instance_id", sa.String),
                      sa.column("seq", sa.Integer), sa.column("snapshot", sa.Boolean),
                      sa.column("body", sa.LargeBinary))
    instances = sa.table("process_instances", sa.column("id", sa.String),
                         sa.column("state", sa.LargeBinary))
    rows: dict[str, list] = {}
    for row in conn.execute(sa.select(states).order_by(states.c.instance_id, states.c.seq)):
        rows.setdefault(row.instance_id, []).append(tuple(row)[1:])
    for instance_id, found in rows.items():
        text = assembled(instance_id, found).text
        conn.execute(instances.update().where(instances.c.id == instance_id)
                     .values(state=zlib.compress(text.encode("utf-8"), 6)))
    op.drop_table("instance_states")
