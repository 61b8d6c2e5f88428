"""The FEEL subset behind `conditional.hide`: what it evaluates, and what it refuses."""

from __future__ import annotations

import pytest

from forms.feel import evaluate_feel, parse_feel

ROW = {"gjennomfores": "ja", "antall": 3, "ferdig": False, "adresse": {"by": "Bergen"}}
TOP = {"status": "ny", "klinikker": ["kir", "med"]}


def feel(text: str, *scopes):
    return evaluate_feel(text, list(scopes) or [ROW, TOP])


@pytest.mark.parametrize(("text", "expected"), [
    ('=gjennomfores != "ja"', False),
    ('=gjennomfores = "ja"', True),
    ("=antall > 2", True),
    ("=antall <= 2", False),
    ("=antall >= 3 and antall < 4", True),
    ('=ferdig or status = "ny"', True),
    ("=not(ferdig)", True),
    ('=not(gjennomfores = "ja" and (antall = 3 or ferdig))', False),
    ('=adresse.by = "Bergen"', True),
    ('=status in ["ny", "lukket"]', True),
    ('=gjennomfores in ["nei"]', False),
    ("=ferdig = false", True),
    ("=-1 < 0", True),
    ("=2.5 > 2", True),
])
def test_supported_expressions(text, expected):
    assert feel(text) is expected


def test_row_values_come_before_top_level_values_and_context():
    row, top, context = {"status": "rad"}, {"status": "topp"}, {"status": "kontekst"}
    assert feel('=status = "rad"', row, top, context) is True
    assert feel('=status = "topp"', {}, top, context) is True
    assert feel('=status = "kontekst"', {}, {}, context) is True


def test_missing_names_are_null_and_comparing_null_does_not_hold():
    assert feel("=ukjent") is None
    assert feel("=ukjent = null") is True
    assert feel("=ukjent > 3") is None
    assert feel('=ukjent != "ja"') is True  # nothing chosen yet: the field stays hidden
    assert feel("=adresse.gate.nummer") is None


def test_mixed_kinds_do_not_compare():
    assert feel('=antall < "4"') is None
    assert feel("=not(antall)") is None


@pytest.mark.parametrize("text", [
    "=upper case(status)",
    "=count(klinikker) > 1",
    '=status = "ny',
    "=antall >",
    "=(antall > 2",
    "=antall ? 2",
    "=",
])
def test_unsupported_or_broken_feel_is_refused(text):
    with pytest.raises(ValueError):
        parse_feel(text)


def test_no_python_is_ever_evaluated():
    with pytest.raises(ValueError):
        parse_feel('=__import__("os").system("true")')
    assert feel("=__class__") is None
