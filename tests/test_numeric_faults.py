"""Numeric faults on the Compare page: each failing method's panel names its problem, the other
methods still render, and no numpy warning escapes (pytest.ini turns RuntimeWarning into an
error, which inside the app would surface as an exception element)."""

from __future__ import annotations

import re

import pytest

from conftest import chart_specs, run_app
from core import METHODS

ALL = ",".join(METHODS)

# (function, start, extra query, {method: (status words in the badge, words in the message)})
CASES = {
    "singular Hessian": ("(x+y)^2", "1,2", {}, {
        "newton": ("singular Hessian at k = 0", "Hessian is singular"),
        "gd": ("converged", "degenerate"),
    }),
    "indefinite Hessian, g'Hg = 0": ("x^2 - y^2", "1,1", {}, {
        "gd-optimal": ("g'Hg <= 0 at k = 0", "g'Hg = 0"),
        "newton": ("converged in 1 step · saddle", "saddle"),
        "newton-damped": ("diverged", "diverged"),
    }),
    "negative curvature (maximum)": ("-x^2 - y^2", "1,2", {}, {
        "gd-optimal": ("g'Hg <= 0", "g'Hg = -40"),
        "newton": ("converged in 1 step · maximum", "maximum"),
    }),
    "overflow during the run": ("x^4", "10", {}, {
        "gd": ("diverged at k = 2", "diverged at step 2"),
        "newton": ("converged", "converged"),
    }),
    "overflow at the start": ("exp(x^2)", "30", {}, {
        "newton": ("outside the domain at k = 0", "overflowed at x_0"),
        "gd": ("outside the domain at k = 0", "choose a start point"),
    }),
    "log outside its domain": ("x - log(x)", "3", {}, {
        "newton": ("outside the domain at k = 1", "not defined here"),
        "gd-armijo": ("converged", "minimum"),
    }),
    "nan at the start (sqrt of a negative)": ("sqrt(x)", "-1", {}, {
        "bfgs": ("outside the domain at k = 0", "not defined here"),
    }),
    "start where g = 0": ("x^2 + y^2", "0,0", {}, {
        "newton": ("converged in 0 steps · minimum", "converged in 0 steps"),
        "momentum": ("converged in 0 steps", "minimum"),
    }),
    # The minimum (sqrt 2, sqrt 3) is no float: ||g|| cannot go below ~4e-12 there, and the 1e8 hides
    # every change of f: the line-search methods stop at the precision limit and say so.
    # (four methods: with all thirteen, each gets 1/13 of the page's work budget, less than the
    # 700 trial steps gd-armijo needs to reach the limit)
    "precision floor": ("1000(x^2 - 2)^2 + 1000(y^2 - 3)^2 + 100000000", "1.5, 1.7",
                        {"tol": "1e-15", "max_iter": "100", "methods": "gd-armijo,newton,cg,trust-region"}, {
        "gd-armijo": ("stopped at the precision limit at k = 42", "f cannot resolve a further decrease"),
        "newton": ("not converged after 100 steps", "stopped at max_iter"),
        "trust-region": ("stopped at the precision limit", "f cannot resolve a further decrease"),
        "cg": ("stopped at the precision limit", "f cannot resolve a further decrease"),
    }),
    # Adding a constant does not change what the line search does (it used to fail here).
    "a constant added": ("x^2 + y^2 + 1e12", "0.001, 0.002", {"tol": "1e-12"}, {
        "gd-armijo": ("converged in 1 step", "minimum"),
        "newton": ("converged in 1 step", "minimum"),
    }),
    "max_iter": ("4x^2 + y^2", "15,15", {"lr": "0.25", "max_iter": "300"}, {
        "gd": ("not converged after 300 steps", "max_iter = 300"),
    }),
}


def badges(at) -> list[str]:
    """The status badge of each method panel, in method order (st.badge renders as markdown)."""
    texts = [m.value for m in at.main.markdown if re.match(r"^:\w+-badge\[", m.value)]
    return [t for t in texts if "highlighted" not in t]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_fault_is_named_in_its_panel_and_others_render(case: str) -> None:
    function, start, extra, expected = CASES[case]
    extra = {"methods": ALL, **extra}
    methods = extra["methods"].split(",")
    at = run_app("app.py", f=function, x0=start, **extra)
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.dataframe) == len(methods), "every method keeps its table"
    shown = dict(zip(methods, badges(at)))
    assert len(shown) == len(methods)
    captions = [c.value.replace("\\", "") for c in at.main.caption]
    messages = dict(zip(methods, [c for c in captions if re.search(r"converged|diverged|at x_|max_iter|work budget", c)]))
    for method, (badge_words, message_words) in expected.items():
        assert badge_words in shown[method], (method, shown[method])
        assert message_words in messages[method], (method, messages[method])
    assert chart_specs(at), "the shared charts still render"
