"""Descent Lab's engine: safe parsing, derivatives, methods made of a direction rule and a
step-size rule, one run loop over a batch of starts, one trace per start.

Pure Python + numpy + sympy (no streamlit), usable from a notebook or ``python -m core``::

    from core import build_problem, run, run_batch, Options
    problem = build_problem("4x^2 + y^2")
    trace = run(problem, [15, 15], "gd-optimal", Options(tol=1e-10))
    traces = run_batch(problem, [[15, 15], [-3, 2]], "cg")
    ends = run_ends(problem, grid_of_starts, "newton")  # only where each start ended
"""

from .methods import METHODS, Method, get_method, register
from .options import SPEC, Options, OptionsError
from .parsing import ParseError, ParsedFunction, natural_key, parse_function
from .problem import Derivation, EvaluationError, Problem, build_problem, compile_derivation, derive
from .run import (STATIONARY_KINDS, STATUSES, BatchEnds, RunCancelled, Trace, best_value, classify_stationary_point,
                  run, run_all, run_batch, run_ends)

__all__ = [
    "METHODS", "Method", "Options", "OptionsError", "SPEC", "get_method", "register",
    "ParseError", "ParsedFunction", "natural_key", "parse_function",
    "Derivation", "EvaluationError", "Problem", "build_problem", "compile_derivation", "derive",
    "STATIONARY_KINDS", "STATUSES", "BatchEnds", "RunCancelled", "Trace", "best_value", "classify_stationary_point", "run", "run_all",
    "run_batch", "run_ends",
]
