"""The indexes of the worklist's text search.

The search looks for what was typed in one text per task: its name, case number and case
title, lowercased and joined (`SEARCHED`).

SQLite's: one row per running case in `case_search`, an FTS5 table with the trigram
tokenizer over the case's number and title (migration 0019), so that a case number or a
rare word of a title is found among the few cases that hold it, not by reading every row
a user may see. A task's name is not in it: names come from the routines and are few,
so they are read whole, each once (`names`), and a search for what some name holds reads
the rows in order as it would without the index. A case's row is written when its
number or title first has text, rewritten when the title changes and deleted when the
case ends: once or twice in a case's life, not with every task that opens and closes.
Its key is 63 bits of a hash of the case's id, the table's rowid, which VACUUM keeps (it
renumbers rowids it was not given). An SQLite built without FTS5's trigram tokenizer
gets no table, and its search reads the rows as before.

PostgreSQL's: a trigram index (`pg_trgm`) on `SEARCHED` itself, made by migration 0017
and, where the extension could not be created then, by any later schema upgrade that
finds it can (`ensure_trigram_index`); its planner picks the way.
"""

from __future__ import annotations

import hashlib
import logging
import weakref
from collections.abc import Callable, Mapping
from uuid import UUID

from sqlalchemy import String, bindparam, exc, func, literal_column, text
from sqlalchemy.engine import Connection, Engine

from ..models import TaskVisibility
from .prepared import Prepared, Writes, query_rows

_V = TaskVisibility.__table__.c
_SPACE, _NOTHING = literal_column("' '"), literal_column("''")
# what the worklist's text search compares: the task's name, case number and case
# title, lowercased and joined; PostgreSQL's trigram index is made on this expression,
# so that the planner finds it there, and SQLite's rows hold its text (`searched`)
SEARCHED = (func.lower(_V.name).concat(_SPACE)
            .concat(func.coalesce(func.lower(_V.business_key), _NOTHING)).concat(_SPACE)
            .concat(func.coalesce(func.lower(_V.title), _NOTHING)))

TABLE = "case_search"
NAME_INDEX = "ix_human_tasks_name"  # SQLite's: the names of open tasks, each read once
SHORTEST = 3  # letters the trigram index can find: shorter words are looked for row by row
_ADD = Prepared(text(f"INSERT INTO {TABLE} (rowid, instance_id, searched) "
                     "VALUES (:key, :instance_id, :searched)").bindparams(
    bindparam("key"), bindparam("instance_id"), bindparam("searched")))
_DROP = Prepared(text(f"DELETE FROM {TABLE} WHERE rowid = :key").bindparams(bindparam("key")))
_SET = Prepared(text(f"UPDATE {TABLE} SET searched = :searched WHERE rowid = :key")
                .bindparams(bindparam("key"), bindparam("searched")))
_INDEXED = Prepared(text(f"SELECT searched FROM {TABLE} WHERE rowid = :key")
                    .bindparams(bindparam("key")).columns(searched=String))
SAMPLE = 256
KEYS = 2 ** 63  # keys are 63 bits of a hash
IDS = 2 ** 128  # task ids are UUIDs whose bits are spread evenly (uuid5)
_SAMPLE_OPEN = text("SELECT id FROM human_tasks ORDER BY id LIMIT 1 OFFSET :skip")
_FIRST_MATCHING = text(f"SELECT rowid, instance_id FROM {TABLE} WHERE {TABLE} MATCH :phrase "
                       "ORDER BY rowid LIMIT :most")
_MATCHING = text(f"SELECT instance_id FROM {TABLE} WHERE {TABLE} MATCH :phrase LIMIT :most")
_TASKS_OF = text("SELECT id FROM human_tasks WHERE instance_id IN :cases LIMIT :most"
                 ).bindparams(bindparam("cases", expanding=True))
# the distinct names of the open tasks, one step down the name index each, up to
# MOST_NAMES + 1 (names a routine writes from its data can be as many as the tasks)
MOST_NAMES = 500
_NAMES = text("WITH RECURSIVE names(name) AS ("
              "SELECT min(name) FROM human_tasks UNION ALL "
              "SELECT (SELECT min(name) FROM human_tasks WHERE name > names.name) "
              "FROM names WHERE names.name IS NOT NULL LIMIT :most) "
              "SELECT name FROM names WHERE name IS NOT NULL")
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
        _left_without("the pg_trgm extension", err)
        return False
    return True


def make_fts_table(conn: Connection, ddl: str) -> bool:
    """SQLite: the search's FTS5 table that `ddl` creates, in a savepoint; a warning
    where SQLite lacks FTS5's trigram tokenizer (before 3.34), and nothing changed.
    Returns whether the table was made."""
    try:
        with conn.begin_nested():
            conn.execute(text(ddl))
    except exc.DBAPIError as err:
        _left_without("SQLite's FTS5 trigram tokenizer", err)
        return False
    return True


def _left_without(what: str, err: exc.DBAPIError) -> None:
    logging.getLogger("tiltak.schema").warning(
        "the worklist's text search is left without its index, and reads every row a "
        "user may see: %s could not be used (%s)", what,
        str(err.orig).strip().splitlines()[0])


def key(instance_id: str) -> int:
    """A case's key: 63 bits of a hash of its id, spread evenly whatever ids look like."""
    return int.from_bytes(hashlib.blake2b(instance_id.encode(), digest_size=8).digest()) >> 1


def case_text(business_key: str | None, title: str | None) -> str:
    """The part of `SEARCHED`'s text a case gives its tasks: what follows the name and
    the space after it."""
    return f"{business_key or ''} {title or ''}".lower()


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


def indexed(conn: Connection, instance_id: str) -> str:
    """The text the index holds for a case ('' for none)."""
    found = query_rows(conn, _INDEXED, {"key": key(instance_id)})
    return found[0][0] if found else ""


def index_case(writes: Writes, instance_id: str, text_now: str, before: str) -> str:
    """The case's row made to hold `text_now` ('' or blank: no row), where it held
    `before`; nothing written when that is the same. Returns what it holds."""
    now = text_now if text_now.strip() else ""
    if now == before:
        return now
    values = {"key": key(instance_id), "instance_id": instance_id, "searched": now}
    writes.add(_SET if before and now else _ADD if now else _DROP, values)
    return now


def index_now(conn: Connection, texts: Mapping[str, str]) -> None:
    """Rows for many cases at once (`texts` by case id), none of which has one yet."""
    writes = Writes()
    for instance_id, found in texts.items():
        index_case(writes, instance_id, found, "")
    writes.send(conn)


def names(conn: Connection) -> list[str] | None:
    """The distinct names of the open tasks; None when there are more than MOST_NAMES."""
    found = list(conn.scalars(_NAMES, {"most": MOST_NAMES + 2}))
    return found if len(found) <= MOST_NAMES else None


def _in_names(words: str, lowered: list[str]) -> bool:
    """Whether `SEARCHED` may hold `words` other than wholly in a case's text: in a
    task's name, or running from the end of a name over the space that follows it
    (compared casefolded, which finds at least what SQLite's `lower` and `LIKE` find)."""
    words = words.casefold()
    starts = [i for i, letter in enumerate(words) if letter == " "]
    return any(words in name or any(name.endswith(words[:i]) for i in starts)
               for name in lowered)


def matching(conn: Connection, words: str, most: Callable[[int], int]) -> list[str] | None:
    """The open tasks whose text may hold `words`, if no more than `most(open tasks)`;
    None when there are more, or the index cannot say (no index here, fewer letters than
    it finds, words some task's name holds, or more names than it reads). The caller
    still applies its own condition: the index only narrows.

    How many cases hold the words is estimated before they are read, from the first few
    in key order: the keys are spread evenly over their range (a hash's bits), so where
    the SAMPLE-th key falls tells how many there are in all; the open tasks are estimated
    the same way from their ids (within a few per cent, for SAMPLE = 256)."""
    if len(words) < SHORTEST or not kept(conn):
        return None
    known = names(conn)
    if known is None or _in_names(words, [name.casefold() for name in known]):
        return None  # (so many names: each may hold them, as far as the index knows)
    phrase = '"' + words.replace('"', '""') + '"'  # the letters in this order, as typed
    first = conn.execute(_FIRST_MATCHING, {"phrase": phrase, "most": SAMPLE}).all()
    if len(first) < SAMPLE:  # few enough, whatever the open tasks
        return _tasks_of(conn, [instance_id for _key, instance_id in first], -1)
    limit = most(_spread(conn.scalar(_SAMPLE_OPEN, {"skip": SAMPLE - 1}), IDS))
    if _spread(first[-1][0], KEYS) > limit:
        return None
    cases = list(conn.scalars(_MATCHING, {"phrase": phrase, "most": limit + 1}))
    if len(cases) > limit:
        return None
    found = _tasks_of(conn, cases, limit + 1)
    return found if len(found) <= limit else None


def _tasks_of(conn: Connection, cases: list[str], most: int) -> list[str]:
    """The open tasks of these cases, at most `most` (-1: all)."""
    return list(conn.scalars(_TASKS_OF, {"cases": cases, "most": most})) if cases else []


def _spread(lowest: int | str | None, keys: int) -> int:
    """How many keys of a range of `keys` there are, if the SAMPLE-th lowest is
    `lowest` (None: fewer; a text: a UUID)."""
    if lowest is None:
        return SAMPLE
    number = UUID(lowest).int if isinstance(lowest, str) else lowest
    return SAMPLE * keys // (number + 1)
