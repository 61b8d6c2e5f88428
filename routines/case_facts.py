"""What a case is about, read off its variables by the names the routines use: clinic and
unit, seriousness, risk class, expertise, anonymity, sensitivity and the title the
worklist shows. The engine stores these facts; which variables they come from is the
routines' vocabulary (docs/DESIGN.md, "Facts for the indicators and for visibility")."""

from __future__ import annotations

from typing import Any

# the variables a case's title is taken from, the first one the case has: `saktittel`
# when a routine names its cases itself, else the analysis's title, the supervision's
# subject or the first words of what happened (docs/DESIGN.md, "Case data as people
# read it")
TITLE_VARIABLES = ("saktittel", "analyse_tittel", "tema", "hva_skjedde", "vad_hande")


def case_facts(variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "clinic": _text(variables.get("klinikk")), "unit": _text(variables.get("enhet")),
        "serious": _flag(variables.get("alvorlig")),
        "risk_class": _text(variables.get("risikoklasse")),
        "expertise": _flag(variables.get("sakkompetens")),
        "anonymous": variables.get("anonym") is True,
        "sensitive": variables.get("sensitiv") is True,
        "title": next((found for found in map(_text, map(variables.get, TITLE_VARIABLES))
                       if found), None),
    }


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
