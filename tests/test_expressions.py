"""Camunda `${...}` expressions as process owners write them, evaluated without eval."""

from datetime import UTC, date, datetime

import pytest

from engine.model.expressions import ExpressionError, evaluate, referenced_variables

NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
DATA = {
    "klinikk": "kir", "klinikker": ["kir", "med"], "antall": 3, "belop": "12",
    "tiltak": {"ansvarlig": "ola", "frist": date(2026, 3, 1)},
    "tiltak_godkjent": False, "risiko": "rod", "kommentar": "",
}


def ev(text):
    return evaluate(text, DATA, now=lambda: NOW)


@pytest.mark.parametrize("text, expected", [
    ("${tiltak_godkjent}", False),
    ("${!tiltak_godkjent}", True),
    ("${not tiltak_godkjent}", True),
    ("${antall > 2 && risiko == 'rod'}", True),
    ("${antall gt 2 and risiko eq \"gul\"}", False),
    ("${antall ge 3 or false}", True),
    ("${antall lt 3}", False),
    ("${antall + 2 * 3}", 9),
    ("${(antall + 2) * 3}", 15),
    ("${antall div 2}", 1.5),
    ("${antall mod 2}", 1),
    ("${-antall}", -3),
    ("${belop == 12}", True),
    ("${empty kommentar}", True),
    ("${not empty klinikker}", True),
    ("${risiko == 'rod' ? 'leder-kir' : 'kpu-kir'}", "leder-kir"),
    ("${tiltak.ansvarlig}", "ola"),
    ("${tiltak['ansvarlig']}", "ola"),
    ("${klinikker[1]}", "med"),
    ("${klinikker.size()}", 2),
    ("${klinikker.contains('med')}", True),
    ("${risiko.toUpperCase()}", "ROD"),
    ("${tiltak.frist}", date(2026, 3, 1)),
    ("${tiltak.frist > '2026-02-01'}", True),
    ("${null == tiltak.frist}", False),
    ("${now()}", NOW),
    ("${dateTime().plusDays(5).toDate()}", datetime(2026, 1, 10, 8, 0, tzinfo=UTC)),
    ("${dateTime().plusMonths(1).minusHours(8)}", datetime(2026, 2, 5, 0, 0, tzinfo=UTC)),
    ("${execution.getVariable('klinikk')}", "kir"),
])
def test_juel_expressions_evaluate_like_camunda(text, expected):
    assert ev(text) == expected


def test_composite_text_is_interpolated_into_a_string():
    assert ev("kpu-sekretariat-${klinikk}") == "kpu-sekretariat-kir"
    assert ev("${klinikk}-${antall}") == "kir-3"
    assert ev("#{klinikk}") == "kir"


def test_text_without_an_expression_is_a_literal():
    assert ev("fagavdeling") == "fagavdeling"
    assert ev("P5D") == "P5D"


def test_braces_inside_string_literals_do_not_end_the_expression():
    assert ev("${risiko == '}' ? 'a' : 'b'}") == "b"


@pytest.mark.parametrize("text, message", [
    ("${ukjent}", "unknown variable 'ukjent'"),
    ("${tiltak.mangler}", "no property 'mangler'"),
    ("${klinikker[5]}", "out of range"),
    ("${antall >}", "unexpected the end"),
    ("${antall", "missing '}'"),
    ("${antall / 0}", "division by zero"),
    ("${risiko * 2}", "expected a number"),
    ("${risiko.__class__}", "cannot read property '__class__'"),
    ("${risiko.format('x')}", "has no method format()"),
    ("${__import__('os')}", "unknown function __import__()"),
    ("${open('x')}", "unknown function open()"),
    ("${risiko ? 1 : 2}", "expected true or false"),
    ("${antall @ 2}", "unexpected character '@'"),
])
def test_bad_expressions_say_what_is_wrong(text, message):
    with pytest.raises(ExpressionError) as err:
        ev(text)
    assert message in str(err.value)
    assert text.split("${")[1].rstrip("}") in str(err.value)


def test_referenced_variables_names_what_an_expression_reads():
    assert referenced_variables("kpu-${klinikk}") == {"klinikk"}
    assert referenced_variables("${tiltak.ansvarlig == x ? a : now()}") == \
        {"tiltak", "x", "a"}
    assert referenced_variables("${execution.getVariable('k')}") == set()
    with pytest.raises(ExpressionError):
        referenced_variables("${a &&}")
