"""Statements of a command's hot path, compiled once per dialect and run on the driver's
cursor (no statement cache lookup, no ORM bookkeeping per call), and a command's writes
sent together at its end: one after another on SQLite, in one pipeline (one round trip)
on PostgreSQL. Each is still announced to SQLAlchemy's cursor events, and a driver error
is raised as SQLAlchemy's (an IntegrityError stays an IntegrityError)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection


@dataclass
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the parameters in the order the driver takes them
    positional: bool
    processors: dict[str, Callable[[Any], Any]]
    results: list[Callable[[Any], Any] | None]
    fixed: dict[str, Any]  # parameters the statement gives itself (a LIMIT, a literal)

    def params(self, values: Mapping[str, Any]) -> tuple | dict:
        if self.fixed:
            values = {**self.fixed, **values}
        found = [values[n] for n in self.names]
        for position, convert in self.converting:
            found[position] = convert(found[position])
        return tuple(found) if self.positional else dict(zip(self.names, found, strict=True))

    @functools.cached_property
    def converting(self) -> list[tuple[int, Callable[[Any], Any]]]:
        return [(position, self.processors[name]) for position, name in enumerate(self.names)
                if name in self.processors]

    def row(self, found: tuple) -> tuple:
        return tuple(value if convert is None or value is None else convert(value)
                     for convert, value in zip(self.results, found, strict=True))


class Prepared:
    """A Core statement, compiled once for each dialect it runs on; every bound
    parameter is given at each call (no column defaults are filled in)."""

    def __init__(self, statement) -> None:
        self.statement = statement
        self._by_dialect: dict[tuple[str, str], _Compiled] = {}

    def compiled(self, conn: Connection) -> _Compiled:
        dialect = conn.dialect
        found = self._by_dialect.get((dialect.name, dialect.driver))
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            positional = compiled.positiontup is not None
            names = tuple(compiled.positiontup) if positional else tuple(compiled.binds)
            processors = {}
            for name, bind in compiled.binds.items():
                convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if convert is not None:
                    processors[name] = convert
            results = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                       for column in getattr(self.statement, "selected_columns", ())]
            fixed = {name: bind.effective_value for name, bind in compiled.binds.items()
                     if not bind.required}
            found = _Compiled(compiled.string, names, positional, processors, results, fixed)
            self._by_dialect[dialect.name, dialect.driver] = found
        return found


def query_rows(conn: Connection, statement: Prepared, values: Mapping[str, Any]) -> list[tuple]:
    """The rows a query gives. On PostgreSQL, a transaction's first query goes out with its
    BEGIN in one round trip."""
    return query_together(conn, [(statement, values)])[0]


def query_together(conn: Connection, queries: Sequence[tuple[Prepared, Mapping[str, Any]]]
                   ) -> list[list[tuple]]:
    """The rows of each query, in order. On PostgreSQL they go out together, in one round
    trip (with the transaction's BEGIN when nothing was sent before); each still runs
    after the one before it, so a row the first locks is read locked by the next."""
    raw = conn.connection.dbapi_connection
    pipelined = _pipelines(conn) and (len(queries) > 1 or
                                      raw.info.transaction_status == _IDLE)
    ran = []
    try:
        with raw.pipeline() if pipelined else nullcontext():
            for statement, values in queries:
                compiled = statement.compiled(conn)
                cursor = raw.cursor()
                _run(conn, cursor, compiled.sql, compiled.params(values), False)
                ran.append((compiled, cursor if pipelined else cursor.fetchall()))
    except conn.dialect.loaded_dbapi.Error as err:  # raised as the pipeline synced
        raise _as_sqlalchemy(conn, err) from err
    return [[compiled.row(r) for r in (found.fetchall() if pipelined else found)]
            for compiled, found in ran]


def run_plain(conn: Connection, sql: str) -> None:
    """A statement without parameters or rows (a BEGIN), straight on the driver's cursor."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        _run(conn, cursor, sql, (), False)
    finally:
        cursor.close()


_IDLE = 0  # libpq's PQTRANS_IDLE: no transaction begun yet


def _pipelines(conn: Connection) -> bool:
    """Whether the driver sends statements in a pipeline (psycopg 3 on PostgreSQL)."""
    return conn.dialect.driver == "psycopg"


@dataclass
class _Write:
    statement: Prepared
    values: Any  # a mapping, or a list of them (one statement, many rows)
    many: bool
    expect_one: Exception | None  # raised when the statement changes no row
    cursor: Any = None


class Writes:
    """What a command writes, in order, sent together by `send`."""

    def __init__(self) -> None:
        self._items: list[_Write] = []

    def add(self, statement: Prepared, values: Mapping[str, Any], *,
            expect_one: Exception | None = None) -> None:
        """One statement; `expect_one`: what to raise if it changes no row (a version
        check that failed), after which nothing of the command is kept."""
        self._items.append(_Write(statement, values, False, expect_one))

    def add_many(self, statement: Prepared, values: Iterable[Mapping[str, Any]]) -> None:
        values = list(values)
        if values:
            self._items.append(_Write(statement, values, True, None))

    def send(self, conn: Connection) -> None:
        items, self._items = self._items, []
        if not items:
            return
        raw = conn.connection.dbapi_connection
        pipelined = _pipelines(conn)
        try:
            with raw.pipeline() if pipelined else nullcontext():
                for item in items:
                    compiled = item.statement.compiled(conn)
                    item.cursor = raw.cursor()
                    if item.many:
                        params = [compiled.params(v) for v in item.values]
                    else:
                        params = compiled.params(item.values)
                    _run(conn, item.cursor, compiled.sql, params, item.many)
                    if not pipelined:
                        _check(item)
        except exc.DBAPIError:
            if pipelined:  # an unmet expectation explains an error that followed it
                for item in items:
                    _check(item)
            raise
        except conn.dialect.loaded_dbapi.Error as err:
            if pipelined:
                for item in items:
                    _check(item)
            raise _as_sqlalchemy(conn, err) from err
        if pipelined:
            for item in items:
                _check(item)


def _check(item: _Write) -> None:
    if item.expect_one is not None and item.cursor is not None and item.cursor.rowcount == 0:
        raise item.expect_one


def _run(conn: Connection, cursor, sql: str, params, many: bool) -> None:
    if conn.dispatch.before_cursor_execute:
        conn.dispatch.before_cursor_execute(conn, cursor, sql, params, None, many)
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as err:
        raise _as_sqlalchemy(conn, err, sql, params) from err


def _as_sqlalchemy(conn: Connection, err: Exception, sql: str | None = None,
                   params=None) -> exc.DBAPIError:
    """A driver's error as SQLAlchemy raises it (an IntegrityError stays one)."""
    return exc.DBAPIError.instance(sql, params, err, conn.dialect.loaded_dbapi.Error,
                                   dialect=conn.dialect)
