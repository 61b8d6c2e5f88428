"""The indexes of the worklist's text search.

SQLite's: one row per open task in `task_search`,
an FTS5 table with the trigram tokenizer over the task's name, case number and case
title (migration 0018), so that a case number or a rare word is found among the few tasks
that hold it, not by reading every row a user may see. PostgreSQL has its trigram index
on `task_visibility` instead (migration 0017) and its planner picks the way.

A row's key is the task id's first 63 bits: the table's rowid, which VACUUM keeps (it
renumbers rowids it was not given). Rows are written with the task, by the same command,
and only where the table exists: an SQLite built without FTS5's trigram tokenizer gets
no table, and its search reads the rows as before.

PostgreSQL's: a trigram index (`pg_trgm`) on the expression the query compares, made by
migration 0017 and, where the extension could not be created then, by any later schema
upgrade that finds it can (`ensure_trigram_index`).
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, exc, func, literal_column, text
from sqlalchemy.engine import Connection, Engine

from ..models import TaskVisibility
from .prepared import Prepared, Writes

_V = TaskVisibility.__table__.c
_SPACE, _NOTHING = literal_column("' '"), literal_column("''")
# what the worklist's text search compares: the task's name, case number and case
# title, lowercased and joined; PostgreSQL's trigram index is made on this expression,
# so that the planner finds it there, and SQLite's rows hold its text (`searched`)
SEARCHED = (func.lower(_V.name).concat(_SPACE)
            .concat(func.coalesce(func.lower(_V.business_key), _NOTHING)).concat(_SPACE)
            .concat(func.coalesce(func.lower(_V.title), _NOTHING)))

TABLE = "task_search"
SHORTEST = 3  # letters the trigram index can find: shorter words are looked for row by row
_ADD = Prepared(text(f"INSERT INTO {TABLE} (rowid, task_id, searched) "
                     "VALUES (:key, :task_id, :searched)").bindparams(
    bindparam("key"), bindparam("task_id"), bindparam("searched")))
_DROP = Prepared(text(f"DELETE FROM {TABLE} WHERE rowid = :key").bindparams(bindparam("key")))
# (a row whose text is the same is not written: a command that cannot tell whether the
# title changed, one run on a case read back from the database, asks for every task)
_SET = Prepared(text(f"UPDATE {TABLE} SET searched = :searched WHERE rowid = :key "
                     "AND searched IS NOT :searched")
                .bindparams(bindparam("key"), bindparam("searched")))
SAMPLE = 256
KEYS = 2 ** 63  # keys are task ids' first 63 bits
# FTS5 keeps a row per document in a table of its own, keyed as the documents are
_SAMPLE_OPEN = text(f"SELECT id FROM {TABLE}_docsize ORDER BY id LIMIT 1 OFFSET :skip")
_FIRST_MATCHING = text(f"SELECT rowid, task_id FROM {TABLE} WHERE {TABLE} MATCH :phrase "
                       "ORDER BY rowid LIMIT :most")
_MATCHING = text(f"SELECT task_id FROM {TABLE} WHERE {TABLE} MATCH :phrase LIMIT :most")
_found: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
TRIGRAM_INDEX = "ix_task_visibility_search"


def ensure_trigram_index(conn: Connection) -> bool:
    """PostgreSQL: the trigram index, made if it is missing and the `pg_trgm` extension
    can be had (it ships with PostgreSQL and is trusted: a database's owner may create
    it); a warning if not, and nothing else changed. Returns whether the index is there."""
    if conn.scalar(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": TRIGRAM_INDEX}):
        return True
    try:
        with conn.begin_nested():
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            # the operator class where the extension lives, which may be a schema
            # outside the search path
            schema = conn.scalar(text("SELECT extnamespace::regnamespace::text "
                                      "FROM pg_extension WHERE extname = 'pg_trgm'"))
            expression = SEARCHED.compile(dialect=conn.dialect)
            conn.execute(text(f"CREATE INDEX {TRIGRAM_INDEX} ON task_visibility "
                              f"USING gin (({expression}) {schema}.gin_trgm_ops)"))
    except exc.DBAPIError as err:
        logging.getLogger("tiltak.schema").warning(
            "the worklist's text search is left without its index, and reads every row a "
            "user may see: the pg_trgm extension could not be used (%s)",
            str(err.orig).strip().splitlines()[0])
        return False
    return True


def key(task_id: str) -> int:
    return UUID(task_id).int >> 65


def searched(name: str, business_key: str | None, title: str | None) -> str:
    """`SEARCHED`'s text for a task."""
    return f"{name} {business_key or ''} {title or ''}".lower()


def kept(conn: Connection) -> bool:
    """Whether this database keeps the index (an SQLite one whose schema made it)."""
    if conn.dialect.name != "sqlite":
        return False
    engine = conn.engine
    found = _found.get(engine)
    if found is None:
        found = _found[engine] = conn.scalar(text(
            "SELECT count(*) FROM sqlite_master WHERE name = :name"), {"name": TABLE}) > 0
    return found


def migrated(engine: Engine) -> None:
    """The schema changed: whether the index is kept is asked again."""
    _found.pop(engine, None)


def add(writes: Writes, tasks: Iterable[Mapping[str, Any]], title: str | None) -> None:
    """Rows for new open tasks (given as the columns of `human_tasks`) of one case."""
    writes.add_many(_ADD, (_row(task, title) for task in tasks))


def add_now(conn: Connection, tasks: Iterable[Mapping[str, Any]],
            titles: Mapping[str, str | None]) -> None:
    """The same, for tasks of many cases, written at once (`titles` by instance id)."""
    writes = Writes()
    writes.add_many(_ADD, (_row(task, titles.get(task["instance_id"])) for task in tasks))
    writes.send(conn)


def _row(task: Mapping[str, Any], title: str | None) -> dict[str, Any]:
    return {"key": key(task["id"]), "task_id": task["id"],
            "searched": searched(task["name"], task["business_key"], title)}


def drop(writes: Writes, task_ids: Iterable[str]) -> None:
    writes.add_many(_DROP, ({"key": key(task_id)} for task_id in task_ids))


def rewrite(writes: Writes, tasks: Iterable[tuple[str, str, str | None]],
            title: str | None) -> None:
    """New text for open tasks that stay: (id, name, business key) each."""
    writes.add_many(_SET, ({"key": key(task_id), "searched": searched(name, bk, title)}
                           for task_id, name, bk in tasks))


def matching(conn: Connection, words: str, most: Callable[[int], int]) -> list[str] | None:
    """The open tasks whose text holds `words`, if no more than `most(open tasks)`; None
    when there are more, or the index cannot say (no index here, or fewer letters than
    it finds). The caller still applies its own condition: the index only narrows.

    How many there are is estimated before they are read, from the first few in key
    order: the keys are spread evenly over their range (a task id's bits), so where the
    SAMPLE-th key falls tells how many there are in all, as it does for the open tasks
    (within a few per cent, for SAMPLE = 256)."""
    if len(words) < SHORTEST or not kept(conn):
        return None
    phrase = '"' + words.replace('"', '""') + '"'  # the letters in this order, as typed
    first = conn.execute(_FIRST_MATCHING, {"phrase": phrase, "most": SAMPLE}).all()
    if len(first) < SAMPLE:
        return [task_id for _key, task_id in first]
    limit = most(_spread(conn.scalar(_SAMPLE_OPEN, {"skip": SAMPLE - 1})))
    if _spread(first[-1][0]) > limit:
        return None
    found = list(conn.scalars(_MATCHING, {"phrase": phrase, "most": limit + 1}))
    return found if len(found) <= limit else None


def _spread(key: int | None) -> int:
    """How many keys there are, if the SAMPLE-th lowest is `key` (None: fewer)."""
    return SAMPLE if key is None else SAMPLE * KEYS // (key + 1)
