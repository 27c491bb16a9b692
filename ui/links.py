"""The setup a user sees, as a value, and its round trip through URL query parameters.

No streamlit here: these functions are plain and unit-testable. Parameter names are stable
and readable: ``f``, ``x0``, ``methods``, and one per option of core.options.SPEC (``lr``,
``tol``, ``max_iter``, ...), held to the spec's ranges, which are also the widgets' ranges.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Mapping
from urllib.parse import urlencode

from core import METHODS, SPEC, Options
from core.options import RUN_OPTIONS, SPEC_BY_NAME
from core.parsing import FUNCTIONS, MAX_LENGTH

DEFAULT_METHODS = ("gd", "gd-optimal", "newton")
MAX_URL_TEXT = 4 * MAX_LENGTH  # longer values are refused before anything parses them (spaces included)


def options_shown(methods: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The options that matter for these methods, in the spec's order: the run loop's (tol,
    max_iter) and every option one of them reads. Only these get a widget and a link parameter."""
    used = set(RUN_OPTIONS).union(*(METHODS[m].options_used for m in methods if m in METHODS))
    return tuple(spec.name for spec in SPEC if spec.name in used)


@dataclass(frozen=True)
class Setup:
    """Everything that determines what the pages show."""

    function: str = "4x^2 + y^2"
    x0_text: str = "15, 15"
    methods: tuple[str, ...] = DEFAULT_METHODS
    options: Options = field(default_factory=Options)

    def x0(self) -> tuple[float, ...]:
        """The start point; raises ValueError with a readable message."""
        return parse_point(self.x0_text)


@dataclass(frozen=True)
class Preset:
    label: str
    setup: Setup
    lesson: str


def parse_point(text: str) -> tuple[float, ...]:
    """'15, 15' -> (15.0, 15.0); ValueError with a readable message otherwise."""
    parts = [p.strip() for p in str(text).replace(";", ",").split(",")]
    if not text or not str(text).strip() or any(p == "" for p in parts):
        raise ValueError("the start point must be comma-separated numbers, e.g. 15, 15")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ValueError(f"the start point {text!r} is not a list of numbers (e.g. 15, 15)") from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("the start point must be finite numbers")
    return values


def format_number(value: float) -> str:
    """Shortest text that reads back to the same float (1e-08, 0.1, 15)."""
    return format(value, "g") if float(format(value, "g")) == value else repr(value)


def setup_to_query(setup: Setup) -> dict[str, str]:
    """The query parameters that reproduce ``setup``: every option the chosen methods read, with
    its value even when it is the default (links stay explicit), and any other option that is
    not at its default (kept for when its method is chosen again)."""
    query = {"f": setup.function, "x0": ",".join(p.strip() for p in setup.x0_text.split(",")),
             "methods": ",".join(setup.methods)}
    shown = options_shown(setup.methods)
    for spec in SPEC:
        value = getattr(setup.options, spec.name)
        if spec.name in shown or value != spec.default:
            query[spec.name] = str(value) if spec.kind is int else format_number(value)
    return query


def share_query(setup: Setup) -> str:
    return urlencode(setup_to_query(setup))


# Two operands with only spaces between them: "4x^2 y^2". In a hand-typed link that is almost
# always a + (a bare + in a query string means a space); our own links write + as %2B.
_SPACE_BETWEEN_TERMS = re.compile(r"(?P<left>[A-Za-z_][A-Za-z0-9_]*|[0-9.]+|\))[ \t]+(?=[A-Za-z0-9_.(])")


def link_space_suggestion(text: str) -> str | None:
    """The link's f with + where a space stands between two terms, or None when there is none
    (a space after a function name, as in `sin (x)`, is not such a place)."""
    def plus(match: re.Match) -> str:
        left = match.group("left")
        return match.group(0) if left in FUNCTIONS else left + "+"
    suggestion = _SPACE_BETWEEN_TERMS.sub(plus, text)
    return suggestion if suggestion != text else None


def setup_from_query(params: Mapping[str, str | list[str]]) -> tuple[Setup, list[str]]:
    """Read a setup from query parameters; every bad value falls back to its default and adds a
    message. The function text is only length-checked here: the safe parser judges it later."""
    default = Setup()
    problems: list[str] = []

    def get(name: str) -> str | None:
        value = params.get(name)
        if isinstance(value, list):
            value = value[-1] if value else None
        if value is None:
            return None
        if len(value) > MAX_URL_TEXT:
            problems.append(f"the link's `{name}` is too long ({len(value)} characters); using the default")
            return None
        return value

    setup = default
    function = get("f")
    if function is not None:
        if function.strip():
            setup = replace(setup, function=function)
        else:
            problems.append("the link's function `f` is empty; using the default")
    x0 = get("x0")
    if x0 is not None:
        try:
            parse_point(x0)
            setup = replace(setup, x0_text=", ".join(p.strip() for p in x0.split(",")))
        except ValueError as err:
            problems.append(f"the link's start point was not understood ({err}); using the default")
    methods = get("methods")
    if methods is not None:
        ids = [m.strip() for m in methods.split(",") if m.strip()]
        unknown = [m for m in ids if m not in METHODS]
        known = tuple(dict.fromkeys(m for m in ids if m in METHODS))
        if unknown:
            shown = ", ".join(u[:30] for u in unknown[:5])
            problems.append(f"unknown method(s) in the link: {shown}; known: {', '.join(METHODS)}")
        if known:
            setup = replace(setup, methods=known)
        elif ids or not unknown:
            problems.append("the link selects no known method; using the defaults")

    option_values = {}
    for spec in SPEC:
        text = get(spec.name)
        if text is None:
            continue
        try:
            option_values[spec.name] = spec.parse(text)
        except ValueError as err:
            problems.append(f"the link's `{spec.name}` was not used ({err}); using {spec.default:g}")
    # c1 < c2 is a condition on the pair: a c2 at or below c1 is dropped first, then a c1 at or
    # above the default c2
    c1, c2 = (option_values.get(name, SPEC_BY_NAME[name].default) for name in ("c1", "c2"))
    if not c1 < c2 and "c2" in option_values:
        problems.append(f"the link's `c2` was not used (c2 must be larger than c1 = {c1:g}, got {c2:g}); "
                        f"using {SPEC_BY_NAME['c2'].default:g}")
        del option_values["c2"]
        c2 = SPEC_BY_NAME["c2"].default
    if not c1 < c2 and "c1" in option_values:
        problems.append(f"the link's `c1` was not used (c1 must be smaller than c2 = {c2:g}, got {c1:g}); "
                        f"using {SPEC_BY_NAME['c1'].default:g}")
        del option_values["c1"]
    if option_values:
        setup = replace(setup, options=replace(setup.options, **option_values))
    return setup, problems


PRESETS: tuple[Preset, ...] = (
    Preset("4x² + y² from (15, 15)",
           Setup("4x^2 + y^2", "15, 15", ("gd", "gd-optimal", "newton")),
           "The optimal rate follows -g and zig-zags; Newton uses the curvature and lands in one step."),
    Preset("x² + 1e9 y² from (1, 1)",
           Setup("x^2 + 1e9 y^2", "1, 1", ("gd", "gd-optimal", "newton"), Options(lr=5e-10)),
           "The Newton direction is (-1, -1); the gradient direction is almost (0, -1)."),
    Preset("1-D: optimal rate = Newton",
           Setup("x^4", "1", ("gd-optimal", "newton")),
           "In one dimension g'g/g'Hg = 1/f'': the two methods take the very same steps."),
    Preset("Learning rate too small",
           Setup("4x^2 + y^2", "15, 15", ("gd", "newton"), Options(lr=0.01)),
           "eta = 0.01 crawls: after 1000 steps the gradient is still above the tolerance."),
    Preset("Learning rate too large",
           Setup("4x^2 + y^2", "15, 15", ("gd", "gd-optimal", "newton"), Options(lr=0.26)),
           "eta = 0.26 > 2/lambda_max = 0.25: the x-coordinate flips sign and grows; GD diverges."),
    Preset("Rosenbrock from (-1.2, 1)",
           Setup("(1-x)^2 + 100(y-x^2)^2", "-1.2, 1", ("gd", "newton", "newton-damped", "bfgs"),
                 Options(lr=0.001, max_iter=2000)),
           "A curved valley: fixed-rate GD crawls along it, Newton-type methods follow it."),
    Preset("Himmelblau from (0, 0)",
           Setup("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "0, 0", ("gd", "newton", "newton-damped", "bfgs"),
                 Options(lr=0.01)),
           "Four minima, a maximum and saddles: pure Newton happily converges to the maximum."),
    Preset("Double well x⁴ - 2x²",
           Setup("x^4 - 2x^2", "0.3", ("gd", "gd-armijo", "newton"), Options(lr=0.01)),
           "Two minima and a maximum between them: Newton from near the top converges to the maximum."),
    Preset("Saddle x² - y²",
           Setup("x^2 - y^2", "1, 1", ("gd", "gd-optimal", "newton", "newton-damped")),
           "g'Hg = 0 stops the optimal rate; Newton jumps to the saddle; descent methods run away."),
)
