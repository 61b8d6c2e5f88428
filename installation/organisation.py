"""Organisation reference data (clinics, units and their leaders), loaded from a JSON file.
It supplies form options (`valuesKey`, e.g. `klinikkvalg`) and the groups the processes
route by: `leder-<unit>`, `leder-<clinic>`, `kpu-sekretariat-<clinic>`, `kpu-<clinic>`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DEMO_FILE = Path(__file__).parent / "demo" / "organisation.json"


# Option lists by the country whose forms use them: Bokmål keys, Swedish keys.
OPTION_KEYS = {"no": ("klinikkvalg", "enhetsvalg"), "se": ("klinikval", "enhetsval")}
ALL_CLINICS = "alle_klinikker"


def leader_group(code: str) -> str:
    """The group a clinic's or unit's leaders are in; processes route by it."""
    return f"leder-{code}"


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    leaders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Clinic:
    code: str
    name: str
    units: tuple[Unit, ...]
    leaders: tuple[str, ...] = ()
    country: str = "no"


@dataclass(frozen=True)
class Organisation:
    name: str
    clinics: tuple[Clinic, ...]
    groups: tuple[tuple[str, str], ...] = ()  # (group, its name) for the site's own groups

    def form_options(self) -> dict[str, Any]:
        """Option lists that forms refer to by `valuesKey`, each country's clinics apart."""
        options: dict[str, Any] = {ALL_CLINICS: _clinic_options(self.clinics)}
        for country, (clinics_key, units_key) in OPTION_KEYS.items():
            theirs = [c for c in self.clinics if c.country == country]
            options[clinics_key] = _clinic_options(theirs)
            options[units_key] = [{"value": u.code, "label": f"{u.name} ({c.name})"}
                                  for c in theirs for u in c.units]
        return options

    def clinic(self, code: str) -> Clinic | None:
        return next((c for c in self.clinics if c.code == code), None)

    def place_name(self, code: str) -> str | None:
        """The name of the clinic or unit with this code."""
        for clinic in self.clinics:
            if clinic.code == code:
                return clinic.name
            for unit in clinic.units:
                if unit.code == code:
                    return f"{unit.name} ({clinic.name})"
        return None

    def group_name(self, group: str) -> str | None:
        """A group's name as the file gives it (`groups`), if it does."""
        return dict(self.groups).get(group)

    def known_groups(self) -> set[str]:
        """Every group the file names or implies: the site's own groups, and per clinic
        its leaders', its KPU's and its secretariat's, per unit its leaders'."""
        found = {group for group, _name in self.groups}
        for clinic in self.clinics:
            found |= {leader_group(clinic.code), f"kpu-{clinic.code}",
                      f"kpu-sekretariat-{clinic.code}"}
            found |= {leader_group(unit.code) for unit in clinic.units}
        return found

    def leader_groups(self) -> dict[str, set[str]]:
        """User name -> the `leder-` groups the file makes them a member of."""
        found: dict[str, set[str]] = {}
        for place in (*self.clinics, *(u for c in self.clinics for u in c.units)):
            for user in place.leaders:
                found.setdefault(user, set()).add(leader_group(place.code))
        return found


def _clinic_options(clinics) -> list[dict[str, str]]:
    return [{"value": c.code, "label": c.name} for c in clinics]


def load(path: str | Path | None = None) -> Organisation:
    """The organisation file (TILTAK_ORGANISATION, else the demo hospital's), read once;
    asked for by every group and place name a page shows."""
    return _load(str(path or os.environ.get("TILTAK_ORGANISATION") or DEMO_FILE))


@lru_cache(maxsize=8)
def _load(file: str) -> Organisation:
    doc = json.loads(Path(file).read_text(encoding="utf-8"))
    clinics = tuple(
        Clinic(c["code"], c["name"],
               tuple(Unit(u["code"], u["name"], tuple(u.get("leaders", ())))
                     for u in c.get("units", [])),
               tuple(c.get("leaders", ())), c.get("country", "no"))
        for c in doc["clinics"])
    unknown = {c.country for c in clinics} - set(OPTION_KEYS)
    if unknown:
        raise ValueError(f"{file}: unknown country {sorted(unknown)}; "
                         f"known: {sorted(OPTION_KEYS)}")
    groups = tuple((str(k), str(v)) for k, v in (doc.get("groups") or {}).items())
    return Organisation(doc.get("name", ""), clinics, groups)
