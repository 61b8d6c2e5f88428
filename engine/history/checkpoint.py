"""An auditor's checkpoint: what a verification found clean, so that the next one replays
only what changed. Keep the file where those who write the database cannot write it
(docs/DESIGN.md, "Verification speed").
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy import select

from ..models import ProcessDefinition
from ..serialization import FORMATS

FORMAT = "tiltak-verify-checkpoint/1"
ENGINE_DIR = Path(__file__).resolve().parent.parent  # the whole engine, every room


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read."""


def engine_fingerprint() -> str:
    """What a replay's outcome depends on besides the history: the engine's code (every
    module of every room), the SpiffWorkflow release and the state format."""
    digest = hashlib.sha256()
    digest.update(f"{','.join(FORMATS)}\n{metadata.version('SpiffWorkflow')}\n".encode())
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        digest.update(path.relative_to(ENGINE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def definition_fingerprints(engine) -> dict[str, str]:
    """Every deployed definition's id -> the hash of what a replay reads of it."""
    with engine.db.transaction() as session:
        rows = session.execute(select(ProcessDefinition.id, ProcessDefinition.spec,
                                      ProcessDefinition.called))
        return {str(row.id): hashlib.sha256(
            json.dumps([row.spec, row.called], sort_keys=True).encode()).hexdigest()
            for row in rows}


@dataclass
class Checkpoint:
    """Instance id -> (events, last event hash) of the instances found clean."""

    engine: str
    definitions: dict[str, str]
    instances: dict[str, tuple[int, str]] = field(default_factory=dict)
    written_at: str = ""

    @classmethod
    def now(cls, engine) -> Checkpoint:
        return cls(engine_fingerprint(), definition_fingerprints(engine))

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        try:
            dct = json.loads(Path(path).read_text(encoding="utf-8"))
            if dct.get("format") != FORMAT:
                raise CheckpointError(f"{path}: not a verification checkpoint "
                                      f"(format {dct.get('format')!r})")
            return cls(dct["engine"], dict(dct["definitions"]),
                       {key: (int(n), str(h)) for key, (n, h) in dct["instances"].items()},
                       dct.get("written_at", ""))
        except (OSError, ValueError, KeyError, TypeError) as err:
            if isinstance(err, CheckpointError):
                raise
            raise CheckpointError(f"{path}: cannot be read as a checkpoint ({err})") from None

    def save(self, path: Path) -> None:
        """Written whole or not at all (a new file moved into place)."""
        path = Path(path)
        text = json.dumps({"format": FORMAT, "written_at": datetime.now(UTC).isoformat(),
                           "engine": self.engine, "definitions": self.definitions,
                           "instances": {k: list(v) for k, v in self.instances.items()}},
                          indent=1, sort_keys=True)
        handle, scratch = tempfile.mkstemp(prefix=".checkpoint-", dir=path.parent or ".")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(scratch, path)
        except BaseException:
            Path(scratch).unlink(missing_ok=True)
            raise

    def usable_with(self, current: Checkpoint) -> str | None:
        """Why this checkpoint cannot stand for a replay now, or None if it can."""
        if self.engine != current.engine:
            return "the engine has changed since the checkpoint"
        changed = [key for key, value in self.definitions.items()
                   if current.definitions.get(key) != value]
        if changed:
            return f"deployed definition {changed[0]} has changed since the checkpoint"
        return None
