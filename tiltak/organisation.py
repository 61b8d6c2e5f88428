"""Organisation reference data (clinics and units), loaded from a JSON file.

Supplies form options (`valuesKey` in Camunda Forms, e.g. `klinikkvalg`) and the
group-name conventions the processes use (`kpu-sekretariat-<clinic>`, `kpu-<clinic>`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEMO_FILE = Path(__file__).parent / "demo" / "organisation.json"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str


@dataclass(frozen=True)
class Clinic:
    code: str
    name: str
    units: tuple[Unit, ...]


@dataclass(frozen=True)
class Organisation:
    name: str
    clinics: tuple[Clinic, ...]

    def form_options(self) -> dict[str, Any]:
        """Option lists that forms refer to by `valuesKey`."""
        return {
            "klinikkvalg": [{"value": c.code, "label": c.name} for c in self.clinics],
            "enhetsvalg": [{"value": u.code, "label": f"{u.name} ({c.name})"}
                           for c in self.clinics for u in c.units],
        }

    def clinic(self, code: str) -> Clinic | None:
        return next((c for c in self.clinics if c.code == code), None)


def load(path: str | Path | None = None) -> Organisation:
    file = Path(path or os.environ.get("TILTAK_ORGANISATION") or DEMO_FILE)
    return _load(str(file))


@lru_cache(maxsize=8)
def _load(file: str) -> Organisation:
    doc = json.loads(Path(file).read_text(encoding="utf-8"))
    clinics = tuple(
        Clinic(c["code"], c["name"], tuple(Unit(u["code"], u["name"]) for u in c.get("units", [])))
        for c in doc["clinics"])
    return Organisation(doc.get("name", ""), clinics)
