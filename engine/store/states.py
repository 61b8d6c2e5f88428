"""Instance states as stored: a snapshot, then one delta per command that changed it.

A delta names the runs of pieces (the text cut before each task entry) kept from the
state before and gives the new pieces whole, so a command writes what it touched. A new
snapshot replaces the rows before it when the deltas since would weigh more than twice
the state, so a restore reads a few times the state at most. A finished case keeps only
its final record: the last state's hash and format, its variables and the diagram's
progress (docs/DESIGN.md, "Finished cases"). The text, and the hash taken over it, are
the same however it was stored.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.engine import Connection

from ..models import InstanceState
from .prepared import Prepared, Writes

TABLE = InstanceState.__table__
MAX_DELTAS = 64  # a snapshot at least this often, whatever the sizes
DELTA_SHARE = 2  # and when the deltas since would weigh more than twice the state


@dataclass
class Final:
    """What a finished instance keeps of its state."""

    hash: str  # of its last state's text, as its last state-changing event records
    format: str  # that text's
    variables: str  # the process variables at the end, as engine.serialization writes data
    progress: list  # engine.execution.projection.progress at the end: the diagrams' done elements


_FINAL_KEY = "tiltak-final"
_FINAL_HEAD = f'{{"{_FINAL_KEY}":'


@dataclass
class Stored:
    """What a command needs of the stored state to write the next delta."""

    text: str  # empty for a finished instance's final record
    pieces: list[str]
    seq: int  # the last row's
    ratio: float  # of the snapshot, stored bytes to characters: for the state's size
    delta_bytes: int  # of the deltas since the snapshot
    deltas: int
    final: Final | None = None


def cut(text: str) -> list[str]:
    """The text cut before each '["' that follows '[' or ',' (docs/STATE_FORMAT.md), so
    a task entry is one piece."""
    parts = text.split('["')
    pieces = [parts[0]]
    for part in parts[1:]:
        before = pieces[-1]
        if before and before[-1] in "[,":
            pieces.append('["' + part)
        else:
            pieces[-1] = before + '["' + part
    return pieces


def delta(old: list[str], new: list[str]) -> list:
    """`new` as runs [start, end] of `old` and lists of new pieces."""
    where: dict[str, int] = {}
    for number, piece in enumerate(old):
        where.setdefault(piece, number)
    ops: list[list] = []
    last: list = [None]
    for piece in new:
        found = where.get(piece)
        if found is None:
            if type(last[0]) is str:
                last.append(piece)
            else:
                last = [piece]
                ops.append(last)
        elif type(last[0]) is int and last[1] == found:
            last[1] = found + 1
        else:
            last = [found, found + 1]
            ops.append(last)
    return ops


def applied(old: list[str], ops: list) -> list[str]:
    """The pieces a delta makes of `old`."""
    pieces: list[str] = []
    for op in ops:
        if type(op[0]) is str:
            pieces.extend(op)
        else:
            pieces.extend(old[op[0]:op[1]])
    return pieces


def read(conn: Connection, instance_ids: Iterable[str]) -> dict[str, Stored]:
    """The stored states of these instances (those that have one)."""
    query = select(TABLE.c.instance_id, TABLE.c.seq, TABLE.c.snapshot, TABLE.c.body) \
        .where(TABLE.c.instance_id.in_(list(instance_ids))) \
        .order_by(TABLE.c.instance_id, TABLE.c.seq)
    rows: dict[str, list] = {}
    for row in conn.execute(query):
        rows.setdefault(row.instance_id, []).append(row[1:])
    return {instance_id: assembled(instance_id, found) for instance_id, found in rows.items()}


def assembled(instance_id: str, rows: list) -> Stored:
    """The state from its rows (seq, snapshot, body), oldest first."""
    starts = [number for number, row in enumerate(rows) if row[1]]
    if not starts:
        raise ValueError(f"the stored state of instance {instance_id} has no snapshot")
    rows = rows[starts[-1]:]
    body = rows[0][2]
    first = zlib.decompress(body).decode("utf-8")
    if first.startswith(_FINAL_HEAD):
        record = json.loads(first)
        return Stored("", [], rows[-1][0], 0.0, 0, 0, Final(
            record["hash"], record["format"], record["variables"], record["progress"]))
    pieces = cut(first)
    delta_bytes = 0
    for _seq, _snapshot, more in rows[1:]:
        pieces = applied(pieces, json.loads(zlib.decompress(more)))
        delta_bytes += len(more)
    text = "".join(pieces)
    return Stored(text, pieces, rows[-1][0], _ratio(body, first), delta_bytes, len(rows) - 1)


def _ratio(body: bytes, text: str) -> float:
    return len(body) / max(1, len(text))


def compressed(data: bytes, level: int) -> bytes:
    """`zlib.compress(data, level)` with a window no larger than the data: as small (a
    window that holds the whole text finds every match the full one would), but zlib
    need not clear a 32 KB window for a small text, which took longer than compressing
    it (a 3 KB state: 35 µs instead of 95). `zlib.decompress` reads either."""
    packer = zlib.compressobj(level, zlib.DEFLATED, max(9, min(15, len(data).bit_length())))
    return packer.compress(data) + packer.flush()


_INSERT = Prepared(insert(TABLE).values(
    {name: bindparam(name) for name in ("instance_id", "seq", "snapshot", "body")}))
_FORGET = Prepared(delete(TABLE).where(TABLE.c.instance_id == bindparam("instance_id"),
                                       TABLE.c.seq < bindparam("seq")))


def write(writes: Writes, instance_id: str, before: Stored | None, text: str, *,
          final: Final | None = None) -> Stored:
    """Store `text` as the instance's state: a delta against `before`, or a snapshot;
    with `final` (the instance has finished) its final record alone, in place of every
    row before. Added to the command's writes."""
    seq = before.seq + 1 if before is not None else 1
    if final is not None:
        record = json.dumps({_FINAL_KEY: 1, "hash": final.hash, "format": final.format,
                             "variables": final.variables, "progress": final.progress},
                            ensure_ascii=False, separators=(",", ":"))
        writes.add(_INSERT, {"instance_id": instance_id, "seq": seq, "snapshot": True,
                             "body": compressed(record.encode("utf-8"), 9)})
        if before is not None:
            writes.add(_FORGET, {"instance_id": instance_id, "seq": seq})
        return Stored("", [], seq, 0.0, 0, 0, final)
    pieces = cut(text)
    if before is not None and before.deltas < MAX_DELTAS:
        body = compressed(json.dumps(delta(before.pieces, pieces), ensure_ascii=False,
                                        separators=(",", ":")).encode("utf-8"), 6)
        if before.delta_bytes + len(body) <= DELTA_SHARE * before.ratio * len(text):
            writes.add(_INSERT, {"instance_id": instance_id, "seq": seq, "snapshot": False,
                                 "body": body})
            return Stored(text, pieces, seq, before.ratio, before.delta_bytes + len(body),
                          before.deltas + 1)
    body = compressed(text.encode("utf-8"), 6)
    writes.add(_INSERT, {"instance_id": instance_id, "seq": seq, "snapshot": True,
                         "body": body})
    if before is not None:
        writes.add(_FORGET, {"instance_id": instance_id, "seq": seq})
    return Stored(text, pieces, seq, _ratio(body, text), 0, 0)
