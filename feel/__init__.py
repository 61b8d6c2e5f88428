"""FEEL, the expression language of DMN and Camunda Forms: the subset Tiltak evaluates.

One parser and one evaluator for the cells of decision tables (engine/decisions.py) and
the conditions of forms (forms/conditions.py). Imports nothing else of Tiltak, so the
engine and the forms may both use it. The subset and its semantics: docs/DESIGN.md.
"""

from .evaluation import FeelError, evaluate, evaluate_node, matches
from .parser import parse_expression, parse_unary_tests

__all__ = ["FeelError", "evaluate", "evaluate_node", "matches", "parse_expression",
           "parse_unary_tests"]
