"""`tiltak verify` and `tiltak export`: what auditors run over the histories."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from engine.errors import InvalidInput, TiltakError
from engine.history import export
from engine.queries import search
from engine.runtime import Engine


def add_commands(command) -> None:
    """The commands, on the parser's `command(name, handler, help)`."""
    p = command("verify", cmd_verify,
                "check every instance's hash chain and replay it from its events")
    p.add_argument("instance_id", nargs="?")
    p.add_argument("--all", action="store_true")
    p.add_argument("--json", action="store_true")
    p.add_argument("--jobs", type=int, default=0, metavar="N",
                   help="worker processes for --all (default: one per core)")
    p.add_argument("--checkpoint", metavar="FILE",
                   help="with --all: instances unchanged since the clean verdicts kept in "
                        "FILE are not replayed again (their chains are checked); FILE is "
                        "then written anew. Keep it out of reach of the database's writers")
    p = command("export", cmd_export,
                "export the history of instances as XES (process mining) or CSV")
    p.add_argument("instance_id", nargs="?", metavar="INSTANCE_ID",
                   help="one instance; without it, every instance the filters match")
    p.add_argument("--format", required=True, choices=("xes", "csv"))
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    p.add_argument("--process", metavar="KEY", help="process key")
    p.add_argument("--version", type=int, metavar="N", help="definition version")
    p.add_argument("--business-key", metavar="TEXT", help="part of the business key, any case")
    p.add_argument("--clinic", metavar="CODE", help="a clinic the instance concerns")
    p.add_argument("--status", choices=search.STATUSES)
    p.add_argument("--from", dest="started_from", metavar="DATE",
                   help="started on or after: YYYY-MM-DD or an ISO date-time "
                        "(local time unless it has an offset)")
    p.add_argument("--to", dest="started_to", metavar="DATE",
                   help="started on or before this day (before this moment, for a date-time)")


def cmd_verify(engine: Engine, args) -> int:
    from engine.history.checkpoint import Checkpoint, CheckpointError
    from engine.history.replay import default_jobs, verify_all, verify_instance

    if bool(args.instance_id) == bool(args.all):
        print("error: give an INSTANCE_ID or --all", file=sys.stderr)
        return 2
    if args.checkpoint and not args.all:
        print("error: --checkpoint goes with --all", file=sys.stderr)
        return 2
    checkpoint = Path(args.checkpoint) if args.checkpoint else None
    current = Checkpoint.now(engine) if checkpoint else None
    known = None
    if checkpoint is not None and checkpoint.exists():
        try:
            earlier = Checkpoint.load(checkpoint)
        except CheckpointError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        why = earlier.usable_with(current)
        if why:
            print(f"checkpoint not used: {why}; every instance is replayed", file=sys.stderr)
        else:
            known = earlier.instances
    if args.instance_id:
        engine.history.instance(args.instance_id)  # NotFound (exit 4) for an id that is no instance
        verdicts = [verify_instance(engine, args.instance_id)]
    else:
        verdicts = verify_all(engine, _VerifyProgress(), jobs=args.jobs or default_jobs(),
                              known=known)
    failed = [v for v in verdicts if not v.ok]
    if current is not None:
        current.instances = {v.instance_id: (v.events, v.last_hash)
                             for v in verdicts if v.ok and v.last_hash}
        current.save(checkpoint)
    if args.json:
        print(json.dumps([v.as_dict() for v in verdicts], indent=2))
    else:
        for v in failed:
            print(f"{v.instance_id}: event {v.seq} ({v.event_type or '-'}): {v.problem}")
        unchanged = sum(1 for v in verdicts if not v.replayed)
        print(f"{len(verdicts) - len(failed)} of {len(verdicts)} instances verify clean"
              + (f" ({unchanged} unchanged since the checkpoint: chains checked, not "
                 "replayed)" if unchanged else ""))
    return 9 if failed else 0


class _VerifyProgress:
    """`verified 1200/10000, 160/s, about 55 s left` on stderr, and the time at the end.

    On a terminal one line, redrawn twice a second; into a file or pipe a line every
    five seconds."""

    def __init__(self) -> None:
        self.started = self.shown = time.monotonic()
        self.tty = sys.stderr.isatty()
        self.every = 0.5 if self.tty else 5.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.shown < self.every:
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-9)
        left = f", about {(total - done) / rate:.0f} s left" if done < total else \
            f" in {now - self.started:.1f} s"
        line = f"verified {done}/{total}, {rate:.0f}/s{left}"
        if self.tty:
            print(f"\r{line}\033[K", end="\n" if done == total else "", file=sys.stderr,
                  flush=True)
        else:
            print(line, file=sys.stderr, flush=True)


def cmd_export(engine: Engine, args) -> None:
    wanted = search.InstanceFilter(
        business_key=args.business_key or None, process_key=args.process or None,
        version=args.version, clinic=args.clinic or None, status=args.status,
        started_from=_moment("--from", args.started_from, end=False),
        started_to=_moment("--to", args.started_to, end=True))
    if args.instance_id:
        if wanted != search.InstanceFilter():
            raise InvalidInput("give an INSTANCE_ID or filters, not both")
        ids = [args.instance_id]
    else:
        ids = search.matching_ids(engine, wanted)
    summary = export.Summary()
    pieces = export.xes_chunks if args.format == "xes" else export.csv_chunks
    chunks = pieces(engine, ids, summary)  # an unknown instance is refused here
    if args.out is None:
        sys.stdout.flush()
        binary = sys.stdout.buffer
        for chunk in chunks:
            binary.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
        binary.flush()
        return
    _write_file(Path(args.out), chunks)
    print(f"exported {summary.instances} instances ({summary.events} events) to {args.out}")


def _moment(option: str, text: str | None, *, end: bool) -> datetime | None:
    """A date (the whole day) or an ISO date-time; local time unless an offset is given."""
    if not text:
        return None
    text = text.strip()
    try:
        day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
        moment = datetime(day.year, day.month, day.day)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput({option: f"'{text}' is not a date (YYYY-MM-DD) or an ISO "
                                        "date-time"}) from None
    return moment if moment.tzinfo else moment.astimezone()


def _write_file(path: Path, chunks) -> None:
    """Write to FILE.partial and rename it when complete: no half file under FILE."""
    partial = path.with_name(path.name + ".partial")
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8"))
        os.replace(partial, path)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise TiltakError(f"cannot write {path}: {err.strerror}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise

