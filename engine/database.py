"""The database (SQLite under instance/ by default, PostgreSQL in production) and its one
transaction helper, `Database.transaction()` (docs/DESIGN.md, "Persistence").
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .errors import Conflict, TiltakError
from .store import libpq_pipeline, task_search
from .store.prepared import run_plain
from .wal import BACKSTOP_PAGES, LOG_LIMIT, PAGE_SIZE, Checkpointer

try:
    import fcntl
except ImportError:  # not on every platform
    fcntl = None

DEFAULT_URL = "sqlite:///instance/tiltak.sqlite3"
MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "tiltak_read_only"


def database_url() -> str:
    """TILTAK_DATABASE_URL, or the embedded default when it is unset or empty."""
    return os.environ.get("TILTAK_DATABASE_URL", "").strip() or DEFAULT_URL


_EXAMPLES = "sqlite:///PATH or postgresql://USER@HOST/DATABASE"


def _driver_url(url: str) -> str:
    """The URL SQLAlchemy is given: PostgreSQL through psycopg (`postgres://`, as many
    hosting services write it, taken for `postgresql://`); a URL that is none, or names
    a database Tiltak does not run on, refused by name (its password never shown)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            url = "postgresql+psycopg://" + url[len(scheme):]
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise TiltakError(f"the database URL (TILTAK_DATABASE_URL) is not a URL: it "
                          f"should look like {_EXAMPLES}") from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise TiltakError(f"the database URL {parsed.render_as_string(hide_password=True)} "
                          f"names {parsed.get_backend_name()}, which Tiltak does not run "
                          f"on: use {_EXAMPLES}")
    return url


AFTER_COMMIT = "after_commit"  # session.info: what to do once the transaction committed
ONE_STATEMENT = "tiltak_one_statement"
_READING = {READ_ONLY: True}


class Database:
    def __init__(self, url: str | None = None):
        self.url = _driver_url(url or database_url())
        if self.url.startswith("sqlite:///") and not self.url.startswith("sqlite:///:memory:"):
            Path(self.url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"future": True}
        if self.url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine = create_engine(self.url, **kwargs)
        self.checkpoints: Checkpointer | None = None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            path = self.engine.url.database
            writers = WriterLock(Path(path + ".writer")) \
                if fcntl is not None and path and path != ":memory:" else None
            event.listen(self.engine, "begin", functools.partial(_sqlite_begin, writers))
            if path and path != ":memory:":
                self.checkpoints = Checkpointer(path)
                event.listen(self.engine, "commit", _after_writing(self.checkpoints.committed))
            if writers is not None:
                event.listen(self.engine, "commit", writers.release)
                event.listen(self.engine, "rollback", writers.release)
                event.listen(self.engine, "reset",  # a connection back in the pool
                             lambda _dbapi, record, _state: WriterLock.let_go(record.info))
        if self.engine.dialect.driver == "psycopg":
            libpq_pipeline.watch(self.engine)
        # SQLite runs a statement outside BEGIN in a transaction of its own; PostgreSQL
        # does so in autocommit
        self._one_statement = {READ_ONLY: True, ONE_STATEMENT: True, **(
            {"isolation_level": "AUTOCOMMIT"} if self.dialect == "postgresql" else {})}

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_schema(self) -> None:
        """Create or upgrade the schema to the newest Alembic revision."""
        from alembic import command  # Alembic only where the schema is looked at

        with self.engine.begin() as connection:
            command.upgrade(alembic_config(connection), "head")
            if self.dialect == "postgresql":  # if it could not be made before
                task_search.ensure_trigram_index(connection)
        libpq_pipeline.migrated(self.engine)
        task_search.migrated(self.engine)

    def schema_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction that may write (see `Transaction`); committed when the block
        ends, rolled back when it raises. Yields it as a Session for the callers' types."""
        unit = Transaction(self.engine)
        try:
            yield unit  # type: ignore[misc]
            unit.commit()
            for then in unit.info.pop(AFTER_COMMIT, ()):
                then()
        except StaleDataError:
            unit.rollback()
            raise Conflict("the instance was changed by someone else meanwhile; "
                           "reload and try again").coded("changed") from None
        except IntegrityError as err:
            unit.rollback()
            if "history_events" in str(err.orig) or "uq" in str(err.orig).lower() or \
                    "unique" in str(err.orig).lower():
                raise Conflict("a concurrent change got there first; reload and try "
                               "again").coded("changed") from None
            raise
        except OperationalError as err:
            unit.rollback()
            if "locked" in str(err.orig):
                raise Conflict(BUSY).coded("busy") from None
            raise
        except BaseException:
            unit.rollback()
            raise
        finally:
            unit.close()

    @contextmanager
    def reading(self, *, one_statement: bool = False) -> Iterator[Session]:
        """A transaction that only reads: on SQLite a plain BEGIN, so that readers never
        queue behind a writer's lock (WAL lets them read the last committed state).
        `one_statement`: the reader runs a single query, which then goes without BEGIN and
        COMMIT (a statement reads one snapshot either way)."""
        unit = Transaction(self.engine)
        try:
            unit.connection(self._one_statement if one_statement else _READING)
            yield unit  # type: ignore[misc]
            unit.commit()  # nothing to write; keeps what was read usable
        except BaseException:
            unit.rollback()
            raise
        finally:
            unit.close()

    def lock_free(self, query):
        """The query's rows locked for this transaction, skipping rows another worker holds
        (PostgreSQL); SQLite's BEGIN IMMEDIATE already serialises writers."""
        return query.with_for_update(skip_locked=True) if self.dialect == "postgresql" \
            else query

    def dispose(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.stop()
        self.engine.dispose()


class Transaction:
    """One transaction: a Core connection, begun when first asked for, and an ORM Session
    over that same connection, made only when something asks for one.

    A command's own reads and writes go through the connection alone (the prepared
    statements of engine/store/prepared.py), so the path every command takes pays for no
    Session: beginning, flushing and closing one cost more than the statements it sent.
    Whatever needs the ORM (`get`, `scalars`, `add`, ...) finds the Session's methods
    here, and the Session joins the connection's transaction without ending it."""

    def __init__(self, engine):
        self._engine = engine
        self._conn = None
        self._session: Session | None = None
        self.info: dict = {}  # what to do once committed (AFTER_COMMIT)

    def connection(self, execution_options: dict | None = None):
        """The transaction's connection; `execution_options` count only when it is the
        first call (they decide how the transaction begins)."""
        if self._conn is None:
            conn = self._engine.connect()
            if execution_options:
                conn.execution_options(**execution_options)
            try:
                conn.begin()
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    @property
    def orm(self) -> Session:
        if self._session is None:
            self._session = Session(bind=self.connection(), expire_on_commit=False,
                                    join_transaction_mode="rollback_only")
        return self._session

    def __getattr__(self, name: str):
        if name.startswith("_"):  # a probe for a private name makes no Session
            raise AttributeError(name)
        return getattr(self.orm, name)

    def commit(self) -> None:
        if self._session is not None:
            self._session.commit()  # flushes; the connection's transaction goes on
        if self._conn is not None:
            self._conn.commit()

    def rollback(self) -> None:
        if self._session is not None:
            self._session.rollback()
        if self._conn is not None:
            self._conn.rollback()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
        if self._conn is not None:
            self._conn.close()


def alembic_config(connection=None):
    """Alembic's configuration for the migrations under engine/migrations/."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _after_writing(act):
    """A commit listener that calls `act` after a transaction that may have written: a
    reader's commit has nothing for the log."""
    def committed(conn) -> None:
        if not conn.get_execution_options().get(READ_ONLY):
            act()
    return committed


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
    cursor = dbapi_connection.cursor()
    # A new database's pages (an existing one keeps its own; VACUUM would change it): a
    # command dirties a page in each table and index it writes, each copied whole into
    # the log at commit, and its rows are small. Half SQLite's default made a simple
    # case's commands take a sixth less CPU time (bench/engine_throughput.py).
    cursor.execute(f"PRAGMA page_size={PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # the log is copied back by the Checkpointer's thread, by a command only as a backstop
    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={LOG_LIMIT}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(writers: WriterLock | None, conn) -> None:
    # Take the write lock at BEGIN, so two writers queue instead of failing mid-way;
    # a reading transaction takes none.
    options = conn.get_execution_options()
    if options.get(ONE_STATEMENT):
        return
    if options.get(READ_ONLY):
        run_plain(conn, "BEGIN")
        return
    if writers is not None:
        writers.acquire(conn)
    try:
        run_plain(conn, "BEGIN IMMEDIATE")
    except BaseException:
        if writers is not None:
            writers.release(conn)
        raise


class WriterLock:
    """SQLite's writers queue on a lock file beside the database before BEGIN IMMEDIATE.

    SQLite lets a writer that finds the database locked sleep and try again, in steps
    of up to 100 ms, so under a few concurrent writers much of a request's time was
    spent asleep after the lock had long been free. A waiter for the lock file's
    exclusive `flock` is woken by the kernel when the holder lets go. Each transaction
    opens the file anew, so threads of one process queue as processes do; a process
    that dies holding it lets go with it. Waiting is bounded by WAIT_SECONDS like
    SQLite's own. (Where there is no `fcntl`, SQLite's own waiting is all there is.)
    """

    WAIT_SECONDS = 30.0

    def __init__(self, path: Path):
        self.path = path

    def acquire(self, conn) -> None:
        self.let_go(conn.info)  # a transaction of this connection that ended unseen
        handle = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            self._wait(handle)
        except BaseException:
            os.close(handle)
            raise
        conn.info[_HELD] = handle

    def _wait(self, handle: int) -> None:
        """Queue in the kernel until the holder lets go, at most WAIT_SECONDS. The main
        thread (a web worker's request, a command) blocks with an alarm to bound it;
        another thread (the embedded scheduler) tries again every 2 ms. A free lock,
        the common case, is taken at once, without setting up the alarm."""
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        if threading.current_thread() is threading.main_thread() and \
                hasattr(signal, "setitimer"):
            previous = signal.signal(signal.SIGALRM, _waited_too_long)
            signal.setitimer(signal.ITIMER_REAL, self.WAIT_SECONDS)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX)
            except _WaitedTooLong:
                raise Conflict(BUSY).coded("busy") from None
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            return
        deadline = time.monotonic() + self.WAIT_SECONDS
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Conflict(BUSY).coded("busy") from None
                time.sleep(0.002)

    @classmethod
    def release(cls, conn) -> None:
        cls.let_go(conn.info)

    @staticmethod
    def let_go(info: dict) -> None:
        handle = info.pop(_HELD, None)
        if handle is not None:
            os.close(handle)  # closing the file lets go of its lock


_HELD = "tiltak_writer_lock"
BUSY = "the database is busy with a concurrent change; try again"


class _WaitedTooLong(Exception):
    pass


def _waited_too_long(_signum, _frame) -> None:
    raise _WaitedTooLong
