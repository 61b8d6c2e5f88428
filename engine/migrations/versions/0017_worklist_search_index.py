"""On PostgreSQL, a trigram index over what the worklist's text search reads (the task's
name, the business key and the case's title, lowercased and joined): a search for a case
number or a rare word reads the few rows that match instead of every row a user may see.
It needs the `pg_trgm` extension (shipped with PostgreSQL, and trusted: a database owner
may create it). Where it cannot be created the index is left out, with a warning, and
the search reads each principal's rows as before; a later schema upgrade that can
create it does (engine/store/task_search.py, docs/OPERATIONS.md).

Revision ID: 0017
Revises: 0016
"""

from alembic import op

from engine.store import task_search

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        task_search.ensure_trigram_index(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {task_search.TRIGRAM_INDEX}")
