"""FEEL, the expression language of DMN and Camunda Forms: one parser and evaluator for
decision table cells and form conditions. Imports nothing else of Tiltak, so the engine
and the forms may both use it; the subset and its semantics: docs/DESIGN.md, "FEEL".
"""

from .evaluation import FeelError, evaluate, evaluate_node, matches
from .parser import parse_expression, parse_unary_tests

__all__ = ["FeelError", "evaluate", "evaluate_node", "matches", "parse_expression",
           "parse_unary_tests"]
