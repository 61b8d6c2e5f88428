"""SQLite's index for the worklist's text search: one row per open task in `task_search`,
an FTS5 table with the trigram tokenizer over the task's name, case number and case
title (migration 0018), so that a case number or a rare word is found among the few tasks
that hold it, not by reading every row a user may see. PostgreSQL has its trigram index
on `task_visibility` instead (migration 0017) and its planner picks the way.

A row's key is the task id's first 63 bits: the table's rowid, which VACUUM keeps (it
renumbers rowids it was not given). Rows are written with the task, by the same command,
and only where the table exists: an SQLite built without FTS5's trigram tokenizer gets
no table, and its search reads the rows as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection, Engine

from .prepared import Prepared, Writes

TABLE = "task_search"
SHORTEST = 3  # letters the trigram index can find: shorter words are looked for row by row
_ADD = Prepared(text(f"INSERT INTO {TABLE} (rowid, task_id, searched) "
                     "VALUES (:key, :task_id, :searched)").bindparams(
    bindparam("key"), bindparam("task_id"), bindparam("searched")))
_DROP = Prepared(text(f"DELETE FROM {TABLE} WHERE rowid = :key").bindparams(bindparam("key")))
_SET = Prepared(text(f"UPDATE {TABLE} SET searched = :searched WHERE rowid = :key")
                .bindparams(bindparam("key"), bindparam("searched")))
SAMPLE = 256
KEYS = 2 ** 63  # keys are task ids' first 63 bits
# FTS5 keeps a row per document in a table of its own, keyed as the documents are
_SAMPLE_OPEN = text(f"SELECT id FROM {TABLE}_docsize ORDER BY id LIMIT 1 OFFSET :skip")
_FIRST_MATCHING = text(f"SELECT rowid, task_id FROM {TABLE} WHERE {TABLE} MATCH :phrase "
                       "ORDER BY rowid LIMIT :most")
_MATCHING = text(f"SELECT task_id FROM {TABLE} WHERE {TABLE} MATCH :phrase LIMIT :most")
_found: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()


def key(task_id: str) -> int:
    return UUID(task_id).int >> 65


def searched(name: str, business_key: str | None, title: str | None) -> str:
    """What the search reads of a task, as PostgreSQL's index reads it."""
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
    writes.add_many(_ADD, ({"key": key(t["id"]), "task_id": t["id"],
                            "searched": searched(t["name"], t["business_key"], title)}
                           for t in tasks))


def add_now(conn: Connection, tasks: Iterable[Mapping[str, Any]],
            titles: Mapping[str, str | None]) -> None:
    """The same, for tasks of many cases, written at once (`titles` by instance id)."""
    writes = Writes()
    for task in tasks:
        add(writes, [task], titles.get(task["instance_id"]))
    writes.send(conn)


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
