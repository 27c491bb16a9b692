"""The parser against generated hostile input (hypothesis).

Every input must end in exactly one of two ways: a valid expression (a sympy Expr of real
symbols among the returned variables, exact numbers, only whitelisted functions, and a
normalised text that parses again to the same thing) or a ParseError with a readable message.
Anything else (another exception, a hang, a wrong reading, a side effect) is a bug.

The bulk runs ``parse_function`` in-process; a smaller sample goes through ``build_problem``
with its isolated worker and time budget. Generated input, by test (max_examples add up to
well over 5,000, see ``TOTAL_EXAMPLES``):

- random unicode text; text over the grammar's own characters; token soups of the grammar;
- expressions generated together with the sympy expression they must mean (an oracle);
- deep nesting of every kind (parentheses, calls, signs, power towers);
- huge numbers, decimal exponents and exponent towers (with the exact outcome predicted);
- unicode look-alikes, zero-width and control characters spliced into valid text;
- very long strings; caller-declared variable lists;
- Python escape payloads (attribute chains to os.system, __import__, eval/exec, lambda,
  f-strings, walrus, comprehensions, subscripts, statements, comments) that create a canary
  file or set a module attribute if they ever run. A control test runs the same payloads with
  Python itself to prove that they are live.
"""

from __future__ import annotations

import builtins
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core import ParseError, ParsedFunction, build_problem, natural_key, parse_function
from core.parsing import CONSTANTS, FUNCTIONS, MAX_CONSTANT, MAX_LENGTH, MAX_NESTING, MAX_VARIABLES, VARIABLE_NAME

# --------------------------------------------------------------------------------------------
# The oracle every input goes through
# --------------------------------------------------------------------------------------------

ALLOWED_FUNCTION_CLASSES = {f for f in FUNCTIONS.values() if isinstance(f, type)}
HANG_SECONDS = 30.0  # a hang detector, not a timing test: a parse takes milliseconds


class Hang(BaseException):
    """Raised by the hang guard; a BaseException so that no `except Exception` swallows it."""


@contextmanager
def hang_guard(text: str):
    """Turn a parse that never returns into a test failure naming the input (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(signum, frame):
        raise Hang(f"parse_function did not return within {HANG_SECONDS:g} s for {text[:200]!r}")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_error(err: ParseError) -> str:
    message = str(err)
    assert message.strip(), "a ParseError without a message"
    assert message.isprintable(), f"the message carries raw control characters: {message!r}"
    return message


def check_valid(parsed: ParsedFunction, declared: list[str] | None = None) -> None:
    """What every accepted input must satisfy."""
    assert isinstance(parsed, ParsedFunction)
    expr, variables = parsed.expr, parsed.variables
    assert isinstance(expr, sp.Expr), type(expr)
    assert isinstance(parsed.text, str) and parsed.text.strip()
    assert 1 <= len(variables) <= MAX_VARIABLES
    assert all(isinstance(v, sp.Symbol) and v.is_real is True for v in variables), variables
    names = [v.name for v in variables]
    assert len(set(names)) == len(names)
    assert all(VARIABLE_NAME.fullmatch(n) and n not in CONSTANTS for n in names), names
    if declared is None:
        assert names == sorted(names, key=natural_key)
    else:
        assert names == [v.strip() for v in declared]
    assert expr.free_symbols <= set(variables), (expr, variables)
    assert not expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I), expr
    for atom in expr.atoms():
        assert isinstance(atom, (sp.Symbol, sp.Rational, sp.NumberSymbol)), (type(atom), expr)
    for call in expr.atoms(sp.Function):
        assert type(call) in ALLOWED_FUNCTION_CLASSES, (type(call), expr)
    # The normalised text is the cache key the app parses again (ui.compute): it must be
    # accepted and mean the same thing.
    again = parse_function(parsed.text, declared)
    assert again.text == parsed.text, (parsed.text, again.text)
    assert again.expr == expr and again.variables == variables, (parsed.text, again.expr, expr)


def outcome(text: str, declared: list[str] | None = None) -> ParsedFunction | ParseError:
    """Parse; return the valid result or the ParseError. Any other exception fails the test."""
    with hang_guard(text):
        try:
            parsed = parse_function(text, declared)
        except ParseError as err:
            check_error(err)
            return err
        check_valid(parsed, declared)
    return parsed


def real(name: str) -> sp.Symbol:
    return sp.Symbol(name, real=True)


# --------------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------------

GRAMMAR_CHARS = "xyzabw0123456789_+-*/^(). \tesincoqrtlhpgE"
OTHER_CHARS = ",;[]{}=:'\"#\\\n\r\x00@%!&|~<>`$?"

numbers = st.one_of(
    st.integers(0, 10**40).map(str),
    st.sampled_from(["0", "1", "2", "10", "0.5", ".5", "5.", "1e5", "1E-5", "2.5e+3", "1e300",
                     "1e301", "1e999999", "1e-999999", "0e-99999999999999999999", "1.2.3", "00",
                     "9" * 31, "1" + "0" * 29]),
    st.from_regex(r"\d{1,6}(\.\d{0,4})?([eE][+-]?\d{1,4})?", fullmatch=True),
)
names = st.one_of(
    st.sampled_from(["x", "y", "z", "x1", "x2", "x10", "x_3", "x20", "x21", "E", "I", "N", "S",
                     "Q", "O", "xy", "xyz", "abc", "xx", "foo", "beta", "gamma", "lambda",
                     "__import__", "__class__", "__builtins__", "_", "Integer", "Symbol",
                     "Rational", "eval", "exec", "os", "sys", "import", "sinx", "sin2", "expx"]),
    st.sampled_from(sorted(FUNCTIONS) + sorted(CONSTANTS)),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
)
operators = st.sampled_from(["+", "-", "*", "/", "^", "**", "(", ")", "(", ")", ".", "//"])
spaces = st.sampled_from(["", " ", "  ", "\t"])
strange = st.sampled_from(list(OTHER_CHARS) + ["\u200b", "\uff58", "\u0445", "\u00b2", "\u2212", "\u00a0"])
tokens = st.one_of(numbers, names, names, operators, operators, spaces, strange)
clean_tokens = st.one_of(numbers, names, names, operators, operators, spaces)
operands = st.one_of(
    numbers, names, st.sampled_from(VALID_OPERANDS := ["x", "y", "x1", "x2", "z", "2x", "xy", "pi", "e", "(x+1)",
                                                        "sin(x)", "exp(-y)", "sqrt(x^2+1)", "log(x)", "abs(y)"]),
)
binary_operators = st.sampled_from(["+", "-", "*", "/", "^", "**", " ", "", "+-", "*-", "^-", "//"])


@st.composite
def token_soup(draw) -> str:
    """Token sequences: dirty (any token), clean (grammar tokens only), or operand-operator
    chains with random parentheses, which get past the first gates and reach sympy."""
    flavour = draw(st.sampled_from(["dirty", "clean", "chain", "chain"]))
    if flavour == "chain":
        items = draw(st.lists(st.tuples(operands, binary_operators), min_size=1, max_size=20))
        text = "".join(operand + op for operand, op in items[:-1]) + items[-1][0]
        for _ in range(draw(st.integers(0, 3))):  # wrap a random slice in parentheses
            i = draw(st.integers(0, len(text)))
            j = draw(st.integers(i, len(text)))
            text = text[:i] + draw(st.sampled_from(["(", "sin(", "-(", "sqrt("])) + text[i:j] + ")" + text[j:]
        return text
    parts = draw(st.lists(tokens if flavour == "dirty" else clean_tokens, max_size=40))
    separator = draw(st.sampled_from(["", " ", ""]))
    return separator.join(parts)


# -- expressions generated with their meaning ------------------------------------------------

@dataclass(frozen=True)
class Gen:
    text: str
    expr: sp.Expr
    names: frozenset[str]
    has_pow: bool
    # Some part is undefined or not real on its own (1/0, log(-2), acos(2)), even if the whole
    # is not (0*log(-2) is 0 to sympy): the parser may refuse it or accept the whole.
    odd: bool = False
    # Some part is a constant above the parser's bound (exp(1000)): it may be refused as too large.
    big: bool = False


def _odd(*parts: Gen, result: sp.Expr | None = None) -> bool:
    if any(p.odd for p in parts):
        return True
    if result is None:
        return False
    if result.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I):
        return True
    return not result.free_symbols and result.is_real is False


def _big(*parts: Gen, result: sp.Expr) -> bool:
    if any(p.big for p in parts):
        return True
    if result.free_symbols:
        return False
    try:
        return float(abs(sp.N(result, 15))) > MAX_CONSTANT / 10  # /10: float rounding at the bound
    except (TypeError, ValueError):
        return False


VARIABLE_POOL = ["x", "y", "z", "w", "x1", "x2", "x10", "a", "b", "E", "I", "N", "S", "Q", "O"]
LETTERS_FOR_PRODUCTS = "abcdwxyz"  # no `e`, and no run of them starts a function name
DECIMALS = {"0.5": sp.Rational(1, 2), "2.25": sp.Rational(9, 4), ".5": sp.Rational(1, 2),
            "5.": sp.Integer(5), "1e3": sp.Integer(1000), "2.5e-2": sp.Rational(1, 40),
            "1E2": sp.Integer(100), "0.125": sp.Rational(1, 8)}
FUNCTION_NAMES = sorted(FUNCTIONS)


def _variable(name: str) -> Gen:
    return Gen(name, real(name), frozenset([name]), False)


def _number(text: str, value: sp.Expr) -> Gen:
    return Gen(text, value, frozenset(), False)


@st.composite
def leaves(draw) -> Gen:
    kind = draw(st.sampled_from(["var", "var", "var", "var", "int", "decimal", "constant", "coefficient",
                                 "monomial", "negated_power", "letters", "bare_call"]))
    var = draw(st.sampled_from(VARIABLE_POOL))
    n = draw(st.integers(0, 20))
    if kind == "var":
        return _variable(var)
    if kind == "int":
        return _number(str(n), sp.Integer(n))
    if kind == "decimal":
        text = draw(st.sampled_from(sorted(DECIMALS)))
        return _number(text, DECIMALS[text])
    if kind == "constant":
        name = draw(st.sampled_from(sorted(CONSTANTS)))
        return _number(name, CONSTANTS[name])
    if kind == "coefficient":  # 2x, 0x1 (not hex), 1e3x, 2.25y
        text, value = draw(st.sampled_from([(str(n), sp.Integer(n)), *DECIMALS.items()]))
        return Gen(f"{text}{var}", value * real(var), frozenset([var]), False)
    if kind == "monomial":  # 3x^2 means 3*(x^2)
        k = draw(st.integers(0, 3))
        op = draw(st.sampled_from(["^", "**"]))
        return Gen(f"{n}{var}{op}{k}", sp.Integer(n) * real(var) ** k, frozenset([var]), True)
    if kind == "negated_power":  # -x^2 means -(x^2)
        k = draw(st.integers(0, 3))
        return Gen(f"-{var}^{k}", -(real(var) ** k), frozenset([var]), True)
    if kind == "letters":  # xy, xyz: products of one-letter variables
        letters = draw(st.lists(st.sampled_from(LETTERS_FOR_PRODUCTS), min_size=2, max_size=3, unique=True))
        return Gen("".join(letters), sp.Mul(*[real(c) for c in letters]), frozenset(letters), False)
    name = draw(st.sampled_from(FUNCTION_NAMES))  # sin(x) (sin x is refused: cos x cos y read as cos(x cos y))
    return Gen(f"{name}({var})", FUNCTIONS[name](real(var)), frozenset([var]), False)


def _combine(children):
    def binary(args):
        a, b, op, style = args
        names_ = a.names | b.names
        has_pow = a.has_pow or b.has_pow
        if op == "*":
            text = {"star": f"({a.text})*({b.text})", "space": f"({a.text}) ({b.text})",
                    "juxtaposed": f"({a.text})({b.text})"}[style]
            expr = a.expr * b.expr
            return Gen(text, expr, names_, has_pow, _odd(a, b, result=expr), _big(a, b, result=expr))
        expr = {"+": a.expr + b.expr, "-": a.expr - b.expr, "/": a.expr / b.expr}[op]
        return Gen(f"({a.text}) {op} ({b.text})", expr, names_, has_pow, _odd(a, b, result=expr),
                   _big(a, b, result=expr))

    def call(args):
        a, name = args
        expr = FUNCTIONS[name](a.expr)
        return Gen(f"{name}({a.text})", expr, a.names, a.has_pow, _odd(a, result=expr), _big(a, result=expr))

    def negate(a):
        return Gen(f"-({a.text})", -a.expr, a.names, a.has_pow, a.odd, a.big)

    def power(args):
        a, k, op = args
        expr = a.expr ** sp.Integer(int(k.strip("()")))
        return Gen(f"({a.text}){op}{k}", expr, a.names, True, _odd(a, result=expr), _big(a, result=expr))

    return st.one_of(
        st.tuples(children, children, st.sampled_from(["+", "-", "*", "/"]),
                  st.sampled_from(["star", "space", "juxtaposed"])).map(binary),
        st.tuples(children, st.sampled_from(FUNCTION_NAMES)).map(call),
        children.map(negate),
        # No power of a power: keeps constant powers far below the parser's bounds (exp and
        # cosh of constants can still exceed them: Gen.big).
        st.tuples(children.filter(lambda g: not g.has_pow),
                  st.sampled_from(["0", "1", "2", "3", "-1", "-2", "(-1)"]),
                  st.sampled_from(["^", "**"])).map(power),
    )


meaningful_expressions = st.recursive(leaves(), _combine, max_leaves=10)


# -- nesting, numbers, look-alikes, long strings ---------------------------------------------

CORES = ["x", "x^2 + y", "2xy", "sin(x)", "-x", "1", "2", "0.5", "-1", "pi", "1e299", "2 x"]


@st.composite
def deep_nesting(draw) -> tuple[str, str, str]:
    """(kind, text, the expression inside the nesting)."""
    kind = draw(st.sampled_from(["parens", "calls", "signs", "tower", "mixed"]))
    depth = draw(st.integers(0, 400))
    core = draw(st.sampled_from(CORES))
    if kind == "parens":
        return kind, "(" * depth + core + ")" * depth, core
    if kind == "calls":
        name = draw(st.sampled_from(FUNCTION_NAMES))
        return kind, f"{name}(" * depth + core + ")" * depth, core
    if kind == "signs":
        signs = draw(st.lists(st.sampled_from("+-"), min_size=depth, max_size=depth))
        return kind, "".join(signs) + core, core
    if kind == "tower":
        op = draw(st.sampled_from(["^", "**", "^-", "**-", "^+"]))
        base = draw(st.sampled_from(["x", "2", "y", "1.5", "0.5", "(x+1)"]))
        return kind, op.join([base] * (depth + 1)), base
    openers = draw(st.lists(st.sampled_from(["(", "sin(", "-(", "x^(", "2*(", "exp(", "(x+", "sqrt(",
                                             "-", "x^-", "2^"]), min_size=depth, max_size=depth))
    closing = "".join(")" * opener.count("(") for opener in reversed(openers))
    return kind, "".join(openers) + core + closing, core


lookalikes = {
    "x": ["\uff58", "\u0445", "\u03c7", "\U0001d465", "\u2179"],  # fullwidth, Cyrillic, Greek chi, math italic, roman numeral
    "y": ["\u0443", "\uff59", "\u03b3"],
    "a": ["\u0430", "\u03b1"], "e": ["\u0435", "\u212f"], "o": ["\u043e", "\u03bf"],
    "s": ["\u0455"], "i": ["\u0456", "\u0131"], "c": ["\u0441"], "p": ["\u0440", "\u03c1"],
    "1": ["\uff11", "\U0001d7cf", "\u0661"], "2": ["\u00b2", "\uff12", "\u2082"],
    "^": ["\u02c6", "\uff3e"], "*": ["\u2217", "\u00d7", "\u00b7", "\u22c5"],
    "-": ["\u2212", "\u2013", "\u2010"], "+": ["\uff0b"], "(": ["\uff08"], ")": ["\uff09"],
    "/": ["\u2215", "\u00f7"], ".": ["\u2024"], " ": ["\u00a0", "\u2003", "\u3000"],
}
invisible = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u202e", "\u0301", "\u00ad"]
LOOKALIKE_BASES = ["x^2 + y^2", "sin(x)*exp(-y^2)", "(1-x)^2 + 100(y-x^2)^2", "4x^2 + y^2",
                   "x1 - x2 / 2", "cos(pi x) + e"]


@st.composite
def with_lookalikes(draw) -> str:
    text = list(draw(st.sampled_from(LOOKALIKE_BASES)))
    swappable = [i for i, ch in enumerate(text) if ch in lookalikes]
    picks = draw(st.lists(st.sampled_from(swappable), min_size=0, max_size=3, unique=True))
    for i in picks:
        text[i] = draw(st.sampled_from(lookalikes[text[i]]))
    inserts = draw(st.lists(st.tuples(st.integers(0, len(text)), st.sampled_from(invisible)),
                            min_size=0 if picks else 1, max_size=3))
    for position, char in sorted(inserts, reverse=True):
        text.insert(position, char)
    return "".join(text)


@st.composite
def long_strings(draw) -> tuple[str, int]:
    """(text, k) with a known meaning for some kinds."""
    kind = draw(st.sampled_from(["sum", "sum_spaced", "padded", "letters", "calls", "soup"]))
    k = draw(st.integers(1, 20_000))
    if kind == "sum":
        return "x+" * k + "x", k
    if kind == "sum_spaced":
        return "x + " * k + "x", k
    if kind == "padded":
        return " " * k + "x^2" + "\t" * k, k
    if kind == "letters":
        return "x" * k, k
    if kind == "calls":
        return "sin(x)" * k, k
    return draw(token_soup()) * max(1, k // 10), k


# -- escape payloads ---------------------------------------------------------------------------

# Effects: format with canary=<file path>, module=<name of this module>. Each one, if Python ever
# ran it, creates the canary file or sets PWNED on this module.
EFFECTS = [
    "__import__('pathlib').Path('{canary}').touch()",
    "__import__('os').system('touch {canary}')",
    "open('{canary}', 'w').close()",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]"
    ".__init__.__globals__['system']('touch {canary}')",
    "[c for c in x.__class__.__mro__[-1].__subclasses__() if c.__name__ == '_wrap_close'][0]"
    ".__init__.__globals__['system']('touch {canary}')",
    "setattr(__import__('sys').modules['{module}'], 'PWNED', True)",
    "exec(\"import pathlib; pathlib.Path('{canary}').touch()\")",
    "eval(\"__import__('os').system('touch {canary}')\")",
    "__import__('importlib').import_module('os').system('touch {canary}')",
    "getattr(__import__('builtins'), 'setattr')(__import__('sys').modules['{module}'], 'PWNED', 1)",
    "vars(__import__('sys').modules['{module}']).__setitem__('PWNED', True)",
]
# Wrappers: (template, live) - live ones run the effect when executed by Python (see the
# control test); the others (comments, implicit multiplication) only exist to be refused.
WRAPPERS = [
    ("{e}", True), ("x + {e}", True), ("{e} * y", True), ("(lambda: {e})()", True),
    ("[{e} for _ in (1,)]", True), ("(_ := {e})", True), ("f'''{{{e}}}'''", True),
    ("x if {e} else y", True), ("({e},)[0]", True), ("{e} or x", True), ("x; {e}", True),
    ("x\n{e}", True), ("{e}.real", True), ("x[{e}]", True), ("[{e}]", True), ("{{{e}}}", True),
    ("sin({e})", True), ("x**{e}", True), ("x + \\\n{e}", True), ("not {e}", True),
    ("x # {e}", False), ("2x + {e}", False), ("x^2 + {e}", False), ("{e}\x00", False),
]


def payload(effect: str, wrapper: str, canary: Path, module: str) -> str:
    return wrapper.format(e=effect.format(canary=canary, module=module))


MODULE = __name__


def fired(canary: Path) -> bool:
    return canary.exists() or bool(getattr(sys.modules[MODULE], "PWNED", False))


@pytest.fixture(scope="module")
def canary(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("canary") / "escaped"
    assert not fired(path)
    yield path
    assert not fired(path), "an escape payload ran"


def _reset(canary: Path) -> None:
    canary.unlink(missing_ok=True)
    if hasattr(sys.modules[MODULE], "PWNED"):
        delattr(sys.modules[MODULE], "PWNED")


# --------------------------------------------------------------------------------------------
# In-process fuzzing (the bulk)
# --------------------------------------------------------------------------------------------

FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                   HealthCheck.filter_too_much])
# FUZZ_SCALE=10 python -m pytest tests/test_fuzz_parser.py multiplies every budget (a longer hunt).
SCALE = max(1, int(os.environ.get("FUZZ_SCALE", "1")))
EXAMPLES = {name: count * SCALE for name, count in {
    "random_unicode_text": 800, "grammar_characters": 1200, "token_soup": 2000,
    "meaningful_expressions": 1000, "declared_variables": 300, "deep_nesting": 500,
    "huge_numbers": 300, "exponent_towers": 300, "lookalikes": 300, "long_strings": 200,
    "escape_payloads": 600,
}.items()}
ISOLATED_EXAMPLES = 40 * SCALE
TOTAL_EXAMPLES = sum(EXAMPLES.values()) + ISOLATED_EXAMPLES


def test_the_fuzz_budget_is_at_least_5000_inputs():
    assert TOTAL_EXAMPLES >= 5000


@settings(max_examples=EXAMPLES["random_unicode_text"], **FAST)
@given(st.text(max_size=300))
def test_random_unicode_text(text):
    result = outcome(text)
    if isinstance(result, ParseError) and any(not ch.isascii() for ch in text) \
            and len(text) - text.count(" ") - text.count("\t") <= MAX_LENGTH:
        message = str(result)
        assert "unexpected character" in message or "empty" in message, message


@settings(max_examples=EXAMPLES["grammar_characters"], **FAST)
@given(st.text(alphabet=GRAMMAR_CHARS + OTHER_CHARS[:8], max_size=120))
def test_text_over_the_grammar_characters(text):
    outcome(text)


@settings(max_examples=EXAMPLES["token_soup"], **FAST)
@given(token_soup())
def test_token_soup(text):
    outcome(text)


@settings(max_examples=EXAMPLES["meaningful_expressions"], **FAST)
@given(meaningful_expressions)
def test_generated_expressions_mean_what_they_say(gen):
    result = outcome(gen.text)
    undefined = gen.expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I)
    refusals = ["undefined or complex", "division by zero"]
    if gen.odd and not undefined and isinstance(result, ParseError) \
            and any(reason in str(result) for reason in refusals):
        return  # an undefined part, refused as such
    if gen.big and isinstance(result, ParseError) and "number too large" in str(result):
        return  # a constant part above the bound, refused as such
    if not gen.names or undefined:
        assert isinstance(result, ParseError), (gen.text, result)
        reasons = (["no variables"] if not gen.names else []) + (
            ["undefined or complex", "division by zero"] if undefined else [])
        assert any(reason in str(result) for reason in reasons), (gen.text, str(result))
        return
    assert isinstance(result, ParsedFunction), (gen.text, str(result))
    assert [v.name for v in result.variables] == sorted(gen.names, key=natural_key)
    assert result.expr == gen.expr or sp.simplify(result.expr - gen.expr) == 0, (gen.text, result.expr, gen.expr)


@settings(max_examples=EXAMPLES["declared_variables"], **FAST)
@given(st.one_of(meaningful_expressions.map(lambda g: g.text), token_soup()),
       st.lists(st.one_of(st.sampled_from(VARIABLE_POOL + ["x3", " y ", "pi", "e", "foo", ""]),
                          st.text(max_size=4)), max_size=MAX_VARIABLES + 2))
def test_declared_variable_lists(text, declared):
    result = outcome(text, declared)
    if isinstance(result, ParsedFunction):
        assert [v.name for v in result.variables] == [d.strip() for d in declared]


@settings(max_examples=EXAMPLES["deep_nesting"], **FAST)
@given(deep_nesting())
def test_deep_nesting(case):
    kind, text, core = case
    result = outcome(text)
    depth, deepest = 0, 0
    for ch in text:
        depth += (ch == "(") - (ch == ")")
        deepest = max(deepest, depth)
    visible = len(text) - text.count(" ")
    if visible > MAX_LENGTH:
        assert isinstance(result, ParseError) and "too long" in str(result), (text[:80], result)
    elif deepest > MAX_NESTING:
        assert isinstance(result, ParseError) and "nested too deeply" in str(result), (text[:80], result)
    elif kind == "parens":  # parentheses change nothing
        bare = outcome(core)
        assert type(result) is type(bare)
        if isinstance(bare, ParsedFunction):
            assert result.expr == bare.expr and result.variables == bare.variables


def _tower_value(numbers: list[int]) -> int | None:
    """Exact value of a^b^c... (right-associative) or None when the parser must refuse it: an
    exponent above 100 in magnitude or any sub-tower above 1e300 (core.parsing's bounds)."""
    value = numbers[-1]
    for base in reversed(numbers[:-1]):
        if value > 100:
            return None
        value = base ** value
        if value > 10**300:
            return None
    return value


@settings(max_examples=EXAMPLES["huge_numbers"], **FAST)
@given(st.one_of(
    st.tuples(st.just("digits"), st.integers(1, 5000)),
    st.tuples(st.just("power_of_ten"), st.one_of(st.integers(-400, 400), st.integers(-10**25, 10**25))),
))
def test_huge_numbers_and_decimal_exponents(case):
    kind, n = case
    if kind == "digits":
        digits = "9" * n
        result = outcome(f"{digits} x")
        if n <= 30:
            assert isinstance(result, ParsedFunction) and result.expr == sp.Integer(digits) * real("x")
        else:
            assert isinstance(result, ParseError) and ("number too long" in str(result) or "too long" in str(result))
        return
    assume(abs(n) not in (300, 301))  # float rounding at the 1e300 bound is not the point here
    result = outcome(f"1e{n} x")
    if isinstance(result, ParsedFunction):
        assert n <= 300 and result.expr == sp.Integer(10) ** n * real("x")
    else:
        assert n > 300 or n < -300, (n, str(result))
        assert "number" in str(result)


@settings(max_examples=EXAMPLES["exponent_towers"], **FAST)
@given(st.lists(st.one_of(st.integers(0, 12), st.integers(0, 10**6)), min_size=2, max_size=6),
       st.sampled_from(["^", "**"]), st.sampled_from(["{t} x", "x^({t})", "x*{t}"]))
def test_exponent_towers(numbers, op, template):
    tower = op.join(map(str, numbers))
    text = template.format(t=tower)
    expected = _tower_value(numbers)
    in_exponent = template.startswith("x^")
    if expected is not None:
        assume(not 10**299 <= expected <= 10**301)
    result = outcome(text)
    if expected is None or (in_exponent and expected > 100):
        assert isinstance(result, ParseError), (text, result)
        assert "too large" in str(result)
    else:
        x = real("x")
        assert isinstance(result, ParsedFunction), (text, str(result))
        assert result.expr == (x ** expected if in_exponent else sp.Integer(expected) * x)


@settings(max_examples=EXAMPLES["lookalikes"], **FAST)
@given(with_lookalikes())
def test_unicode_lookalikes_and_invisible_characters_are_refused(text):
    result = outcome(text)
    assert isinstance(result, ParseError), text
    assert "unexpected character" in str(result), str(result)


@settings(max_examples=EXAMPLES["long_strings"], **FAST)
@given(long_strings())
def test_long_strings(case):
    text, k = case
    visible = len(text) - text.count(" ") - text.count("\t")
    result = outcome(text)
    if visible > MAX_LENGTH:
        assert isinstance(result, ParseError) and "too long" in str(result), str(result)[:100]
    elif text.startswith("x+") or text.startswith("x + "):
        assert isinstance(result, ParsedFunction) and result.expr == (k + 1) * real("x")
    elif text.startswith("sin(x)"):
        assert isinstance(result, ParsedFunction) and result.expr == sp.sin(real("x")) ** k


escape_payloads = st.tuples(
    st.sampled_from(EFFECTS), st.sampled_from([w for w, _ in WRAPPERS]),
    st.sampled_from([w for w, _ in WRAPPERS]), st.booleans(),
    st.sampled_from(["", " ", "x + ", "2*", "\t", "4x^2 + "]), st.sampled_from(["", " ", " + y", "\n"]),
)


@settings(max_examples=EXAMPLES["escape_payloads"], **FAST)
@given(escape_payloads)
def test_escape_payloads_are_refused_and_never_run(canary, case):
    effect, wrapper, outer, nest, prefix, suffix = case
    text = payload(effect, wrapper, canary, MODULE)
    if nest:
        text = outer.format(e=text)
    text = prefix + text + suffix
    result = outcome(text)
    assert isinstance(result, ParseError), text
    assert not fired(canary), f"executed: {text!r}"


@pytest.mark.parametrize("wrapper", [w for w, live in WRAPPERS if live])
def test_control_the_escape_payloads_are_live(tmp_path, wrapper):
    """Without the parser, Python does run every live payload: the canary can fire."""
    canary = tmp_path / "control"
    try:
        for effect in EFFECTS:
            _reset(canary)
            code = payload(effect, wrapper, canary, MODULE)
            namespace = {"x": 1, "y": 2, "sin": abs, "__builtins__": builtins}
            try:
                exec(compile(code, "<payload>", "exec"), namespace)  # noqa: S102 - the control
            except Exception:  # noqa: BLE001 - the effect runs before any error in the wrapper
                pass
            assert fired(canary), f"the control payload did not fire: {code!r}"
    finally:
        _reset(canary)


def test_control_sympify_runs_the_payloads(tmp_path):
    """sympy's own sympify (eval underneath) runs them too: the threat is real."""
    canary = tmp_path / "control-sympify"
    try:
        for effect in EFFECTS[:3]:
            _reset(canary)
            try:
                sp.sympify(payload(effect, "{e}", canary, MODULE))
            except Exception:  # noqa: BLE001
                pass
            assert fired(canary)
    finally:
        _reset(canary)


# --------------------------------------------------------------------------------------------
# The isolated path: build_problem with its worker and time budget (a smaller sample)
# --------------------------------------------------------------------------------------------

BUDGET_S = 2.0  # the worker's time limit in this test (the app uses core.problem.DEFAULT_TIMEOUT_S)
SLACK_S = 10.0  # a killed worker is replaced by a cold interpreter importing sympy


@pytest.fixture(scope="module")
def warm_worker():
    build_problem("x^2", timeout=60)  # the first worker's start-up is not charged to anyone


isolated_inputs = st.one_of(
    st.text(max_size=80), token_soup(), meaningful_expressions.map(lambda g: g.text),
    deep_nesting().map(lambda c: c[1]), with_lookalikes(),
    st.tuples(st.sampled_from(EFFECTS), st.sampled_from([w for w, _ in WRAPPERS])),
)


@settings(max_examples=ISOLATED_EXAMPLES, **FAST)
@given(isolated_inputs)
def test_build_problem_returns_or_refuses_within_its_budget(warm_worker, canary, case):
    text = payload(case[0], case[1], canary, MODULE) if isinstance(case, tuple) else case
    start = time.monotonic()
    try:
        problem = build_problem(text, timeout=BUDGET_S)
    except ParseError as err:
        check_error(err)
    else:
        assert isinstance(problem.expr, sp.Expr)
        assert problem.expr.free_symbols <= set(problem.variables)
        assert problem.n == len(problem.variables) >= 1
    elapsed = time.monotonic() - start
    assert elapsed < BUDGET_S + SLACK_S, f"{elapsed:.1f} s for {text[:80]!r}"
    assert not canary.exists(), f"executed in the worker: {text!r}"
