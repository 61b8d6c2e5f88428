"""A command's statements sent together (engine/store/prepared.py): on PostgreSQL in one
message through libpq's pipeline, on SQLite one after another. Either way a command
sees its values come back as written, an error is raised as SQLAlchemy raises it with
nothing of the command kept, and the connection serves the next command."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    exc,
    insert,
    literal_column,
    select,
    text,
    update,
)

from engine.database import Database
from engine.errors import TiltakError
from engine.store import libpq_pipeline
from engine.store.prepared import Prepared, Writes, query_rows, query_together

from walks import START_DATA

_META = MetaData()
ROWS = Table("batch_rows", _META,
             Column("id", String(20), primary_key=True),
             Column("at", DateTime(timezone=True)),
             Column("flag", Boolean),
             Column("count", Integer),
             Column("body", LargeBinary),
             Column("note", String(200)))
PUT = Prepared(insert(ROWS))
BUMP = Prepared(update(ROWS).where(ROWS.c.id == bindparam("which"))
                .values(count=ROWS.c.count + 1))
# a literal percent sign: written `%%` in psycopg's style, `%` in libpq's
READ = Prepared(select(ROWS.c.id, ROWS.c.at, ROWS.c.flag, ROWS.c.count, ROWS.c.body,
                       ROWS.c.note, literal_column("'50%'").label("share"))
                .where(ROWS.c.id >= bindparam("first")).order_by(ROWS.c.id))
AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def row(key: str, **more) -> dict:
    return {"id": key, "at": AT, "flag": True, "count": 1, "body": b"\x00\xff zlib",
            "note": "Ærlig % 'sitat' \\ æøå", **more}


@pytest.fixture
def db(database_url):
    found = Database(database_url)
    _META.create_all(found.engine)
    yield found
    _META.drop_all(found.engine)
    found.dispose()


def _stored(db) -> list[tuple]:
    with db.reading() as session:
        return query_rows(session.connection(), READ, {"first": ""})


def test_values_come_back_as_written_and_each_write_counts_its_rows(db):
    writes = Writes()
    writes.add(PUT, row("a"))
    writes.add_many(PUT, [row("b", flag=False, count=None, body=None, note=None), row("c")])
    writes.add(BUMP, {"which": "a"}, expect_one=AssertionError("a is there"))
    with db.transaction() as session:
        writes.send(session.connection())
    stored = _stored(db)
    assert [r[0] for r in stored] == ["a", "b", "c"]
    at = stored[0][1]
    assert (at if at.tzinfo else at.replace(tzinfo=UTC)) == AT  # SQLite keeps no zone
    assert stored[0][:1] + stored[0][2:] == (
        "a", True, 2, b"\x00\xff zlib", "Ærlig % 'sitat' \\ æøå", "50%")
    assert stored[1][2:6] == (False, None, None, None)
    with db.reading() as session:  # two queries in one message, in order
        first, second = query_together(session.connection(),
                                       [(READ, {"first": "b"}), (READ, {"first": "c"})])
    assert [r[0] for r in first] == ["b", "c"] and [r[0] for r in second] == ["c"]


def test_a_failed_statement_keeps_nothing_of_the_command_and_the_connection_goes_on(db):
    with db.transaction() as session:
        writes = Writes()
        writes.add(PUT, row("a"))
        writes.send(session.connection())
    writes = Writes()
    writes.add(PUT, row("b"))
    writes.add(PUT, row("a"))  # already there
    writes.add(PUT, row("c"))
    with pytest.raises(TiltakError) as raised, db.transaction() as session:
        writes.send(session.connection())
    assert raised.value.code == "changed"  # the unique violation, told as a conflict
    assert [r[0] for r in _stored(db)] == ["a"]
    with db.transaction() as session:
        writes = Writes()
        writes.add(PUT, row("b"))
        writes.send(session.connection())
    assert [r[0] for r in _stored(db)] == ["a", "b"]


def test_an_unmet_expectation_is_raised_before_the_error_it_explains(db):
    writes = Writes()
    writes.add(BUMP, {"which": "nobody"}, expect_one=LookupError("no such row"))
    writes.add(Prepared(text("SELECT 1 / 0")), {})
    with pytest.raises(LookupError), db.transaction() as session:
        writes.send(session.connection())


def test_a_statement_error_is_raised_as_sqlalchemys_and_the_connection_goes_on(db):
    missing = Prepared(select(literal_column("1").label("one")).select_from(text("nowhere")))
    with pytest.raises(exc.DBAPIError) as raised, db.reading() as session:
        query_together(session.connection(), [(READ, {"first": ""}), (missing, {})])
    assert "nowhere" in str(raised.value)
    assert _stored(db) == []


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_prepared_statements_outlive_a_rollback_that_deallocates_them(deployed):
    """psycopg deallocates every prepared statement of a connection when a transaction of
    it rolls back (when it prepared any of its own); the next command prepares ours again
    instead of failing on a statement the server let go of."""
    case = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida", data=START_DATA)
    for _ in range(6):  # psycopg prepares a query of its own from its fifth run
        deployed.history.show(case.id)
    assert _prepared(deployed, "_tiltak_") and _prepared(deployed, "_pg3_")
    task = deployed.tasks.find(instance_id=case.id)[0]
    with pytest.raises(TiltakError):  # rolls back a transaction that read the task
        deployed.tasks.complete(task.id, actor="nobody-at-all", data={})
    assert not _prepared(deployed, "_tiltak_")  # all let go by the rollback
    second = deployed.runtime.start("hendelsesanalyse-oppfolging", actor="frida",
                                    data=START_DATA)
    assert deployed.tasks.find(instance_id=second.id)
    assert _prepared(deployed, "_tiltak_")


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_rollback_that_deallocates_nothing_leaves_the_statements_in_use(db):
    """When psycopg prepared nothing of its own, a rollback deallocates nothing: ours are
    used on as they are, not prepared a second time (which the server would refuse)."""
    with db.reading() as session:
        query_rows(session.connection(), READ, {"first": ""})
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.execute(text("SELECT 1"))
        raise RuntimeError("rolled back")
    for _ in range(2):
        assert _stored(db) == []
    with db.reading() as session:
        assert session.scalar(text("SELECT count(*) FROM pg_prepared_statements "
                                   "WHERE name LIKE '\\_tiltak\\_%'")) == 1


def _prepared(engine, prefix: str) -> list[str]:
    """The connection's prepared statements named so (the pool holds one connection)."""
    with engine.db.reading() as session:
        return list(session.scalars(text("SELECT name FROM pg_prepared_statements "
                                         "WHERE name LIKE :p"), {"p": prefix + "%"}))


def test_psycopg_style_statements_are_numbered_for_libpq():
    sql, names = libpq_pipeline.numbered(
        "UPDATE t SET a=%(a)s, b=%(b)s WHERE c LIKE '5%%' AND a=%(a)s AND d=%(d_1)s")
    assert sql == "UPDATE t SET a=$1, b=$2 WHERE c LIKE '5%' AND a=$1 AND d=$3"
    assert names == ("a", "b", "d_1")


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_connection_the_server_ended_fails_one_command_and_is_replaced(db):
    """The server ends the connection between two commands (a restart, an administrator):
    the next command fails with SQLAlchemy's error for it, and the one after runs on a
    new connection."""
    with db.reading() as session:
        pid = session.scalar(text("SELECT pg_backend_pid()"))
        query_rows(session.connection(), READ, {"first": ""})
    admin = create_engine(db.engine.url)  # a pool of its own
    with admin.begin() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    with pytest.raises(exc.OperationalError), db.reading() as session:
        query_rows(session.connection(), READ, {"first": ""})
    writes = Writes()
    writes.add(PUT, row("a"))
    with db.transaction() as session:
        writes.send(session.connection())
    assert [r[0] for r in _stored(db)] == ["a"]
