"""A corpus of the nastiest inputs, each with the outcome it must have.

Every entry is either refused with a ParseError whose message contains the given fragments
(so it tells a person what is wrong), or, when it is legitimately an expression under the
documented typing rules (a run of up to three distinct letters without `e` is a product of
variables: `os` is o*s), parsed to exactly the expression written next to it. Entries run
through ``parse_function`` in-process and through ``build_problem`` (isolated worker, time
budget), which must agree. Escape payloads would create a canary file if they ever ran.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import sympy as sp

from core import ParseError, build_problem, parse_function


def real(*names: str) -> tuple[sp.Symbol, ...]:
    return tuple(sp.Symbol(name, real=True) for name in names)


x, y, j, o, s, n, t, r, d, i, c, f = real("x", "y", "j", "o", "s", "n", "t", "r", "d", "i", "c", "f")
CANARY = "{canary}"  # replaced by a path in a temporary directory


def nested(fn, times: int, arg: sp.Expr) -> sp.Expr:
    for _ in range(times):
        arg = fn(arg)
    return arg


@dataclass(frozen=True)
class Refused:
    text: str
    fragments: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Means:
    text: str
    expr: sp.Expr
    why: str


SUBCLASSES_TO_SYSTEM = ("().__class__.__base__.__subclasses__()[0].__init__.__globals__['__builtins__']"
                        "['__import__']('os').system('touch " + CANARY + "')")
# Found by tests/test_fuzz_parser.py: sympy's evaluation of this never returned (52 levels).
DEEP_MIX = ('-x^-exp(-(exp(exp(x^-x^-exp(2*(exp((sqrt(-exp(2*(exp(sin(-sqrt(2^2*(-(2*(sqrt(2*(exp((x+exp((x+((x+(x+-sin('
            '-2^x^(-((x+x^(2*(exp(sqrt(2*(---(((-(exp(x^2 + y))))))))))))))))))))))))))))))))))))))))')
EXTENDED_ROSENBROCK_20 = "+".join(f"100(x{k + 1}-x{k}^2)^2+(1-x{k})^2" for k in range(1, 20))

CORPUS = [
    # --- Python escapes --------------------------------------------------------------------
    Refused(SUBCLASSES_TO_SYSTEM, ("unexpected character '['", "position"), "attribute chain to os.system"),
    Refused("x.__class__.__mro__[-1].__subclasses__()", ("unexpected character '['",), "mro walk"),
    Refused("x.__class__.__base__.__subclasses__()", ("unexpected '.'",), "attribute chain without brackets"),
    Refused("().__class__", ("unexpected '.'",), "attribute of a tuple"),
    Refused(f"__import__('os').system('touch {CANARY}')", ("unexpected character \"'\"",), "__import__"),
    Refused("__import__", ("unknown name `__import__`",), "dunder name"),
    Refused("__builtins__", ("unknown name `__builtins__`",), "dunder name"),
    Refused("__import__ (os)", ("unknown name `__import__`",), "__import__ without quotes"),
    Refused("eval(x)", ("unknown name `eval`",), "eval"),
    Refused("exec(x)", ("unknown name `exec`",), "exec"),
    Refused(f"exec(\"open('{CANARY}','w')\")", ("unexpected character '\"'",), "exec of a string"),
    Refused("getattr(x, y)", ("unexpected character ','", "no commas"), "getattr"),
    Refused("globals()", ("unknown name `globals`",), "globals"),
    Refused("print(x)", ("unknown name `print`",), "print"),
    Refused("open", ("unknown name `open`",), "open"),
    Refused("lambda: x", ("unexpected character ':'",), "lambda"),
    Refused(f"(lambda: __import__('os').system('touch {CANARY}'))()", ("unexpected character ':'",), "lambda call"),
    Refused("lambda x", ("unknown name `lambda`",), "lambda keyword"),
    Refused("f'{x}'", ("unexpected character \"'\"",), "f-string"),
    Refused(f"f\"{{__import__('os').system('touch {CANARY}')}}\"", ("unexpected character '\"'",), "f-string payload"),
    Refused("(y := x)", ("unexpected character ':'",), "walrus"),
    Refused("[c for c in x]", ("unexpected character '['", "round parentheses"), "list comprehension"),
    Refused("x[0]", ("unexpected character '['",), "subscript"),
    Refused("{x}", ("unexpected character '{'",), "set display"),
    Refused("import os", ("unknown name `import`",), "import statement"),
    Refused("from os import system", ("unknown name `from`",), "from-import"),
    Refused("x; import os", ("unexpected character ';'",), "statement separator"),
    Refused("x # comment", ("unexpected character '#'",), "comment"),
    Refused(f"x # __import__('os').system('touch {CANARY}')", ("unexpected character '#'",), "payload in a comment"),
    Refused("x if y else x", ("unknown name `else`",), "conditional expression"),
    Refused("True", ("unknown name `True`",), "Python constant"),
    Refused("None", ("unknown name `None`",), "Python constant"),
    Refused("Integer(5) x", ("unknown name `Integer`",), "sympy constructor"),
    Refused("Symbol", ("unknown name `Symbol`",), "sympy class"),
    Refused("sympify", ("unknown name `sympify`",), "sympy function"),
    Refused("x = 1", ("unexpected character '='",), "assignment"),
    Refused("x @ y", ("unexpected character '@'",), "matrix multiplication"),
    Refused("x // y", ("unsupported syntax (FloorDiv)",), "floor division"),
    Refused("x % y", ("unexpected character '%'",), "modulo"),
    Refused("x < y", ("unexpected character '<'",), "comparison"),
    Refused("~x", ("unexpected character '~'",), "bitwise not"),
    Refused("x!", ("unexpected character '!'",), "factorial"),
    Refused("1_000 x", ("unknown name `_000`",), "digit separator"),
    Refused("<script>alert(1)</script>", ("unexpected character '<'",), "HTML"),
    Refused("${7*7}", ("unexpected character '$'",), "template injection"),
    Refused("{{7*7}}", ("unexpected character '{'",), "template injection"),
    Refused("x'; DROP TABLE users; --", ("unexpected character \"'\"",), "SQL"),
    Refused("%00x", ("unexpected character '%'",), "URL-encoded NUL"),
    # --- numbers and exponents -----------------------------------------------------------------
    Refused("9**9**9", ("exponent too large",), "9^387420489 hangs sympy"),
    Refused("9^9^9", ("exponent too large",), "the same with ^"),
    Refused("2^2^2^2^2", ("exponent too large",), "2^65536: more digits than int-to-str allows"),
    Refused("10^10^10", ("exponent too large",), "10^10000000000"),
    Refused("x^100000", ("exponent too large",), "huge exponent on a variable"),
    Refused("x^(10^3)", ("exponent too large",), "constant exponent expression"),
    Refused("1e999999", ("number too large",), "float overflow"),
    Refused("1e999999 x", ("number too large",), "float overflow with a variable"),
    Refused("1e-999999 x", ("number too small",), "Rational('1e-999999') builds a million-digit integer"),
    Refused("1e-999999999999999999999999 x", ("number too small",), "Rational() of this never returns"),
    Refused("0e-99999999999999999999 x", ("number too small",), "zero mantissa, same hang"),
    Refused("1e400 x", ("number too large",), "above 1e300"),
    Refused("1e300*1e300 x", ("number too large",), "constant product above 1e300"),
    Refused("(10^100)^4 x", ("number too large",), "constant power above 1e300"),
    Refused("e^1000 x", ("exponent too large",), "e^1000 overflows a float"),
    Refused("e^100 " * 7 + "x", ("number too large",), "e^700 is above 1e300"),
    Refused("9" * 31 + " x", ("number too long",), "31-digit integer"),
    Refused("9" * 5000, ("too long", "max 4000"), "5000-digit integer"),
    Refused("123456789012345678901234567890^11 x", ("number too large",), "30 digits to the 11th"),
    Refused("1/0", ("division by zero",), "constant division by zero"),
    Refused("0^-1 x", ("division by zero",), "0 to a negative power"),
    Refused("x/0", ("undefined or complex",), "symbolic division by zero"),
    Refused("log(0)", ("undefined or complex",), "log(0) = zoo"),
    Refused("sqrt(-1) x", ("undefined or complex",), "imaginary unit"),
    Refused("log(-1) x", ("undefined or complex",), "i pi"),
    Refused("asin(2) x", ("undefined or complex",), "complex everywhere"),
    Refused("log(" * 14 + "2" + ")" * 14 + " x", ("undefined or complex",), "log(log(2)) < 0: sympy never returned"),
    Refused("sinh(" * 10 + "1" + ")" * 10 + " x", ("number too large",), "sinh applied 10 times: sympy never returned"),
    Refused("exp(1000) x", ("number too large",), "f overflows at every point"),
    # --- size and nesting --------------------------------------------------------------------
    Refused("(" * 200 + "x" + ")" * 200, ("parentheses nested too deeply", "max 40"), "Python's parser limit"),
    Refused("(" * 41 + "x" + ")" * 41, ("nested too deeply",), "just over the limit"),
    Refused("+".join(["x"] * 20_000), ("too long", "max 4000"), "RecursionError in sympy"),
    Refused("x" * 4001, ("too long",), "long name"),
    Refused(" " * 16001 + "x", ("too long", "with spaces"), "mostly spaces"),
    Refused("-" * 995 + "x", ("nested too deeply", "levels of operations"), "used to escape as RecursionError"),
    Refused("+" * 500 + "x", ("nested too deeply",), "unary plus run"),
    Refused("2^-" * 200 + "x", ("nested too deeply",), "tower: took 16 s, then RecursionError"),
    Refused("2^-" * 11 + "x", ("powers nested too deeply", "max 10"), "tower: cubic cost in sympy"),
    Refused("x" + "^x" * 20, ("powers nested too deeply",), "tower of variables"),
    Refused("sin(" * 41 + "x" + ")" * 41, ("nested too deeply",), "deep calls"),
    Refused("-" * 41 + "x", ("nested too deeply", "max 40"), "41 signs"),
    Refused("exp(-" * 21 + "x" + ")" * 21, ("nested too deeply", "42 levels", "max 40"), "21 parentheses, 42 levels"),
    Refused(DEEP_MIX, ("nested too deeply",), "a 52-level mix of exp, sqrt and powers: sympy never returned"),
    Refused(" + ".join(f"x{k}" for k in range(1, 22)), ("too many variables", "max 20"), "21 variables"),
    # --- unicode and control characters --------------------------------------------------------
    Refused("\uff58^2 + \uff59^2", ("unexpected character '\uff58'", "only plain ASCII"), "fullwidth letters"),
    Refused("\uff53\uff49\uff4e(x)", ("only plain ASCII",), "fullwidth sin"),
    Refused("\u0445^2 + \u0443^2", ("unexpected character '\u0445'", "only plain ASCII"), "Cyrillic look-alikes"),
    Refused("x^2 + \u0435", ("only plain ASCII",), "Cyrillic e"),
    Refused("\u03b1 + \u03b2", ("only plain ASCII",), "Greek letters"),
    Refused("\U0001d465^2", ("only plain ASCII",), "mathematical italic x"),
    Refused("x\u00b2", ("only plain ASCII",), "superscript two"),
    Refused("x\u2212y", ("only plain ASCII",), "minus sign"),
    Refused("x\u00d7y", ("only plain ASCII",), "multiplication sign"),
    Refused("x\u200b^2", ("U+200B",), "zero-width space"),
    Refused("\ufeffx", ("U+FEFF",), "byte-order mark"),
    Refused("x\u202e^2", ("U+202E",), "right-to-left override"),
    Refused("x\u00a0+ y", ("U+00A0",), "no-break space"),
    Refused("x\x00", ("U+0000",), "NUL byte"),
    Refused("x\x00__import__('os')", ("U+0000",), "NUL then a payload"),
    Refused("x\n+ y", ("U+000A",), "newline"),
    Refused("x\r\n", ("U+000D",), "carriage return"),
    Refused("x\x0by", ("U+000B",), "vertical tab"),
    Refused("x\x1b[31m", ("U+001B",), "terminal escape"),
    Refused("x \\ y", ("unexpected character '\\\\'",), "backslash"),
    Refused("x + \\\ny", ("unexpected character '\\\\'",), "line continuation"),
    Refused("x\\u0041", ("unexpected character '\\\\'",), "escape sequence"),
    Refused("'x'", ("unexpected character \"'\"",), "single quotes"),
    Refused('"x"', ("unexpected character '\"'",), "double quotes"),
    Refused("`x`", ("unexpected character '`'",), "backticks"),
    Refused("", ("empty",), "empty"),
    Refused(" \t ", ("empty",), "blank"),
    Refused("\u3000", ("empty",), "ideographic space only"),
    # --- syntax ------------------------------------------------------------------------------------
    Refused("x..y", ("unexpected '.'",), "two dots"),
    Refused("x.real", ("unexpected '.'",), "attribute"),
    Refused("x ^^ y", ("not a valid expression",), "doubled operator"),
    Refused("*x", ("not a valid expression",), "leading operator"),
    Refused("()", ("unsupported syntax",), "empty tuple"),
    Refused("sin^2(x)", ("write sin(x)^2",), "textbook notation"),
    Refused("exp()", ("exactly one argument",), "missing argument"),
    Refused("sin", ("`sin` without parentheses",), "bare function"),
    Refused("sys", ("unknown name `sys`",), "repeated letter: not a product"),
    Refused("exit", ("unknown name `exit`",), "four letters"),
    Refused("del x", ("unknown name `del`",), "contains e: not a product"),
    Refused("sinx", ("unknown name `sinx`", "sin(x)"), "missing parentheses"),
    # --- legitimately valid: parsed to the right thing -------------------------------------------
    Means("os", o * s, "two distinct letters: o*s (documented product rule)"),
    Means("x or y", x * o * r * y, "`or` is o*r"),
    Means("not x", n * o * t * x, "`not` is n*o*t"),
    Means("id", i * d, "`id` is i*d"),
    Means("(c for c in x)", c**2 * f * o * r * i * n * x, "a generator expression is a product of letters"),
    Means("1j", j, "no complex literal: 1*j"),
    Means("0x10", sp.Integer(0), "no hex literal: 0*x10"),
    Means("x\t+\ty", x + y, "tabs are spaces"),
    Means("--x", x, "double negation"),
    Means("x^-1", 1 / x, "negative exponent"),
    Means("x^100 + x^-100", x**100 + x**-100, "largest allowed exponents"),
    Means("123456789012345678901234567890 x", sp.Integer(123456789012345678901234567890) * x, "30 digits"),
    Means("1e300 x", sp.Integer(10)**300 * x, "largest allowed constant"),
    Means("1e-330 x", sp.Integer(10)**-330 * x, "smallest allowed decimal exponent"),
    Means("2^2^2^2 x", 65536 * x, "a short tower is fine"),
    Means("(" * 40 + "x" + ")" * 40, x, "40 parentheses"),
    Means("-" * 39 + "x", -x, "39 signs"),
    Means("sin(" * 39 + "x" + ")" * 39, nested(sp.sin, 39, x), "39 nested calls"),
    Means("x+" * 499 + "x", 500 * x, "999 characters: the normalised text (2000) must parse again"),
    Means("E + I + N + S + Q + O", sum(real("E", "I", "N", "S", "Q", "O")), "sympy's special names are variables"),
    Means("pi x + e", sp.pi * x + sp.E, "constants"),
    Means("abs(x)", sp.Abs(x), "abs"),
    Means("sqrt(0.3-0.1-0.2) x", sp.Integer(0), "exactly 0 (not -2.8e-17 as in floats)"),
    Means("asin(0.1+0.2+0.7) x", sp.pi / 2 * x, "exactly asin(1)"),
    Means("sinh(sinh(sinh(1))) x", sp.sinh(sp.sinh(sp.sinh(1))) * x, "a short chain of constant calls"),
    Means(EXTENDED_ROSENBROCK_20,
          sum(100 * (sp.Symbol(f"x{k + 1}", real=True) - sp.Symbol(f"x{k}", real=True)**2)**2
              + (1 - sp.Symbol(f"x{k}", real=True))**2 for k in range(1, 20)),
          "20-variable extended Rosenbrock, written without spaces"),
]


def _text(entry, canary) -> str:
    return entry.text.replace(CANARY, str(canary))


@pytest.fixture(scope="module")
def canary(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "escaped"
    yield path
    assert not path.exists(), "a corpus payload ran"


def _check(entry, canary, parse) -> None:
    text = _text(entry, canary)
    if isinstance(entry, Refused):
        with pytest.raises(ParseError) as info:
            parse(text)
        message = str(info.value)
        assert message.strip() and message.isprintable(), repr(message)
        for fragment in entry.fragments:
            assert fragment in message, (entry.why, message)
    else:
        result = parse(text)
        assert result.expr == entry.expr or sp.expand(result.expr - entry.expr) == 0, (entry.why, result.expr)
        assert all(v.is_real for v in result.variables)
        assert result.expr.free_symbols <= set(result.variables)
        again = parse_function(result.text)  # the normalised text is the app's cache key
        assert again.expr == result.expr, entry.why
    assert not canary.exists(), f"executed: {text!r}"


IDS = [f"{type(e).__name__.lower()}:{e.why}" for e in CORPUS]


@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_corpus_in_process(entry, canary):
    _check(entry, canary, parse_function)


@pytest.fixture(scope="module")
def isolated():
    build_problem("x^2", timeout=60)  # start a worker; its start-up is not charged to an entry

    def parse(text: str):
        return build_problem(text, timeout=10.0)
    return parse


@pytest.mark.parametrize("entry", CORPUS, ids=IDS)
def test_corpus_through_the_isolated_worker(entry, canary, isolated):
    _check(entry, canary, isolated)


def test_corpus_is_varied():
    refused = [e for e in CORPUS if isinstance(e, Refused)]
    assert len(refused) >= 100 and len(CORPUS) - len(refused) >= 15
    assert len({e.text for e in CORPUS}) == len(CORPUS), "duplicate entries"
