"""SQLite's write-ahead log copied back into the database file by a thread of its own, so
that no command waits for that copy and its fsyncs (docs/DESIGN.md, "Persistence").

The thread holds off a fork while it is inside SQLite: a process forked then (a pool of
`tiltak verify --all --jobs N`, gunicorn's workers) would inherit SQLite's own mutexes
held by a thread it does not have, and hang at its first SQLite call.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref

# bytes of a new database's page (engine/database.py says why)
PAGE_SIZE = 2048
# pages (80 MB of them) after which a committing connection copies the log back itself:
# only when no checkpointer has run for that long (processes that commit and exit at once)
BACKSTOP_PAGES = 80 * 1024 * 1024 // PAGE_SIZE
# bytes the log file is cut back to once copied
LOG_LIMIT = 64 * 1024 * 1024
# seconds between checkpoints while commits come in, and of quiet before the thread ends.
# Not shorter: the first commit after a complete checkpoint starts the log anew and
# syncs its header, so a command pays one fsync per checkpoint, not per commit.
INTERVAL = 1.0
IDLE = 5.0


class Checkpointer:
    """Copies the log back (a PASSIVE checkpoint, which never blocks a reader or writer)
    at most every INTERVAL seconds after a commit. The thread starts with the first
    commit in a process (so a forked web worker gets its own) and ends after IDLE
    seconds without one."""

    def __init__(self, path: str):
        self.path = path
        self._committed = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self._in_sqlite = threading.Lock()  # held by the thread while SQLite works for it
        _EVERY.add(self)

    def committed(self) -> None:
        """After every commit: the thread copies the log back soon, started if it is not
        running (under the lock, so that a thread ending for quiet cannot miss it)."""
        self._committed.set()
        with self._lock:
            if self._thread is None:
                self._halt = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._halt,),
                                                name="wal-checkpointer", daemon=True)
                self._thread.start()

    def _forked(self) -> None:
        """A forked process has no thread of its parent's and starts its own."""
        self._lock, self._thread = threading.Lock(), None
        self._in_sqlite = threading.Lock()

    def stop(self) -> None:
        """At once: the thread is woken from its wait and copies nothing more."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._halt.set()
            self._committed.set()  # wakes it if it waits for a commit
            thread.join(timeout=5)

    def _run(self, halt: threading.Event) -> None:
        me = threading.current_thread()
        with self._in_sqlite:
            connection = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
        try:
            while not halt.is_set():
                if not self._committed.wait(IDLE):
                    with self._lock:
                        if not self._committed.is_set():  # quiet: end, let go the file
                            if self._thread is me:
                                self._thread = None
                            return
                    continue
                if halt.is_set():
                    return
                self._committed.clear()
                try:
                    with self._in_sqlite:
                        connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.OperationalError:
                    pass  # busy with another checkpoint: the next commit asks again
                halt.wait(INTERVAL)  # commits meanwhile are taken by the next round
        finally:
            with self._in_sqlite:
                connection.close()


_EVERY: weakref.WeakSet[Checkpointer] = weakref.WeakSet()


_held: list[threading.Lock] = []  # the threads' locks, taken by the forking thread


def _before_fork() -> None:
    for checkpointer in list(_EVERY):
        checkpointer._in_sqlite.acquire()
        _held.append(checkpointer._in_sqlite)


def _after_fork_in_parent() -> None:
    while _held:
        _held.pop().release()


def _after_fork_in_child() -> None:
    _held.clear()
    for checkpointer in list(_EVERY):
        checkpointer._forked()


os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                    after_in_child=_after_fork_in_child)
