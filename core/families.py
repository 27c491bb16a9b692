"""A function for every n, typed once: sums over an index, written out for each n.

The notation (the Theory page's "how the cost of a step grows with n"):

    sum(TERM, i = LO..HI)    TERM added up for i = LO, LO + 1, ..., HI (nothing when LO > HI)
    x[INDEX]                 the INDEX-th variable: x[i], x[i+1], x[2i-1], x[n], x[1]
    n                        the number of variables

An index or a bound is whole-number arithmetic (+, -, *, / that divides exactly, parentheses,
2i for 2*i) in n and the indices of the sums around it; the indices are i, j and k. Everything
else is an ordinary formula. Written out for one n, the text is an ordinary f of x1..xn, e.g.
``sum(100(x[i+1] - x[i]^2)^2 + (1 - x[i])^2, i = 1..n-1)`` at n = 3 is
``(100(x2 - x1^2)^2 + (1 - x1)^2) + (100(x3 - x2^2)^2 + (1 - x2)^2)`` (spaced as tokens), and
it goes through the one safe parser (core.parsing) like any typed f: this module only moves
tokens, it never evaluates a formula.

The start is a list of numbers repeated to length n: "-1.2, 1" gives (-1.2, 1, -1.2, 1, ...).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .parsing import CONSTANTS, FUNCTIONS, MAX_LENGTH, MAX_VARIABLES, ParseError

MAX_FAMILY_LENGTH = 400  # characters of the typed family (its expansion is bounded by MAX_LENGTH)
MAX_SUM_NESTING = 2  # a sum inside a sum, no deeper
MAX_START_NUMBERS = MAX_VARIABLES
INDEX_NAMES = ("i", "j", "k")

_TOKEN = re.compile(
    r"(?P<number>(?:\d+(?:\.(?!\.)\d*)?|\.\d+)(?:[eE][+-]?\d+)?)"  # 1..n is 1, .., n: a '.' before a '.' is not a decimal point
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<range>\.\.)"
    r"|(?P<punct>[\[\],=])"
    r"|(?P<op>\*\*|[-+*/^()])"
    r"|(?P<space>\s+)"
)
EXAMPLE = "sum(100(x[i+1] - x[i]^2)^2 + (1 - x[i])^2, i = 1..n-1)"
HOW_TO = ("write a sum as sum(TERM, i = 1..n) and the variables as x[i], x[i+1], x[n], ..., e.g. " + EXAMPLE)


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int
    spaced: bool = False  # whitespace came before it (what is typed together stays together)


def _tokens(text: str) -> list[Token]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ParseError(f"unexpected {text[pos]!r} at position {pos + 1}: {HOW_TO}")
        if match.lastgroup != "space":
            out.append(Token(match.lastgroup, match.group(), pos, pos > 0 and text[pos - 1].isspace()))
        pos = match.end()
    return out


def _closing(tokens: list[Token], start: int, opening: str, closing: str) -> int:
    """Index of the token closing the bracket at ``start``."""
    depth = 0
    for i in range(start, len(tokens)):
        if tokens[i].text == opening:
            depth += 1
        elif tokens[i].text == closing:
            depth -= 1
            if depth == 0:
                return i
    raise ParseError(f"'{opening}' at position {tokens[start].pos + 1} is not closed")


class _Integer:
    """Whole-number arithmetic over tokens (an index or a bound): + - * /, parentheses, 2i."""

    def __init__(self, tokens: list[Token], env: dict[str, int], what: str) -> None:
        self.tokens, self.env, self.what, self.at = tokens, env, what, 0

    def value(self) -> int:
        if not self.tokens:
            raise ParseError(f"{self.what} is empty: {HOW_TO}")
        result = self._sum()
        if self.at != len(self.tokens):
            self._refuse(self.tokens[self.at])
        return result

    def _refuse(self, token: Token) -> None:
        raise ParseError(f"{self.what} holds {token.text!r}: an index or a bound is whole-number arithmetic "
                         f"(+, -, *, /, parentheses) in n and {', '.join(INDEX_NAMES)}")

    def _peek(self) -> Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _sum(self) -> int:
        total = self._product()
        while (token := self._peek()) is not None and token.text in "+-":
            self.at += 1
            total = total + self._product() if token.text == "+" else total - self._product()
        return total

    def _product(self) -> int:
        total = self._factor()
        # 2i and 2(n - 1) are products; two numbers in a row (x[1 2]) are a typo, refused
        while (token := self._peek()) is not None and (token.text in ("*", "/", "(") or token.kind == "name"):
            if token.text in ("*", "/"):
                self.at += 1
            right = self._factor()
            if token.text == "/":
                if right == 0 or total % right:
                    raise ParseError(f"{self.what} divides {total} by {right}, which is not a whole number")
                total //= right
            else:
                total *= right
        return total

    def _factor(self) -> int:
        token = self._peek()
        if token is None:
            raise ParseError(f"{self.what} ends too soon: {HOW_TO}")
        self.at += 1
        if token.text == "-":
            return -self._factor()
        if token.text == "+":
            return self._factor()
        if token.kind == "number":
            if not token.text.isdigit():
                self._refuse(token)
            if len(token.text) > 6:
                raise ParseError(f"{self.what} holds the number {token.text[:10]}…, far beyond the {MAX_VARIABLES} variables")
            return int(token.text)
        if token.kind == "name":
            if token.text == "n" or token.text in self.env:
                return self.env[token.text]
            if token.text in INDEX_NAMES:
                raise ParseError(f"{self.what} uses {token.text}, which is not the index of a sum around it")
            self._refuse(token)
        if token.text == "(":
            inner = self._sum()
            if (close := self._peek()) is None or close.text != ")":
                raise ParseError(f"{self.what}: a '(' is not closed")
            self.at += 1
            return inner
        self._refuse(token)
        raise AssertionError  # pragma: no cover - _refuse raises


class _Expansion:
    """The family written out for one n: tokens out, the variables used, bounded in length."""

    def __init__(self, n: int) -> None:
        self.n, self.out, self.length, self.used = n, [], 0, set()

    def emit(self, text: str, typed: Token | None = None, written_for: Token | None = None) -> None:
        """Add ``text``: a token as typed (``typed``), or one written out (``written_for``: the
        typed token it stands for, whose spacing it keeps)."""
        self.length += len(text) + 1
        if self.length > MAX_LENGTH:
            raise ParseError(f"the family written out for n = {self.n} is longer than {MAX_LENGTH} characters: "
                             "write a shorter term")
        source = typed or written_for
        self.out.append(Piece(text, typed is not None, source is not None and source.spaced))

    def tokens(self, tokens: list[Token], env: dict[str, int], depth: int) -> None:
        i = 0
        while i < len(tokens):
            token = tokens[i]
            following = tokens[i + 1].text if i + 1 < len(tokens) else ""
            if token.kind == "name" and token.text == "sum" and following == "(":
                self.not_an_argument(token)
                end = _closing(tokens, i + 1, "(", ")")
                self.sum(tokens[i + 2:end], env, depth + 1, token)
                i = end + 1
                continue
            if token.kind == "name" and token.text == "x" and following == "[":
                end = _closing(tokens, i + 1, "[", "]")
                index = _Integer(tokens[i + 2:end], env, f"the index x[…] at position {token.pos + 1}").value()
                if not 1 <= index <= self.n:
                    where = ", ".join(f"{name} = {value}" for name, value in env.items())
                    raise ParseError(f"at {where}: x[{' '.join(t.text for t in tokens[i + 2:end])}] is x[{index}], "
                                     f"but the variables are x[1] .. x[n]: change the sum's range")
                self.used.add(index)
                self.emit(f"x{index}", written_for=token)
                i = end + 1
                continue
            if token.kind == "name":
                self.name(token, env)
            elif token.kind in ("punct", "range"):
                raise ParseError(f"{token.text!r} at position {token.pos + 1} is out of place: {HOW_TO}")
            elif token.kind == "number" and i and tokens[i - 1].kind == "number":
                raise ParseError(f"two numbers in a row at position {token.pos + 1} (a missing operator or a second "
                                 "decimal point?)")
            else:
                self.emit(token.text, token)
            i += 1

    def not_an_argument(self, token: Token) -> None:
        """An index or a sum is written out in parentheses: right after a function name it would
        become that function's argument, which the parser never reads without parentheses."""
        if self.out and self.out[-1].text in FUNCTIONS:
            function, argument = self.out[-1].text, "sum(…)" if token.text == "sum" else token.text
            raise ParseError(f"write function calls with parentheses: {function}({argument}), not {function} {argument} "
                             f"(position {token.pos + 1})")

    def name(self, token: Token, env: dict[str, int]) -> None:
        if token.text in env:
            self.not_an_argument(token)
            self.emit(f"({env[token.text]})", written_for=token)
        elif token.text in FUNCTIONS or token.text in CONSTANTS:
            self.emit(token.text, token)
        elif token.text == "x":
            raise ParseError(f"x at position {token.pos + 1} has no index: write x[1], x[i], x[n], …")
        elif token.text == "sum":
            raise ParseError(f"sum at position {token.pos + 1} needs parentheses: sum(TERM, i = 1..n)")
        elif token.text in INDEX_NAMES:
            raise ParseError(f"{token.text} at position {token.pos + 1} is outside any sum over {token.text}")
        else:
            raise ParseError(f"unknown name `{token.text}` at position {token.pos + 1}: in a family the variables "
                             "are x[1] .. x[n] (x[i] inside a sum; for a product write 2*x[i], i*x[i])")

    def sum(self, inside: list[Token], env: dict[str, int], depth: int, written_for: Token) -> None:
        pos = written_for.pos
        if depth > MAX_SUM_NESTING:
            raise ParseError(f"sums nested more than {MAX_SUM_NESTING} deep (position {pos + 1})")
        comma, level = None, 0
        for i, token in enumerate(inside):  # the last comma outside brackets starts the range
            level += token.text in ("(", "[")
            level -= token.text in (")", "]")
            if token.text == "," and level == 0:
                comma = i
        rest = inside[comma + 1:] if comma is not None else []
        if (comma is None or len(rest) < 4 or rest[0].kind != "name" or rest[1].text != "="
                or not any(t.kind == "range" for t in rest)):
            raise ParseError(f"the sum at position {pos + 1} needs a range after a comma: sum(TERM, i = 1..n)")
        index = rest[0].text
        if index not in INDEX_NAMES:
            raise ParseError(f"a sum's index is one of {', '.join(INDEX_NAMES)}, not `{index}`")
        if index in env:
            raise ParseError(f"a sum over {index} inside a sum over {index}: name the inner index otherwise")
        dots = next(i for i, t in enumerate(rest) if t.kind == "range")
        low = _Integer(rest[2:dots], env, f"the first value of {index}").value()
        high = _Integer(rest[dots + 1:], env, f"the last value of {index}").value()
        term = inside[:comma]
        if not term:
            raise ParseError(f"the sum at position {pos + 1} has no term before its range")
        values = range(low, high + 1)
        if not values:
            self.emit("(0)", written_for=written_for)  # parenthesised: 0.5 times an empty sum is 0.5 (0), not 0.5 0
            return
        self.emit("(", written_for=written_for)
        for count, value in enumerate(values):
            if count:
                self.emit("+")
            self.emit("(")
            self.tokens(term, {**env, index: value}, depth)
            self.emit(")")
        self.emit(")")


def expand_family(text: str, n: int) -> str:
    """The family ``text`` written out for ``n`` variables: an ordinary f of x1..xn. Raises
    ParseError (what to type) for text outside the notation, an index beyond 1..n, a variable
    x[j] that the family leaves out at this n, or an expansion longer than the parser takes."""
    if len(text) > MAX_FAMILY_LENGTH:
        raise ParseError(f"the family is too long ({len(text)} characters, max {MAX_FAMILY_LENGTH})")
    if not text.strip():
        raise ParseError(f"type a family: {HOW_TO}")
    expansion = _Expansion(n)
    expansion.tokens(_tokens(text), {"n": n}, 0)
    missing = sorted(set(range(1, n + 1)) - expansion.used)
    if missing:
        shown = ", ".join(f"x[{j}]" for j in missing[:4]) + (", …" if len(missing) > 4 else "")
        raise ParseError(f"at n = {n} the family leaves out {shown}: every x[1] .. x[n] must appear "
                         "(sum over i = 1..n, or 1..n-1 with x[i+1])")
    return _joined(expansion.out)


@dataclass(frozen=True)
class Piece:
    """A piece of the written-out text: a typed token (with its spacing) or a written-out one."""

    text: str
    typed: bool
    spaced: bool


def _joined(pieces: list[Piece]) -> str:
    """The pieces as text the parser reads as the notation means: two typed tokens keep the
    spacing they were typed with (pi.5 stays pi.5, refused as typed; 2 .5 stays two numbers); a
    written-out piece gets a space wherever it would otherwise run into its neighbour as one
    word (x1 then 2 is x1 2, not x12); + and - between terms are spaced."""
    out: list[str] = []
    previous: Piece | None = None
    for piece in pieces:
        if previous is not None:
            if piece.spaced or (piece.typed and previous.typed):
                space = piece.spaced
            else:
                space = bool(_WORDLIKE.match(previous.text[-1:]) and _WORDLIKE.match(piece.text[:1]))
            out.append(" " if space or (not piece.typed and piece.text == "+") else "")
        out.append(piece.text + (" " if not piece.typed and piece.text == "+" else ""))
        previous = piece
    return "".join(out)


_WORDLIKE = re.compile(r"[A-Za-z0-9_.]")


def start_pattern(text: str) -> tuple[float, ...]:
    """The numbers of a start typed as "-1.2, 1" (repeated to length n by :func:`repeat_start`)."""
    parts = [part.strip() for part in text.replace(";", ",").split(",")]
    if not text.strip() or len(parts) > MAX_START_NUMBERS:
        raise ParseError(f"type the start as 1 to {MAX_START_NUMBERS} numbers separated by commas, e.g. -1.2, 1 "
                         "(repeated to length n)")
    try:
        numbers = tuple(float(part) for part in parts)
    except ValueError:
        raise ParseError(f"the start {text[:40]!r} is not a list of numbers: type e.g. -1.2, 1") from None
    if not all(math.isfinite(v) and abs(v) <= 1e100 for v in numbers):
        raise ParseError("the start's numbers must be finite (|x| <= 1e100)")
    return numbers


def repeat_start(pattern: tuple[float, ...], n: int) -> list[float]:
    return [pattern[i % len(pattern)] for i in range(n)]


__all__ = ["EXAMPLE", "HOW_TO", "MAX_FAMILY_LENGTH", "expand_family", "start_pattern", "repeat_start"]
