"""On SQLite, the worklist's search index keeps a row per running case instead of one per
open task: `case_search`, an FTS5 trigram table over the case's number and title, and an
index of the open tasks' names, which the search reads whole (engine/store/task_search.py).
A case's row is written once or twice in its life, not with every task. Where SQLite
lacks FTS5's trigram tokenizer, the table is left out, as migration 0018 left its own.

Revision ID: 0019
Revises: 0018
"""

import importlib
import logging

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

NAMES = "ix_human_tasks_name"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS task_search")
    op.execute(f"CREATE INDEX {NAMES} ON human_tasks (name)")
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE VIRTUAL TABLE case_search USING "
                                 "fts5(searched, instance_id UNINDEXED, tokenize='trigram')"))
    except sa.exc.DBAPIError as err:
        logging.getLogger("tiltak.schema").warning(
            "the worklist's text search is left without its index, and reads every row a "
            "user may see: SQLite's FTS5 trigram tokenizer could not be used (%s)",
            str(err.orig).strip().splitlines()[0])
        return
    from engine.store import task_search
    cases = bind.execute(sa.text(
        "SELECT process_instances.id, business_key, title FROM process_instances "
        "LEFT JOIN case_facts ON case_facts.instance_id = process_instances.id "
        "WHERE status NOT IN ('completed', 'cancelled')")).all()
    task_search.index_now(bind, {instance_id: task_search.case_text(business_key, title)
                                 for instance_id, business_key, title in cases})


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS case_search")
    op.execute(f"DROP INDEX IF EXISTS {NAMES}")
    importlib.import_module("engine.migrations.versions.0018_sqlite_task_search").upgrade()
