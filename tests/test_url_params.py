"""Hostile share links: URL query parameters fuzzed into ui.links.setup_from_query, then a
sample of nasty links through the whole app (AppTest).

setup_from_query must never raise; whatever the link holds, the Setup it returns fits the
setup widgets (the option spec's ranges, known methods, a start point that parses) and every bad value is
reported by exactly one kind of message, attributed to its parameter. The oracle below decides
independently what is bad: a value longer than MAX_URL_TEXT, an empty function, a start point
that is not finite numbers, unknown or no methods, an option that is not a number of the right
kind or lies outside its widget's limits.
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from core import METHODS, Options
from core.options import SPEC, SPEC_BY_NAME
from ui.links import (DEFAULT_METHODS, MAX_URL_TEXT, Setup, link_space_suggestion, parse_point, setup_from_query,
                      setup_to_query)

from conftest import ROOT

OPTION_KINDS = {spec.name: spec.kind for spec in SPEC}
KEYS = ("f", "x0", "methods", *OPTION_KINDS)

# -- values --------------------------------------------------------------------------------------

numberish = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=1e-15, max_value=2e4).map(repr),
    st.integers(-10**30, 10**30).map(str),
    st.integers(0, 30_000).map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e-12", "1e309", "0", "-0", "1e5", " 5 ", "\uff15", "\u0665",
                     "0x10", "1_000", "1e-15", "0.999", "1.0", "100", "1e-13", "20000", "20001", "+7",
                     "1e", "--1", "1,5", "", " ", "\x00", "1" * 400, "9" * 2000]),
)
method_lists = st.lists(
    st.one_of(st.sampled_from(list(METHODS)), st.sampled_from(["GD", "newton ", "__import__", "", "bfgs;",
                                                                "<script>", "gd\x00"]), st.text(max_size=8)),
    max_size=8,
).map(lambda ids: ",".join(ids))
points = st.one_of(
    st.lists(st.one_of(st.floats().map(repr), st.sampled_from(["", " ", "x", "1e999", "nan", "\uff11"])),
             min_size=1, max_size=25).map(lambda parts: ",".join(parts)),
    st.lists(st.floats(-1e6, 1e6).map(repr), min_size=1, max_size=4).map(lambda p: ";".join(p)),
)
functions = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["4x^2 + y^2", "__import__('os').system('id')", "9**9**9", "(" * 200 + "x" + ")" * 200,
                     "\uff58^2", "x\x00", "", "   ", "x" * 1001]),
)
long_text = st.integers(MAX_URL_TEXT - 2, 5 * MAX_URL_TEXT).map(lambda n: "1" * n)
any_text = st.one_of(st.text(max_size=40), long_text)
VALUES = {"f": functions, "x0": points, "methods": method_lists, **{name: numberish for name in OPTION_KINDS}}


@st.composite
def query_params(draw) -> dict[str, str | list[str]]:
    params: dict[str, str | list[str]] = {}
    for key in draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=len(KEYS))):
        value = draw(st.one_of(VALUES[key], VALUES[key], any_text))
        if draw(st.integers(0, 9)) == 0:  # a repeated parameter: ?lr=1&lr=2 arrives as a list
            params[key] = draw(st.lists(st.one_of(VALUES[key], any_text), max_size=3))
        else:
            params[key] = value
    junk = draw(st.dictionaries(st.text(max_size=10).filter(lambda k: k not in KEYS),
                                st.one_of(any_text, st.lists(any_text, max_size=2)), max_size=4))
    params.update(junk)
    return params


# -- the oracle ----------------------------------------------------------------------------------

def last_value(raw) -> str | None:
    if isinstance(raw, list):
        return raw[-1] if raw else None
    return raw


def expected_outcome(params) -> tuple[set[str], dict]:
    """(keys whose value is bad, the values the Setup must hold for the good keys)."""
    bad, good = set(), {}
    for key in KEYS:
        value = last_value(params.get(key))
        if value is None:
            continue
        if len(value) > MAX_URL_TEXT:
            bad.add(key)
        elif key == "f":
            if value.strip():
                good[key] = value
            else:
                bad.add(key)
        elif key == "x0":
            parts = [p.strip() for p in re.split("[,;]", value)]
            try:
                numbers = [float(p) for p in parts]
                ok = all(parts) and all(math.isfinite(v) for v in numbers)
            except ValueError:
                ok = False
            if ok:
                good[key] = numbers
            else:
                bad.add(key)
        elif key == "methods":
            ids = [m.strip() for m in value.split(",") if m.strip()]
            known = [m for m in ids if m in METHODS]
            if known:
                good[key] = tuple(dict.fromkeys(known))
            if not known or len(known) < len(ids):
                bad.add(key)
        else:
            try:
                number = OPTION_KINDS[key](value)
            except ValueError:
                bad.add(key)
                continue
            if SPEC_BY_NAME[key].accepts(number):
                good[key] = number
            else:
                bad.add(key)
    # c1 < c2: a c2 at or below c1 is dropped, then a c1 at or above the default c2
    c1, c2 = (good.get(name, SPEC_BY_NAME[name].default) for name in ("c1", "c2"))
    if not c1 < c2 and "c2" in good:
        bad.add("c2")
        del good["c2"]
        c2 = SPEC_BY_NAME["c2"].default
    if not c1 < c2 and "c1" in good:
        bad.add("c1")
        del good["c1"]
    return bad, good


def key_of(message: str) -> str:
    """Which parameter a setup_from_query message is about (from its fixed opening words)."""
    if message.startswith("the link's function `f`"):
        return "f"
    if message.startswith("the link's start point"):
        return "x0"
    if message.startswith(("unknown method(s) in the link", "the link selects no known method")):
        return "methods"
    match = re.match(r"the link's `([a-z_0-9]+)`", message)
    assert match, f"a message that names no parameter: {message!r}"
    return match.group(1)


def check_setup_fits_the_widgets(setup: Setup) -> None:
    assert isinstance(setup, Setup) and isinstance(setup.options, Options)
    assert setup.methods and all(m in METHODS for m in setup.methods)
    assert len(set(setup.methods)) == len(setup.methods)
    for spec in SPEC:
        value = getattr(setup.options, spec.name)
        assert spec.accepts(value), (spec.name, value)
    assert isinstance(setup.options.max_iter, int)
    assert isinstance(setup.function, str) and setup.function.strip() and len(setup.function) <= MAX_URL_TEXT
    point = parse_point(setup.x0_text)
    assert point and all(math.isfinite(v) for v in point)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(query_params())
def test_setup_from_query_never_raises_and_reports_every_bad_value(params):
    setup, problems = setup_from_query(params)
    check_setup_fits_the_widgets(setup)
    assert isinstance(problems, list) and all(isinstance(p, str) and p.strip() for p in problems)

    bad, good = expected_outcome(params)
    assert {key_of(p) for p in problems} == bad, (params, problems)
    default = Setup()
    assert setup.function == good.get("f", default.function)
    assert parse_point(setup.x0_text) == tuple(good.get("x0", parse_point(default.x0_text)))
    assert setup.methods == good.get("methods", default.methods)
    for name in OPTION_KINDS:
        assert getattr(setup.options, name) == good.get(name, getattr(default.options, name))

    # A share link made from the result reproduces it, with nothing to report.
    assert setup_from_query(setup_to_query(setup)) == (setup, [])


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(KEYS), any_text))
def test_any_text_in_any_parameter(params):
    setup, problems = setup_from_query(params)
    check_setup_fits_the_widgets(setup)
    assert {key_of(p) for p in problems} == expected_outcome(params)[0]


def test_the_defaults_are_what_a_missing_parameter_means():
    assert setup_from_query({}) == (Setup(), [])
    assert Setup().methods == DEFAULT_METHODS


# -- the whole app on nasty links (AppTest) ----------------------------------------------------

NASTY_LINKS = [
    # (id, query parameters, whether the app must show a warning or an error)
    ("escape-import", {"f": "__import__('os').system('touch {canary}')"}, True),
    ("escape-subclasses", {"f": "x.__class__.__mro__[-1].__subclasses__()"}, True),
    ("exponent-tower", {"f": "9**9**9"}, True),
    ("200-parentheses", {"f": "(" * 200 + "x" + ")" * 200}, True),
    ("too-long-f", {"f": "x+" * 5000 + "x"}, True),
    ("fullwidth", {"f": "\uff58^2 + \uff59^2"}, True),
    ("nul-byte", {"f": "x\x00+y"}, True),
    ("rational-hang", {"f": "1e-999999999999999999 x"}, True),
    ("markdown-injection", {"f": "x <b>bold</b> $\\LaTeX$ [link](http://a.b) :red[x]"}, True),
    ("x0-not-finite", {"x0": "nan, inf"}, True),
    ("large-not-0-or-1", {"large": "<script>alert(1)</script>"}, True),
    ("large-text", {"large": "1"}, False),
    ("x0-overflow", {"x0": "1e309, 1"}, True),
    ("x0-too-long", {"x0": "1," * 600 + "1"}, True),
    ("x0-wrong-size", {"f": "x^2 + y^2 + z^2", "x0": "1, 2"}, True),
    ("methods-unknown", {"methods": "gd,__import__,<script>"}, True),
    ("methods-empty", {"methods": ",,,"}, True),
    ("options-out-of-range", {"lr": "1e999", "beta": "1", "tol": "0", "max_iter": "99999999999999999999"}, True),
    ("options-not-numbers", {"lr": "nan", "beta": "x", "tol": "\x00", "max_iter": "1e5"}, True),
    ("everything-empty", {key: "" for key in KEYS}, True),
    # Nasty but valid: nothing to warn about, and no crash.
    ("junk-keys", {"__proto__": "1", "<script>": "alert(1)", "f ": "x"}, False),
    ("long-valid-f", {"f": "x^2+" * 199 + "y^2", "x0": "1, 1"}, False),
    ("all-methods-diverging", {"f": "4x^2 + y^2", "methods": ",".join(METHODS), "lr": "100",
                               "max_iter": "20000"}, False),
    ("huge-start", {"f": "4x^2 + y^2", "x0": "1e308, 1e308"}, False),
    ("huge-start-sum", {"f": "x^2 + y^2", "x0": "1e308, 1e308"}, False),
    ("start-at-the-float-limit-1d", {"f": "x^4", "x0": "-1.7976931348623157e308"}, False),
    ("tiny-start", {"f": "x^2 + y^2", "x0": "5e-324, -5e-324"}, False),
    ("complex-constant", {"f": "(-1)^(1/3) x^2 + y^2", "x0": "1, 1"}, True),
    ("twenty-variables-max-iter", {"f": "+".join(f"x{i}^2" for i in range(1, 21)),
                                   "x0": ",".join(["1"] * 20), "methods": ",".join(METHODS), "max_iter": "20000",
                                   "lr": "1e-12", "tol": "1e-15"}, False),
]
# Every page of the app gets every link (the page of a link is part of what a visitor can ask for).
PAGES = ("app.py", "pages/derivatives.py", "pages/learning_rate.py", "pages/theory.py", "pages/one_d.py", "pages/basins.py")


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("name, query, bad", NASTY_LINKS, ids=[name for name, _, _ in NASTY_LINKS])
def test_app_survives_nasty_links(tmp_path, name, query, bad, page):
    canary = tmp_path / "escaped"
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value.replace("{canary}", str(canary))
    at.run()
    if page != "app.py":
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not canary.exists()
    shown = [el.value for el in at.warning] + [el.value for el in at.error]
    link_warnings = [w.value for w in at.warning if "link" in w.value]
    if bad:
        assert shown, f"{name}: nothing tells the user what was wrong with the link"
    else:
        assert not link_warnings, link_warnings
        assert at.dataframe or page == "pages/derivatives.py" or at.latex, "the page shows no results"


@pytest.mark.parametrize("text, suggestion", [
    ("4x^2 y^2", "4x^2+y^2"),  # ?f=4x^2+y^2 typed by hand arrives like this
    ("(1-x)^2 100(y-x^2)^2", "(1-x)^2+100(y-x^2)^2"),
    ("4x^2 + y^2", None), ("4x^2+y^2", None), ("sin (x)", None), ("x^2 -y^2", None),
])
def test_a_space_between_terms_in_a_link_gets_a_suggestion(text, suggestion):
    assert link_space_suggestion(text) == suggestion


def test_the_app_says_how_it_reads_a_link_whose_plus_became_a_space():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["f"] = "4x^2 y^2"
    at.query_params["x0"] = "1, 1"
    at.run()
    warning = next(w.value for w in at.warning if "space between two terms" in w.value)
    assert "read as a product" in warning and "%2B" in warning
    assert at.text_input(key="f").value == "4x^2 y^2"  # read as written, and said so
    at.button(key="use_link_suggestion").click().run()
    assert at.text_input(key="f").value == "4x^2+y^2"
    assert not [w for w in at.warning if "space between two terms" in w.value]
    assert not at.exception
