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
class Lesson:
    """A preset told as a short lesson: what to look at, the iterate to play to and stop at, one
    question to ask the class, and its answer (folded until asked for)."""

    look: str
    stop_at: int
    question: str
    answer: str


@dataclass(frozen=True)
class Preset:
    label: str
    setup: Setup
    lesson: str
    story: Lesson


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


PRESETS: tuple[Preset, ...] = (  # the seeds' three cases first; tests/test_lessons.py checks every claim
    Preset("4x² + y² from (15, 15)",
           Setup("4x^2 + y^2", "15, 15", ("gd", "gd-optimal", "newton")),
           "The optimal rate follows -g and zig-zags; Newton uses the curvature and lands in one step.",
           Lesson("the orange path (optimal rate) and the green one (Newton) on the contour picture.", 3,
                  "Why does the orange path turn by exactly 90° at every corner, while Newton goes straight to "
                  "the centre?",
                  "η = g'g/g'Hg is where f is least along −g, so there the new gradient is orthogonal to the old "
                  "one (the slope of f along −g is −g_{k+1}'g_k = 0): each step is perpendicular to the one before. "
                  "Newton minimises the quadratic model of f, and for a quadratic f the model is f itself: one step "
                  "lands on the centre (0, 0).")),
    Preset("x² + 1e9 y² from (1, 1)",
           Setup("x^2 + 1e9 y^2", "1, 1", ("gd", "gd-optimal", "newton"), Options(lr=5e-10)),
           "The Newton direction is (-1, -1); the gradient direction is almost (0, -1).",
           Lesson("the first step of each method (row k = 1 of the tables; the Derivatives page shows both "
                  "directions).", 1,
                  "At (1, 1) the steepest descent direction −g/‖g‖ is almost (0, −1), straight down. Why does "
                  "Newton's step go diagonally, to (0, 0)?",
                  "g = (2, 2·10⁹): its y-part is 10⁹ times larger, so −g/‖g‖ = (−10⁻⁹, −1) to nine digits. Newton "
                  "divides each part by its own curvature, 2 and 2·10⁹: d = −H⁻¹g = (−1, −1), and x₁ = (0, 0). "
                  "Fixed-rate GD (η = 5·10⁻¹⁰, the most its steep direction allows) sets y to 0 in one step and "
                  "multiplies x by 1 − 10⁻⁹ per step: after 1,000 steps x is still 0.999999.")),
    Preset("1-D: optimal rate = Newton",
           Setup("x^4", "1", ("gd-optimal", "newton")),
           "In one dimension g'g/g'Hg = 1/f'': the two methods take the very same steps.",
           Lesson("the two tables, x_k against x_k (and, on the 1-D page, GD's η_k against 1/f''(x_k)).", 3,
                  "Why are the two methods' iterates the same (up to rounding in the 16th digit)?",
                  "With one variable g'g/g'Hg = f'²/(f''·f'²) = 1/f'', so the optimal-rate step x − f'/f'' is "
                  "Newton's step. On x⁴ each step is x_{k+1} = x_k − 4x_k³/(12x_k²) = 2x_k/3.")),
    Preset("Learning rate too small",
           Setup("4x^2 + y^2", "15, 15", ("gd", "newton"), Options(lr=0.01)),
           "eta = 0.01 crawls: after 1000 steps the gradient is still above the tolerance.",
           Lesson("GD's ‖g‖ curve (a straight line on the log scale) and the last rows of its table.", 20,
                  "η = 0.01 is far below 2/λ_max = 0.25, so GD cannot diverge. Why is it still not converged "
                  "after 1,000 steps?",
                  "Along each eigenvector of H (here the axes, λ = 8 and 2) a step multiplies the error by 1 − ηλ: "
                  "0.92 along x, 0.98 along y. The y-part of g starts at 30 and must fall below tol = 10⁻⁸: "
                  "30·0.98^k ≤ 10⁻⁸ needs k ≥ 1,081 steps, more than max_iter = 1,000 (‖g‖ ends at 5.05·10⁻⁸).")),
    Preset("Learning rate too large",
           Setup("4x^2 + y^2", "15, 15", ("gd", "gd-optimal", "newton"), Options(lr=0.26)),
           "eta = 0.26 > 2/lambda_max = 0.25: the x-coordinate flips sign and grows; GD diverges.",
           Lesson("GD's x-coordinate in its table and its path on the picture.", 10,
                  "η = 0.26 is only 4% above 2/λ_max = 0.25. Why does GD blow up instead of converging slowly?",
                  "Along x (λ = 8) each step multiplies x by 1 − 0.26·8 = −1.08: the sign flips and |x| grows by 8% "
                  "a step (15, −16.2, 17.496, …), while y shrinks by 1 − 0.26·2 = 0.48. Any η above 2/λ_max makes "
                  "some |1 − ηλ| > 1.")),
    Preset("Rosenbrock from (-1.2, 1)",
           Setup("(1-x)^2 + 100(y-x^2)^2", "-1.2, 1", ("gd", "newton", "newton-damped", "bfgs"),
                 Options(lr=0.001, max_iter=2000)),
           "A curved valley: fixed-rate GD crawls along it, Newton-type methods follow it.",
           Lesson("GD's path along the curved valley, and how many steps each method needs.", 6,
                  "Why does GD with a fixed rate crawl for thousands of steps while Newton needs six?",
                  "At the minimum (1, 1) H has eigenvalues 1001.6 and 0.3994 (condition number 2,508). A rate "
                  "safe across the valley (η < 2/λ_max ≈ 0.002) moves along its flat floor by about ηλ_min = "
                  "0.04% of the way per step. Newton divides by the curvature in each direction, and damped "
                  "Newton and BFGS follow the valley too.")),
    Preset("Himmelblau from (0, 0)",
           Setup("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "0, 0", ("gd", "newton", "newton-damped", "bfgs"),
                 Options(lr=0.01)),
           "Four minima, a maximum and saddles: pure Newton happily converges to the maximum.",
           Lesson("Newton's badge (blue, not green) and where its path ends.", 4,
                  "Newton converged in 4 steps. To what, and why is that not a minimum?",
                  "Newton solves H d = −g: it heads for a stationary point of its model, whatever its kind. From "
                  "(0, 0) it ends at (−0.2708, −0.9230), where H is negative definite: the maximum of f. Damped "
                  "Newton and BFGS only take steps that decrease f; with GD they reach the minimum (3, 2).")),
    Preset("Double well x⁴ - 2x²",
           Setup("x^4 - 2x^2", "0.3", ("gd", "gd-armijo", "newton"), Options(lr=0.01)),
           "Two minima and a maximum between them: Newton from near the top converges to the maximum.",
           Lesson("Newton's iterates on the curve and the dashed parabola, its model, at each x_k.", 3,
                  "Why does Newton go uphill, to x = 0?",
                  "Where |x| < 1/√3, f'' = 12x² − 4 < 0: the model is a parabola opening downwards and Newton "
                  "jumps to its top. Each step x − f'/f'' = 2x³/(3x² − 1) shrinks |x| while |x| < 1/√5 ≈ 0.447 "
                  "(0.3, −0.074, 0.0008, …): it converges to the maximum 0. GD and gd-armijo go downhill, to the "
                  "minimum at 1.")),
    Preset("Saddle x² - y²",
           Setup("x^2 - y^2", "1, 1", ("gd", "gd-optimal", "newton", "newton-damped")),
           "g'Hg = 0 stops the optimal rate; Newton jumps to the saddle; descent methods run away.",
           Lesson("the optimal rate's status, and where Newton's single step lands.", 1,
                  "Why can the optimal rate not take even one step, and where does Newton go?",
                  "At (1, 1): g = (2, −2) and H = diag(2, −2), so g'Hg = 8 − 8 = 0: f is linear along −g, there "
                  "is no minimum along it, and g'g/g'Hg does not exist. Newton's step −H⁻¹g = (−1, −1) lands on "
                  "the saddle (0, 0): it finds stationary points, not minima. GD runs away along y, where f falls "
                  "without bound.")),
)
