"""On PostgreSQL, a trigram index over what the worklist's text search reads (the task's
name, the business key and the case's title, lowercased and joined): a search for a case
number or a rare word reads the few rows that match instead of every row a user may see.
It needs the `pg_trgm` extension (shipped with PostgreSQL, and trusted: a database owner
may create it). Where it cannot be created the index is left out, with a warning, and
the search reads each principal's rows as before (docs/OPERATIONS.md).

Revision ID: 0017
Revises: 0016
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

INDEX = "ix_task_visibility_search"
# the same text as engine/queries/worklist.py's SEARCHED, which the planner must match
SEARCHED = ("(lower(name) || ' ' || coalesce(lower(business_key), '') || ' ' || "
            "coalesce(lower(title), ''))")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            # the operator class where the extension lives, which may be a schema
            # outside the search path
            schema = bind.scalar(sa.text(
                "SELECT extnamespace::regnamespace::text FROM pg_extension "
                "WHERE extname = 'pg_trgm'"))
            bind.execute(sa.text(f"CREATE INDEX {INDEX} ON task_visibility "
                                 f"USING gin ({SEARCHED} {schema}.gin_trgm_ops)"))
    except sa.exc.DBAPIError as err:
        logging.getLogger("tiltak.schema").warning(
            "the worklist's text search is left without its index, and reads every row a "
            "user may see: the pg_trgm extension could not be used (%s)",
            str(err.orig).strip().splitlines()[0])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
