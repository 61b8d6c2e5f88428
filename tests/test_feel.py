"""FEEL as decision tables and form conditions read it: one parser, one evaluator.

The shared table (tests/fixtures/feel-cases.json) is also run in the browser against
feelin (tests/browser/test_feel_ui.py), so the page and the server answer alike.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

import feel
from forms.conditions import check_condition, evaluate_condition

ROOT = Path(__file__).resolve().parent.parent
CASES = json.loads((ROOT / "tests" / "fixtures" / "feel-cases.json").read_text("utf-8"))


def same(got: Any, expected: Any) -> bool:
    """Equal as JSON values: true is not 1, 3 is 3.0."""
    if isinstance(expected, bool) or expected is None or isinstance(got, bool) or got is None:
        return got is expected
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and \
            all(same(g, e) for g, e in zip(got, expected, strict=True))
    numbers = all(isinstance(v, int | float) for v in (got, expected))
    return (numbers or type(got) is type(expected)) and got == expected


@pytest.mark.parametrize("case", CASES["cases"], ids=lambda c: c["expression"])
def test_the_shared_cases_as_an_expression_and_as_a_form_condition(case):
    assert same(feel.evaluate(case["expression"], [case["variables"]]), case["result"])
    assert same(evaluate_condition("=" + case["expression"], [case["variables"]]),
                case["result"])


@pytest.mark.parametrize("case", CASES["differences"], ids=lambda c: c["expression"])
def test_where_feelin_answers_otherwise_the_server_answers_as_recorded(case):
    assert same(feel.evaluate(case["expression"], [case["variables"]]), case["tiltak"])
    assert not same(case["tiltak"], case["feelin"]), "not a difference: move it to cases"


def test_a_form_condition_sees_the_row_first_then_the_form_then_the_case():
    row, top, context = {"status": "rad"}, {"status": "topp"}, {"status": "kontekst"}
    assert evaluate_condition('=status = "rad"', [row, top, context]) is True
    assert evaluate_condition('=status = "topp"', [{}, top, context]) is True
    assert evaluate_condition('=status = "kontekst"', [{}, {}, context]) is True
    assert evaluate_condition('  = rød', [{"rød": True}]) is True  # space before the mark
    assert evaluate_condition("rød", [{"rød": True}]) is True  # the mark is optional


def test_a_decision_table_name_that_is_no_variable_is_an_error_a_form_name_is_null():
    with pytest.raises(feel.FeelError, match="no variable 'grense' for 'grense \\+ 1'"):
        feel.evaluate("grense + 1", [{}], strict=True)
    assert feel.evaluate("grense + 1", [{}]) is None
    assert feel.evaluate("ja or grense", [{"ja": True}]) is True


def test_dates_and_times_compare_with_their_own_kind_only():
    scope = [{"frist": date(2026, 3, 1), "i_dag": date(2026, 2, 27),
              "tidspunkt": datetime(2026, 2, 27, 12, 0)}]
    assert feel.evaluate("i_dag < frist", scope) is True
    assert feel.evaluate("i_dag = frist", scope) is False
    assert feel.evaluate("tidspunkt < frist", scope) is None
    assert feel.evaluate("tidspunkt = i_dag", scope) is False


@pytest.mark.parametrize(("cell", "value", "hit"), [
    ("[1, 2]", 2, True), ("[1, 2]", 3, False), ('["rød", "gul"]', "rød", True),
    ("? in [1, 2]", 1, True), ("not([1, 2])", 3, True),
    ("grenser", [1, 2], True), ("grenser", 1, False),  # a list variable: the whole list
])
def test_a_cell_may_list_the_values_it_accepts(cell, value, hit):
    assert feel.matches(cell, value, [{"grenser": [1, 2]}]) is hit


@pytest.mark.parametrize(("text", "message"), [
    ("=upper case(status)", "unexpected 'case' at character 8 in '=upper case(status)'"),
    ("=sum(klinikker) > 1", "function sum() is not supported (known: count) at character 2"),
    ("=count(klinikker, 2) > 1", "count() takes 1 argument(s) at character 2"),
    ('=status = "ny', "a text that is never closed with '\"' starts at character 11"),
    ("=antall >", "unexpected end in '=antall >'"),
    ("=(antall > 2", "expected ')' but found the end in '=(antall > 2'"),
    ("=antall ? 2", "unexpected '?' at character 9"),
    ("=? > 2", "'?' (the input value) is only known in a decision table's input cells"
               " at character 2"),
    ("=antall @ 2", "'@' is not understood at character 9 in '=antall @ 2'"),
    ("=", "empty expression in '='"),
    ("=a in (1, 2", "expected ')' but found the end"),
    ("=adresse.", "expected a name after '.' at character 10"),
    ("=[1, 2", "expected ']' but found the end"),
    ('=__import__("os").system("true")', "function __import__() is not supported"),
])
def test_a_condition_that_is_not_feel_is_refused_saying_what_and_where(text, message):
    with pytest.raises(ValueError) as err:
        check_condition(text)
    assert message in str(err.value)


@pytest.mark.parametrize(("cell", "message"), [
    ("[1..3", "an interval ends with ']', ')' or '[' in '[1..3'"),
    ("[1..3}", "'}' is not understood at character 6"),
    ("1 2", "unexpected 2 at character 3 in '1 2'"),
    ("not(1", "expected ')' but found the end in 'not(1'"),
])
def test_a_cell_that_is_not_feel_is_refused_saying_what_and_where(cell, message):
    with pytest.raises(feel.FeelError) as err:
        feel.parse_unary_tests(cell)
    assert message in str(err.value)


def test_no_python_is_ever_evaluated():
    assert feel.evaluate("__class__", [{}]) is None
    assert feel.evaluate("a.__class__", [{"a": {}}]) is None


def test_the_feel_package_needs_nothing_else_of_tiltak():
    code = ("import sys, feel;"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('flask', 'engine', 'forms', 'webui', 'tiltak')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"
