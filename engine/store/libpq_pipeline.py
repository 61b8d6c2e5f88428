"""A command's statements sent to PostgreSQL as one message, in libpq's pipeline mode.

psycopg's own pipeline hands libpq one statement at a time and flushes each to the
socket (a system call, and a wake-up of the server, per statement), and runs a BEGIN in
a round trip of its own before the transaction's first statement. Measured on a command
of eight INSERTs: 0.66-0.89 ms and 0.40-0.59 ms of the client's CPU through psycopg's
pipeline, 0.43-0.47 ms and 0.13-0.17 ms queued here and flushed once.

Here the statements, a BEGIN when the transaction has not begun, and the prepared
statements' definitions the connection still lacks are queued in libpq (which buffers
them), flushed once with one Sync, and their results read back in order. Values are
adapted by psycopg's own Transformer, as psycopg would send them; rows come back loaded
by it too. A statement's failure is raised as psycopg raises it (a unique violation
stays one), after every result up to the Sync is read, so the connection is left in a
failed transaction that a ROLLBACK ends, as psycopg would leave it.
"""

from __future__ import annotations

import re
import select
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import errors, pq
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import event

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_SENT = pq.Format.TEXT  # rows come back as text, loaded as psycopg's cursor loads them
_STATES = "tiltak_libpq"  # the key of a connection's _Connection in its record's info
_NO_SUCH_STATEMENT = "26000"
_OK = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK, pq.ExecStatus.EMPTY_QUERY)


def numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """A statement in psycopg's `%(name)s` style written with libpq's `$1, $2, ...`, and
    the parameters' names in that order (a name used twice is one parameter)."""
    names: list[str] = []

    def swap(found: re.Match) -> str:
        name = found.group(1)
        if name is None:
            return "%"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _PLACEHOLDER.sub(swap, sql), tuple(names)


@dataclass
class Outcome:
    """One statement's result: its rows (a query's), and the rows it changed."""

    rows: list[tuple]
    rowcount: int
    ran: bool = False  # False: not run, after an earlier statement failed


class _Connection:
    """What is kept per connection: psycopg's adapter for it, and the statements already
    prepared on it (by text and parameter types: a NULL sent where a text was before is
    another statement to PostgreSQL, as in psycopg's own cache)."""

    def __init__(self, raw) -> None:
        self.adapt = Transformer.from_context(raw)
        self.prepared: dict[tuple[bytes, tuple[int, ...]], bytes] = {}
        self.numbers = 0  # names given so far
        self.doubtful = False  # whether PostgreSQL may have let go of the statements
        self.migrations = 0  # the engine's migrations when the statements were checked


_MIGRATIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # engine -> count


def migrated(engine) -> None:
    """Told after a migration ran on the engine: psycopg deallocates the prepared
    statements of each connection that ran a DROP or ALTER, on whichever of the engine's
    connections that was, so each of them checks before its next message."""
    _MIGRATIONS[engine] = _MIGRATIONS.get(engine, 0) + 1


def migrations(engine) -> int:
    return _MIGRATIONS.get(engine, 0)


def watch(engine) -> None:
    """Have `rolling_back` told of an engine's rollbacks: a transaction's, and the pool's
    when it takes back a connection."""

    def rolled_back(conn) -> None:
        if not conn.invalidated:
            rolling_back(conn.connection.dbapi_connection, conn.connection.info)

    event.listen(engine, "rollback", rolled_back)
    event.listen(engine, "reset", lambda raw, record, _state: rolling_back(raw, record.info))


def rolling_back(raw, record_info: dict) -> None:
    """Told before a connection's transaction is rolled back: psycopg then deallocates
    every prepared statement of the connection if it prepared any of its own, ours too."""
    if not raw.closed and raw.pgconn.transaction_status != pq.TransactionStatus.IDLE:
        doubt(record_info)


def doubt(record_info: dict) -> None:
    """The server may have let go of the connection's prepared statements (a rollback, or
    a DROP or ALTER, after which psycopg deallocates them all): before ours are used
    again, the server is asked which it still holds; the others are prepared again."""
    kept = record_info.get(_STATES)
    if kept is not None and kept.prepared:
        kept.doubtful = True


def _kept(record_info: dict, raw) -> _Connection:
    found = record_info.get(_STATES)
    if found is None or found.adapt.connection is not raw:
        found = record_info[_STATES] = _Connection(raw)
    return found


def begin_statement(raw) -> bytes:
    """The BEGIN psycopg would send before a transaction's first statement."""
    parts = ["BEGIN"]
    if raw.isolation_level is not None:
        parts.append("ISOLATION LEVEL " + raw.isolation_level.name.replace("_", " "))
    if raw.read_only is not None:
        parts.append("READ ONLY" if raw.read_only else "READ WRITE")
    if raw.deferrable is not None:
        parts.append("DEFERRABLE" if raw.deferrable else "NOT DEFERRABLE")
    return " ".join(parts).encode()


def run(raw, record_info: dict, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]],
        *, migrations: int = 0) -> tuple[list[Outcome], Exception | None]:
    """Run `statements` ((SQL in libpq's `$n` style, the values of each execution)) in
    order in one round trip, after a BEGIN if the transaction has not begun. Each
    statement's outcome (for several executions: their rows and changed rows together;
    empty for those not run), and the first statement's error as psycopg raises it.
    `migrations`: the engine's count of them (`migrations`)."""
    kept = _kept(record_info, raw)
    if kept.migrations != migrations:
        kept.migrations = migrations
        doubt(record_info)
    if kept.doubtful:
        _still_prepared(raw, kept)  # through psycopg, which takes the lock itself
    with raw.lock:
        pg = raw.pgconn
        plan: list[tuple[str, Any]] = []  # what each queued command's results are for
        pg.enter_pipeline_mode()
        try:
            if not raw.autocommit and pg.transaction_status == pq.TransactionStatus.IDLE:
                pg.send_query_params(begin_statement(raw), None)
                plan.append(("begin", None))
            for number, (sql, executions) in enumerate(statements):
                text = sql.encode()
                for values in executions:
                    sent = kept.adapt.dump_sequence(values, [PyFormat.AUTO] * len(values))
                    key = (text, tuple(kept.adapt.types))
                    name = kept.prepared.get(key)
                    if name is None:
                        kept.numbers += 1
                        name = kept.prepared[key] = f"_tiltak_{kept.numbers}".encode()
                        pg.send_prepare(name, text, param_types=key[1])
                        plan.append(("prepare", key))
                    pg.send_query_prepared(name, sent, param_formats=kept.adapt.formats,
                                           result_format=_SENT)
                    plan.append(("statement", number))
            pg.pipeline_sync()
            _flush(pg)
            results = _results(pg, len(plan))
        except BaseException:
            # a connection left mid-pipeline is of no further use; the pool lets it go
            raw.close()
            raise
        finally:
            if not pg.status == pq.ConnStatus.BAD and not raw.closed:
                pg.exit_pipeline_mode()
        return _outcomes(raw, kept, plan, results, len(statements))


def _still_prepared(raw, kept: _Connection) -> None:
    """Forget the statements the server no longer holds (one query, after a rollback)."""
    held = {name.encode() for (name,) in raw.execute(
        "SELECT name FROM pg_prepared_statements WHERE left(name, 8) = '_tiltak_'")}
    kept.prepared = {key: name for key, name in kept.prepared.items() if name in held}
    kept.doubtful = False


def _outcomes(raw, kept: _Connection, plan, results, count: int
              ) -> tuple[list[Outcome], Exception | None]:
    outcomes = [Outcome([], 0) for _ in range(count)]
    failure = None
    for (kind, what), result in zip(plan, results, strict=True):
        status = result.status if result is not None else pq.ExecStatus.PIPELINE_ABORTED
        if status not in _OK:
            if kind == "prepare":  # not made: made again when next needed
                kept.prepared.pop(what, None)
            if failure is None and status != pq.ExecStatus.PIPELINE_ABORTED:
                failure = errors.error_from_result(result, encoding=raw.info.encoding)
                if failure.sqlstate == _NO_SUCH_STATEMENT:  # let go of unseen: ask again
                    kept.doubtful = True
            continue
        if kind != "statement":
            continue
        found = outcomes[what]
        found.ran = True
        if status == pq.ExecStatus.TUPLES_OK:
            kept.adapt.set_pgresult(result)
            found.rows.extend(kept.adapt.load_rows(0, result.ntuples, tuple))
        found.rowcount += result.command_tuples or 0
    return outcomes, failure


def _flush(pg) -> None:
    """Everything queued, onto the socket; results that arrive meanwhile are taken in (a
    server that cannot send them would stop reading what is sent)."""
    while pg.flush():
        readable, _ = _wait(pg.socket, write=True)
        if readable:
            pg.consume_input()


def _results(pg, commands: int) -> list[Any]:
    """The result of each queued command (None: skipped after an earlier failure), up to
    and including the Sync's."""
    found: list[Any] = []
    current = None
    while True:
        if pg.is_busy():
            _wait(pg.socket, write=False)
            pg.consume_input()
            continue
        result = pg.get_result()
        if result is None:  # the end of one command's results
            found.append(current)
            current = None
            continue
        if result.status == pq.ExecStatus.PIPELINE_SYNC:
            break
        if current is None:  # a command's first result tells how it went
            current = result
    if len(found) != commands:
        raise errors.InternalError(f"{len(found)} results for {commands} statements")
    return found


def _wait(socket: int, *, write: bool) -> tuple[bool, bool]:
    poller = select.poll()
    poller.register(socket, select.POLLIN | (select.POLLOUT if write else 0))
    events = 0
    for _fd, happened in poller.poll():
        events |= happened
    return bool(events & (select.POLLIN | select.POLLERR | select.POLLHUP)), \
        bool(events & select.POLLOUT)
