"""Safe parsing of the function text a person types.

User text is hostile: ``sympify``/``parse_expr`` end in ``eval`` and restricting their globals
does not stop attribute-chain escapes. So the text goes through four gates before sympy
evaluates anything:

1. a character whitelist and a length bound on the raw text;
2. our own tokenizer, which decides what every name means (function, constant, variable, or a
   product of one-letter variables such as ``xy``) and rebuilds a normalised text;
3. sympy's token rewrite only (``stringify_expr`` with implicit multiplication/application,
   ``convert_xor`` and ``rationalize``), whose output is parsed with ``ast.parse`` and checked
   node by node against a whitelist, with bounds on size, depth, exponents and constants;
4. evaluation of the checked code with empty builtins and a namespace holding only the
   whitelisted sympy objects.

Every rejection raises :class:`ParseError` with a message meant for a person.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass

import sympy as sp
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_application,
    implicit_multiplication,
    rationalize,
    standard_transformations,
    stringify_expr,
)

# Characters of user text, not counting spaces and tabs: room for standard least-squares test
# functions (Biggs EXP6 over 13 points is about 1,100); the worker's time limit bounds the cost.
MAX_LENGTH = 4000
MAX_NESTING = 40  # parenthesis depth (Python's own parser gives up near 200)
# Nested operations (powers, signs, calls; a chain a + b - c counts once), bounded like the
# parentheses: sympy's automatic evaluation of deeper mixes of exp, sqrt and powers of x took
# minutes (one 52 levels deep never returned), and towers or runs of signs need no parentheses.
MAX_DEPTH = 40
MAX_POWER_NESTING = 10  # powers inside powers: sympy's cost grows ~cubically with a tower's height
MAX_DECIMAL_EXPONENT = 330  # |n| in a literal such as 1e-n: Rational('1e-99999999') never returns
MAX_AST_NODES = 16_000
MAX_EXPONENT = 100  # |constant exponent|; 2^2^2^2^2 and x^100000 are refused
MAX_CONSTANT = 1e300  # |value| of any constant sub-expression
MAX_NUMBER_CHARS = 30
MAX_VARIABLES = 20

# Name the user types -> sympy object. `abs` and `ln` are the friendly spellings.
FUNCTIONS: dict[str, object] = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan,
    "asin": sp.asin, "acos": sp.acos, "atan": sp.atan,
    "sinh": sp.sinh, "cosh": sp.cosh, "tanh": sp.tanh,
    "exp": sp.exp, "log": sp.log, "ln": sp.log, "sqrt": sp.sqrt, "abs": sp.Abs,
}
CONSTANTS: dict[str, object] = {"pi": sp.pi, "e": sp.E}
# Float versions of FUNCTIONS, to bound constant sub-expressions such as sinh(sinh(...(1))):
# sympy never returns from sinh applied ten times to 1.
_FLOAT_FUNCTIONS: dict[str, object] = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "asin": math.asin, "acos": math.acos,
    "atan": math.atan, "sinh": math.sinh, "cosh": math.cosh, "tanh": math.tanh, "exp": math.exp,
    "log": math.log, "ln": math.log, "sqrt": math.sqrt, "abs": abs,
}
# Constructors that sympy's auto_number/rationalize steps insert around numeric literals.
_NUMBER_CONSTRUCTORS: dict[str, object] = {
    "Integer": sp.Integer, "Float": sp.Float, "Rational": sp.Rational,
}
_TRANSFORMATIONS = standard_transformations + (
    implicit_multiplication, implicit_application, convert_xor, rationalize,
)

UNDEFINED_MESSAGE = "the expression is undefined or complex (e.g. 1/0, log(0) or sqrt(-1))"
_ALLOWED_CHARS = re.compile(r"[A-Za-z0-9_+\-*/^(). \t]")
_TOKEN = re.compile(
    r"(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op>\*\*|[-+*/^()])"
    r"|(?P<space>[ \t]+)"
)
VARIABLE_NAME = re.compile(r"[A-Za-z](?:_?[0-9]+)?")


class ParseError(ValueError):
    """The text cannot be accepted; ``str(err)`` tells a person what is wrong and where."""


@dataclass(frozen=True)
class ParsedFunction:
    """The checked result of parsing: a sympy expression of real symbols."""

    text: str  # normalised text: the cache key for everything derived from it
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]


def natural_key(name: str) -> tuple:
    """Sort key putting x2 before x10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _fail_at(message: str, text: str, pos: int, hint: str = "") -> ParseError:
    near = text[max(0, pos - 10):pos + 10]
    return ParseError(f"{message} at position {pos + 1} (near {near!r}){hint}")


def _check_raw_text(text: str) -> None:
    if not text or not text.strip():
        raise ParseError("the function is empty: type an expression such as 4x^2 + y^2")
    # Spaces do not count: the normalised text (tokens joined by single spaces, so up to twice
    # as long) is the cache key that the app parses again, and must pass this gate too. The
    # raw length is still bounded, so that no input costs more than a few thousand characters.
    visible = len(text) - text.count(" ") - text.count("\t")
    if visible > MAX_LENGTH:
        raise ParseError(f"expression too long ({visible} characters, max {MAX_LENGTH})")
    if len(text) > 4 * MAX_LENGTH:
        raise ParseError(f"expression too long ({len(text)} characters with spaces, max {4 * MAX_LENGTH})")
    for pos, char in enumerate(text):
        if not _ALLOWED_CHARS.fullmatch(char):
            shown = char if char.isprintable() else f"U+{ord(char):04X}"
            if char in "[]{}":
                hint = ": use round parentheses"
            elif char == ",":
                hint = ": no commas (write decimals with a point, 0.5)"
            elif char.isprintable() and not char.isascii():
                hint = ": only plain ASCII letters, digits and + - * / ^ ( ) are accepted"
            else:
                hint = ""
            raise _fail_at(f"unexpected character {shown!r}", text, pos, hint)
    depth = 0
    for pos, char in enumerate(text):
        if char == "(":
            depth += 1
            if depth > MAX_NESTING:
                raise _fail_at(f"parentheses nested too deeply (max {MAX_NESTING})", text, pos)
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _fail_at("unmatched ')'", text, pos)
    if depth > 0:
        raise ParseError(f"unbalanced parentheses: {depth} '(' not closed")


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) for each token; our reading is the only one that counts."""
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:  # only a lone '.' can get here after the character check
            raise _fail_at(f"unexpected {text[pos]!r}", text, pos)
        kind = match.lastgroup
        if kind != "space":
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    return tokens


def canonical_variable(name: str) -> str:
    """x_1 and x1 are one variable, spelt x1 (both were accepted and both shown as x₁)."""
    return name.replace("_", "")


def _resolve_name(name: str, pos: int, text: str, declared: set[str] | None) -> list[str]:
    """What a name means, as a list of names sympy will see (a product when several)."""
    if name in FUNCTIONS or name in CONSTANTS:
        return [name]
    if VARIABLE_NAME.fullmatch(name):
        name = canonical_variable(name)
        if declared is not None and name not in declared:
            raise _fail_at(f"unknown name `{name}`", text, pos,
                           f": the variables are {', '.join(sorted(declared, key=natural_key))}")
        return [name]
    letters = list(name)
    # A short run of distinct letters reads as a product of one-letter variables: 2xy = 2*x*y.
    # Not when it holds a constant (pix is not i*p*x) or is called like a function (cot(x) is
    # not c*o*t*x).
    called = text[pos + len(name):pos + len(name) + 1] == "("
    constant = next((c for c in CONSTANTS if len(c) > 1 and c in name), None)
    splittable = (
        name.isalpha() and len(name) <= 3 and len(set(letters)) == len(letters)
        and "e" not in letters
        and not any(name.startswith(fn) for fn in FUNCTIONS)
        and (declared is None or all(ch in declared for ch in letters))
        and not called and constant is None
    )
    if splittable:
        return letters
    if constant is not None:
        raise _fail_at(f"unknown name `{name}`", text, pos,
                       f": to multiply by {constant}, write it apart, e.g. {name.replace(constant, f'{constant}*', 1)}")
    if called and name.isalpha() and len(name) <= 3:
        raise _fail_at(f"unknown name `{name}`", text, pos,
                       ": it is called like a function, but the functions are "
                       + ", ".join(sorted(set(FUNCTIONS) - {"ln"}))
                       + (" (cot(x) is cos(x)/sin(x))" if name == "cot" else "")
                       + f"; for a product write {'*'.join(letters)}*(...)")
    starts_with_function = next((fn for fn in sorted(FUNCTIONS, key=len, reverse=True)
                                 if name.startswith(fn) and len(name) > len(fn)), None)
    if starts_with_function:
        hint = f": write function calls with parentheses, e.g. {starts_with_function}(x)"
    else:
        hint = (": variables are single letters or a letter with digits (x1, x2, ...), "
                "functions are " + ", ".join(sorted(set(FUNCTIONS) - {"ln"})) + ", constants pi and e")
    raise _fail_at(f"unknown name `{name}`", text, pos, hint)


def _const_value(node: ast.AST, known: dict[int, float | None]) -> float | None:
    """Float value of a constant sub-expression (no variables), else None. ``known`` holds the
    values of the node's children (see _const_values)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in _NUMBER_CONSTRUCTORS and len(node.args) == 1 \
            and isinstance(node.args[0], ast.Constant):
        return float(node.args[0].value)
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return float(CONSTANTS[node.id])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FLOAT_FUNCTIONS \
            and len(node.args) == 1:
        inner = known[id(node.args[0])]
        if inner is None or not math.isfinite(inner):
            return inner
        try:
            return _FLOAT_FUNCTIONS[node.func.id](inner)
        except OverflowError:
            return math.inf  # reported by the caller as a number that is too large
        except ValueError:  # outside the real domain: complex everywhere (log(log(2)) is)
            edge = 1.0 if node.func.id in ("asin", "acos") else 0.0
            if abs(abs(inner) - edge) <= 1e-12:
                return None  # at the edge up to rounding (sqrt(0.3-0.1-0.2)): sympy's exact check decides
            # Refused here: sympy's own evaluation of log(log(...(2))) never returns.
            raise ParseError(UNDEFINED_MESSAGE) from None
    if isinstance(node, ast.UnaryOp):
        inner = known[id(node.operand)]
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp):
        left, right = known[id(node.left)], known[id(node.right)]
        if left is None or right is None:
            return None
        try:
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if isinstance(node.op, ast.Div):
                return left / right
            if isinstance(node.op, ast.Pow):
                if abs(right) > MAX_EXPONENT:
                    return math.inf  # reported by the caller as an exponent that is too large
                value = left ** right
                return abs(value) if isinstance(value, complex) else value
        except ZeroDivisionError:
            raise ParseError("division by zero in a constant") from None
        except OverflowError:
            return math.inf
    return None


def _const_values(nodes: list[ast.AST]) -> dict[int, float | None]:
    """_const_value of every node, children first: no recursion, however deep the tree."""
    known: dict[int, float | None] = {}
    for node in reversed(nodes):  # ast.walk is breadth-first: reversed, children come first
        known[id(node)] = _const_value(node, known)
    return known


_SUM, _PRODUCT = (ast.Add, ast.Sub), (ast.Mult, ast.Div)


def _nesting_depth(nodes: list[ast.AST]) -> tuple[int, int]:
    """(depth of nested operations, depth of nested powers), children first (no recursion).
    Powers, signs and function calls each add an operation level; a chain a + b - c (or
    a * b / c) counts once, as sympy flattens it. Without these bounds a tower x^-x^-...^x or a
    run of signs nests without any parenthesis, and sympy's evaluation of it recurses
    (RecursionError) or takes minutes (a 50-storey tower of powers took 6 s)."""
    depth: dict[int, int] = {}
    powers: dict[int, int] = {}
    for node in reversed(nodes):
        is_power = isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)
        powers[id(node)] = is_power + max((powers.get(id(c), 0) for c in ast.iter_child_nodes(node)), default=0)
        if isinstance(node, ast.BinOp):
            left = depth[id(node.left)]
            chained = isinstance(node.left, ast.BinOp) and any(
                isinstance(node.op, family) and isinstance(node.left.op, family) for family in (_SUM, _PRODUCT))
            depth[id(node)] = max(left if chained else left + 1, depth[id(node.right)] + 1)
        elif isinstance(node, ast.UnaryOp):
            depth[id(node)] = depth[id(node.operand)] + 1
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
            depth[id(node)] = 1 + max((depth[id(arg)] for arg in node.args), default=0)
        else:  # names, literals, number constructors, the Expression root
            depth[id(node)] = max((depth.get(id(child), 0) for child in ast.iter_child_nodes(node)), default=0)
    return depth[id(nodes[0])], powers[id(nodes[0])]


_ALLOWED_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Load,
                  ast.Constant, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd)


def _check_ast(tree: ast.Expression, names: set[str]) -> None:
    """Whitelist walk of the rewritten code: the last gate before evaluation."""
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_AST_NODES:
        raise ParseError(f"expression too large ({len(nodes)} syntax nodes, max {MAX_AST_NODES})")
    constructor_args = set()
    for node in nodes:
        if not isinstance(node, _ALLOWED_NODES):
            raise ParseError(f"unsupported syntax ({type(node).__name__})")
        if isinstance(node, ast.Call):
            func = node.func
            if not isinstance(func, ast.Name) or node.keywords:
                raise ParseError("unsupported function call")
            if func.id in _NUMBER_CONSTRUCTORS:
                if len(node.args) != 1 or not isinstance(node.args[0], ast.Constant) \
                        or not isinstance(node.args[0].value, (int, str)):
                    raise ParseError("malformed number")
                literal = str(node.args[0].value)
                if len(literal) > MAX_NUMBER_CHARS:
                    raise ParseError(f"number too long: {literal[:20]}... (max {MAX_NUMBER_CHARS} digits)")
                decimal_exponent = re.search(r"[eE]([+-]?\d+)$", literal)
                if decimal_exponent and abs(int(decimal_exponent.group(1))) > MAX_DECIMAL_EXPONENT:
                    if int(decimal_exponent.group(1)) > 0:
                        raise ParseError(f"number too large (constants must stay below {MAX_CONSTANT:.0e})")
                    raise ParseError(f"number too small: {literal} (decimal exponents must stay above "
                                     f"-{MAX_DECIMAL_EXPONENT})")
                constructor_args.add(id(node.args[0]))
            elif func.id in FUNCTIONS:
                if len(node.args) != 1:
                    raise ParseError(f"{func.id}() takes exactly one argument")
            else:
                raise ParseError(f"`{func.id}` is not a function")
        elif isinstance(node, ast.Name):
            if node.id not in names:
                raise ParseError(f"unknown name `{node.id}`")
        elif isinstance(node, ast.Constant) and id(node) not in constructor_args:
            raise ParseError("unsupported literal")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            if isinstance(node.left, ast.Name) and node.left.id in FUNCTIONS:
                raise ParseError(f"write {node.left.id}(x)^2, not {node.left.id}^2(x)")
    depth, power_depth = _nesting_depth(nodes)
    if depth > MAX_DEPTH:
        raise ParseError(f"expression nested too deeply ({depth} levels of operations, max {MAX_DEPTH})")
    if power_depth > MAX_POWER_NESTING:
        raise ParseError(f"powers nested too deeply ({power_depth} powers inside each other, "
                         f"max {MAX_POWER_NESTING}): write a shorter tower")
    values = _const_values(nodes)
    for node in nodes:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = values[id(node.right)]
            if exponent is not None and not abs(exponent) <= MAX_EXPONENT:
                raise ParseError(f"exponent too large (max |exponent| {MAX_EXPONENT})")
    for node in nodes:
        value = values[id(node)]
        if value is not None and not abs(value) <= MAX_CONSTANT:
            raise ParseError(f"number too large (constants must stay below {MAX_CONSTANT:.0e})")


def _has_complex_constant(expr: sp.Expr) -> bool:
    """A constant power that sympy keeps unevaluated but that is not real: (-1)^(1/3) is the
    principal cube root, a complex number, and every evaluation of f would fail on it."""
    return any(power.base.is_number and power.exp.is_number and power.base.is_negative
               and not power.exp.is_integer for power in expr.atoms(sp.Pow))


def _normalise(text: str, declared: set[str] | None) -> tuple[str, list[str]]:
    """Gates 1 and 2: check the raw text, read every token, and rebuild the text with names
    resolved and tokens joined by single spaces; also the variable names used. No sympy."""
    if not isinstance(text, str):
        raise ParseError("the function must be text")
    _check_raw_text(text)
    pieces, used = [], []
    previous = None
    tokens = _tokenize(text)
    for index, (kind, token, pos) in enumerate(tokens):
        if kind == "number" and previous == "number":
            # "2 3x" or "1.2.3" would silently multiply: almost surely a typo, so say so.
            raise _fail_at("two numbers in a row (a missing operator or a second decimal point?)", text, pos)
        if kind == "number" and token.startswith(".") and previous == "name" and text[pos - 1] not in " \t":
            # x.5 read as x*0.5 and x2.5 as x2*0.5: never what was meant
            raise _fail_at("a decimal point right after a name", text, pos,
                           ": write a product with *, e.g. x*0.5, or a number with its leading 0, 0.5")
        if kind == "name" and token in FUNCTIONS:
            following = tokens[index + 1][1] if index + 1 < len(tokens) else ""
            if following == "^":
                raise ParseError(f"write {token}(x)^2, not {token}^2(x)")
            if following != "(":
                # cos x cos y was cos(x*cos(y)) and exp -x an internal error: ask for the call
                raise _fail_at(f"`{token}` without parentheses", text, pos,
                               f": write {token}(...), e.g. {token}(x)" + (" cos(y)" if token == "cos" else ""))
        previous = kind
        if kind == "number":
            token = re.sub(r"^0+(?=\d)", "", token)  # 05 is 5 (Python would read 0 and 5: x^02 was 2)
        if kind == "name":
            resolved = _resolve_name(token, pos, text, declared)
            used += [n for n in resolved if n not in FUNCTIONS and n not in CONSTANTS]
            pieces.append(" ".join(resolved))
        elif kind == "number" and len(token) > MAX_NUMBER_CHARS:
            raise _fail_at(f"number too long (max {MAX_NUMBER_CHARS} characters)", text, pos)
        else:
            pieces.append(token)
    return " ".join(pieces), used


def normalise(text: str) -> str:
    """The normalised text of ``text`` ("4x^2+y^2" -> "4 x ^ 2 + y ^ 2"): the key under which
    two spellings of one function share everything derived from it. Cheap (no sympy);
    raises ParseError for text the parser would refuse at its first gates."""
    return _normalise(text, None)[0]


def parse_function(text: str, variables: list[str] | tuple[str, ...] | None = None) -> ParsedFunction:
    """Parse user text into a sympy expression of real symbols, or raise ParseError.

    ``variables`` fixes the names and their order; by default they are the variable names the
    text uses, in natural order (x2 before x10).
    """
    declared: set[str] | None = None
    if variables is not None:
        variables = [v.strip() for v in variables]
        bad = [v for v in variables if not VARIABLE_NAME.fullmatch(v) or v in CONSTANTS]
        if bad:
            shown = bad[0] if bad[0].isprintable() else ascii(bad[0])  # no raw control characters
            raise ParseError(f"invalid variable name `{shown}` (use a letter, optionally with digits: x, y, x1)")
        variables = [canonical_variable(v) for v in variables]
        if len(set(variables)) != len(variables):
            raise ParseError("a variable is listed twice")
        declared = set(variables)

    normalised, used = _normalise(text, declared)

    names = list(variables) if variables is not None else sorted(set(used), key=natural_key)
    if len(names) > MAX_VARIABLES:
        raise ParseError(f"too many variables ({len(names)}, max {MAX_VARIABLES})")
    symbols = {name: sp.Symbol(name, real=True) for name in names}

    namespace: dict[str, object] = {**FUNCTIONS, **CONSTANTS, **_NUMBER_CONSTRUCTORS, **symbols}
    try:
        code = stringify_expr(normalised, dict(symbols), {**FUNCTIONS, **CONSTANTS, **_NUMBER_CONSTRUCTORS},
                              _TRANSFORMATIONS)
        tree = ast.parse(code, mode="eval")
    except ParseError:
        raise
    except (SyntaxError, TypeError, ValueError, IndexError, RecursionError, MemoryError) as err:
        raise ParseError(f"not a valid expression ({type(err).__name__}): check operators and parentheses") from None
    _check_ast(tree, set(namespace))
    try:
        expr = eval(compile(tree, "<function>", "eval"), {"__builtins__": {}}, namespace)  # noqa: S307 (checked AST)
    except (TypeError, ValueError, ZeroDivisionError, RecursionError, OverflowError) as err:
        raise ParseError(f"cannot build the expression: {err}") from None
    if not isinstance(expr, sp.Expr):
        raise ParseError("the text is not a mathematical expression")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo, sp.I) or _has_complex_constant(expr):
        raise ParseError(UNDEFINED_MESSAGE)
    if not names:
        raise ParseError("the function has no variables: use at least one, e.g. x")
    return ParsedFunction(text=normalised, expr=expr,
                          variables=tuple(symbols[name] for name in names))
