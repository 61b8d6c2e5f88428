"""On SQLite, the worklist's text search gets an index of its own: `task_search`, an FTS5
table with the trigram tokenizer, one row per open task (engine/store/task_search.py),
filled here with the tasks open now. Where SQLite was built without FTS5 or its trigram
tokenizer (SQLite 3.34 or later has it) the table is left out, with a warning, and the
search reads each principal's rows as before.

Revision ID: 0018
Revises: 0017
"""

from uuid import UUID

import sqlalchemy as sa
from alembic import op

from engine.store import task_search

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if not task_search.make_fts_table(bind, "CREATE VIRTUAL TABLE task_search USING "
                                      "fts5(searched, task_id UNINDEXED, tokenize='trigram')"):
        return
    tasks = bind.execute(sa.text(
        "SELECT id, name, business_key, (SELECT title FROM task_visibility "
        "WHERE task_visibility.task_id = human_tasks.id LIMIT 1) FROM human_tasks")).all()
    if tasks:
        bind.execute(sa.text("INSERT INTO task_search (rowid, task_id, searched) "
                             "VALUES (:key, :task_id, :searched)"),
                     [{"key": UUID(task_id).int >> 65, "task_id": task_id,  # the rowid kept
                       "searched": f"{name} {business_key or ''} {title or ''}".lower()}
                      for task_id, name, business_key, title in tasks])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS task_search")
