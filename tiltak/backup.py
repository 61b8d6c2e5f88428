"""`tiltak backup FILE`: a consistent copy of the database while it serves. SQLite: its
online backup API, page by page into FILE, then checked; PostgreSQL: the server's own
`pg_dump` in its custom format (restored with `pg_restore`). docs/OPERATIONS.md says
how to restore either."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from engine.runtime import Engine


def add_commands(command) -> None:
    """The command, on the parser's `command(name, handler, help)`."""
    p = command("backup", cmd_backup, "copy the database, consistent while it serves "
                "(SQLite: into a database file; PostgreSQL: a pg_dump archive)")
    p.add_argument("file", metavar="FILE", help="where the copy is written (must not exist)")


def cmd_backup(engine: Engine, args) -> int:
    target = Path(args.file)
    if target.exists():
        print(f"error: {target} exists already; choose a new file", file=sys.stderr)
        return 6
    if not target.parent.is_dir():
        print(f"error: no folder {target.parent} to write {target.name} into", file=sys.stderr)
        return 2
    url = make_url(engine.db.url)
    if url.get_backend_name() == "sqlite":
        return _sqlite(url.database, target)
    if url.get_backend_name() == "postgresql":
        return _postgres(url, target)
    print(f"error: no backup for the database '{url.get_backend_name()}'", file=sys.stderr)
    return 2


def _sqlite(path: str | None, target: Path) -> int:
    if not path or path == ":memory:" or not Path(path).exists():
        print(f"error: no database file {path}", file=sys.stderr)
        return 4
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # the online backup: the copy is one consistent moment of the database, however
        # many writers run meanwhile
        source.backup(copy, pages=1024, sleep=0.05)
        verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        copy.close()
        source.close()
    if verdict != "ok":
        target.unlink(missing_ok=True)
        print(f"error: the copy failed its integrity check: {verdict}", file=sys.stderr)
        return 1
    print(f"backup: {path} copied to {target} ({target.stat().st_size} bytes)")
    return 0


def _postgres(url, target: Path) -> int:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        print("error: pg_dump is not installed here; install the PostgreSQL client of the "
              "server's version (Debian: postgresql-client), or run pg_dump on the database "
              "server (docs/OPERATIONS.md)", file=sys.stderr)
        return 2
    command = [pg_dump, "--format=custom", "--no-owner", "--file", str(target)]
    schema = _search_path(url)
    if schema:
        command += ["--schema", schema]
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run([*command, libpq], capture_output=True, text=True)
    if done.returncode != 0:
        target.unlink(missing_ok=True)
        print(f"error: pg_dump failed: {done.stderr.strip()}", file=sys.stderr)
        return 1
    print(f"backup: {url.database} dumped to {target} ({target.stat().st_size} bytes); "
          "restore it with pg_restore")
    return 0


def _search_path(url) -> str | None:
    """The schema a URL's `options=-csearch_path=...` names, if any."""
    options = url.query.get("options")
    for option in ([options] if isinstance(options, str) else options or ()):
        for part in unquote(option).split():
            if part.startswith("-csearch_path="):
                return part.split("=", 1)[1].split(",")[0]
    return None
