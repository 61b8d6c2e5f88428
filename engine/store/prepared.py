"""Statements of a command's hot path, compiled once per dialect (no statement cache
lookup, no ORM bookkeeping per call), and a command's writes sent together at its end:
one after another on SQLite's cursor, in one message through libpq's pipeline on
PostgreSQL (engine/store/libpq_pipeline.py: one round trip, the transaction's BEGIN
included). Each is still announced to SQLAlchemy's cursor events, and a driver error is
raised as SQLAlchemy's (an IntegrityError stays an IntegrityError)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection

from . import libpq_pipeline


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

    @functools.cached_property
    def numbered(self) -> tuple[str, tuple[str, ...]]:
        """The statement with libpq's `$n` parameters, and their names in that order."""
        return libpq_pipeline.numbered(self.sql)

    @functools.cached_property
    def _numbered_converting(self) -> list[tuple[str, Callable[[Any], Any] | None]]:
        return [(name, self.processors.get(name)) for name in self.numbered[1]]

    def values_in_order(self, values: Mapping[str, Any]) -> tuple:
        """The values of `numbered`'s parameters, each converted as `params` converts it."""
        if self.fixed:
            values = {**self.fixed, **values}
        return tuple(values[name] if convert is None else convert(values[name])
                     for name, convert in self._numbered_converting)

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
    if _pipelines(conn):
        outcomes, failure = _in_one_message(
            conn, [(statement, [values], False) for statement, values in queries])
        if failure is not None:
            raise failure
        return [[compiled.row(r) for r in outcome.rows]
                for (compiled, _), outcome in outcomes]
    raw = conn.connection.dbapi_connection
    found = []
    for statement, values in queries:
        compiled = statement.compiled(conn)
        cursor = raw.cursor()
        _run(conn, cursor, compiled.sql, compiled.params(values), False)
        found.append([compiled.row(r) for r in cursor.fetchall()])
    return found


def _in_one_message(conn: Connection, statements: Sequence[tuple[Prepared, list, bool]]
                    ) -> tuple[list[tuple[tuple[_Compiled, Any], libpq_pipeline.Outcome]],
                               exc.DBAPIError | None]:
    """Statements (each with the values of its executions, and whether it is executed as
    many) run on PostgreSQL in one round trip (engine/store/libpq_pipeline.py), each
    still announced to SQLAlchemy's cursor events: their outcomes, and the first one's
    error as SQLAlchemy's."""
    sent = []
    for statement, executions, many in statements:
        compiled = statement.compiled(conn)
        ordered = [compiled.values_in_order(v) for v in executions]
        if conn.dispatch.before_cursor_execute:
            conn.dispatch.before_cursor_execute(conn, None, compiled.sql,
                                                ordered if many else ordered[0], None, many)
        sent.append(((compiled, executions), (compiled.numbered[0], ordered)))
    try:
        outcomes, failure = libpq_pipeline.run(
            conn.connection.dbapi_connection, conn.connection.info, [s[1] for s in sent],
            migrations=libpq_pipeline.migrations(conn.engine))
    except conn.dialect.loaded_dbapi.Error as err:  # the connection broke: let it go
        conn.invalidate(err)
        raise _as_sqlalchemy(conn, err) from err
    if failure is not None:
        converted = _as_sqlalchemy(conn, failure)
        converted.__cause__ = failure  # as `raise ... from` would
        failure = converted
    return list(zip((s[0] for s in sent), outcomes, strict=True)), failure


def run_plain(conn: Connection, sql: str) -> None:
    """A statement without parameters or rows (a BEGIN), straight on the driver's cursor."""
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        _run(conn, cursor, sql, (), False)
    finally:
        cursor.close()


def _pipelines(conn: Connection) -> bool:
    """Whether statements go in libpq's pipeline (psycopg 3 on PostgreSQL)."""
    return conn.dialect.driver == "psycopg"


@dataclass
class _Write:
    statement: Prepared
    values: Any  # a mapping, or a list of them (one statement, many rows)
    many: bool
    expect_one: Exception | None  # raised when the statement changes no row


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
        if _pipelines(conn):
            outcomes, failure = _in_one_message(
                conn, [(item.statement, item.values if item.many else [item.values], item.many)
                       for item in items])
            for item, (_, outcome) in zip(items, outcomes, strict=True):
                # an unmet expectation explains an error that followed it
                if item.expect_one is not None and outcome.ran and outcome.rowcount == 0:
                    raise item.expect_one
            if failure is not None:
                raise failure
            return
        raw = conn.connection.dbapi_connection
        for item in items:
            compiled = item.statement.compiled(conn)
            cursor = raw.cursor()
            if item.many:
                params = [compiled.params(v) for v in item.values]
            else:
                params = compiled.params(item.values)
            _run(conn, cursor, compiled.sql, params, item.many)
            if item.expect_one is not None and cursor.rowcount == 0:
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
