"""Cached bridges from the setup to core: parse/compile once per text, run once per input.

``st.cache_resource`` keeps compiled problems (lambdified callables cannot be pickled, so
``st.cache_data`` cannot hold them); ``st.cache_data`` keeps traces, keyed on plain values
(text, start point, method id, options tuple). Reruns that only move a slider hit both caches
and do no symbolic or iterative work at all.
"""

from __future__ import annotations

from dataclasses import astuple

import streamlit as st

from core import Options, OptionsError, ParseError, Problem, Trace, build_problem, run
from core.parsing import normalise
from core.teaching import Sweep, sweep_learning_rates
from core.isolation import warm_up

warm_up()  # the first function typed should not wait for a worker to import sympy


def load_problem(text: str) -> tuple[Problem | None, str | None]:
    """(problem, None) or (None, the parser's message), cached on the normalised text, so the
    text as typed and ``problem.text`` (what the pages pass on) share one parse."""
    try:
        return _load_normalised(normalise(text))
    except ParseError as err:
        return None, str(err)


@st.cache_resource(max_entries=256, show_spinner=False)
def _load_normalised(text: str) -> tuple[Problem | None, str | None]:
    # Errors are cached too, so a hostile text that needs the full time budget to be refused
    # costs it once, not on every rerun.
    try:
        return build_problem(text), None
    except ParseError as err:
        return None, str(err)


@st.cache_data(max_entries=2048, show_spinner=False)
def run_method(text: str, x0: tuple[float, ...], method: str, options: tuple) -> Trace:
    problem, error = load_problem(text)
    if problem is None:  # callers check load_problem first; this keeps the cache honest
        raise ParseError(error)
    return run(problem, x0, method, Options(*options))


def run_methods(text: str, x0: tuple[float, ...], methods: tuple[str, ...], options: Options) -> dict[str, Trace]:
    """One trace per method id, each cached on its own (adding a method runs only that one)."""
    key = astuple(options)
    return {m: run_method(text, x0, m, key) for m in methods}


@st.cache_data(max_entries=32, show_spinner="Sweeping the learning rate…")
def run_sweep(text: str, x0: tuple[float, ...], etas: tuple[float, ...], method: str, options: tuple) -> Sweep:
    """One fixed-rate run per eta (core.teaching.sweep_learning_rates), cached on plain values."""
    problem, error = load_problem(text)
    if problem is None:
        raise ParseError(error)
    return sweep_learning_rates(problem, x0, etas, Options(*options), method)


def check_start(problem: Problem, x0: tuple[float, ...]) -> str | None:
    """A message when the start point does not fit the function, else None."""
    if len(x0) != problem.n:
        names = ", ".join(problem.variable_names)
        return (f"the start point has {len(x0)} coordinate{'s' if len(x0) != 1 else ''} but f has "
                f"{problem.n} variable{'s' if problem.n != 1 else ''} ({names})")
    return None


__all__ = ["load_problem", "run_method", "run_methods", "run_sweep", "check_start", "OptionsError"]
