"""On SQLite, the worklist's search index keeps a row per running case instead of one per
open task: `case_search`, an FTS5 trigram table over the case's number and title, and an
index of the open tasks' names, which the search reads whole (engine/store/task_search.py).
A case's row is written once or twice in its life, not with every task. Where SQLite
lacks FTS5's trigram tokenizer, the table is left out, as migration 0018 left its own.

Revision ID: 0019
Revises: 0018
"""

import importlib

import sqlalchemy as sa
from alembic import op

from engine.store import task_search

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS task_search")
    op.execute(f"CREATE INDEX {task_search.NAME_INDEX} ON human_tasks (name)")
    if not task_search.make_fts_table(
            bind, f"CREATE VIRTUAL TABLE {task_search.TABLE} USING "
                  "fts5(searched, instance_id UNINDEXED, tokenize='trigram')"):
        return
    cases = bind.execute(sa.text(
        "SELECT process_instances.id, business_key, title FROM process_instances "
        "LEFT JOIN case_facts ON case_facts.instance_id = process_instances.id "
        "WHERE status NOT IN ('completed', 'cancelled')")).all()
    task_search.index_now(bind, {instance_id: task_search.case_text(business_key, title)
                                 for instance_id, business_key, title in cases})


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"DROP TABLE IF EXISTS {task_search.TABLE}")
    op.execute(f"DROP INDEX IF EXISTS {task_search.NAME_INDEX}")
    importlib.import_module("engine.migrations.versions.0018_sqlite_task_search").upgrade()
