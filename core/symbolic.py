"""The symbolic half of a problem: parse, differentiate, typeset (no numpy here).

This is the part that runs in the isolated worker (core.isolation); everything it returns
pickles. It also writes the numeric code of f, g and H (sympy's ``lambdify`` source, common
subexpressions shared): printing that code is most of compiling, and a worker can do it where the
server cannot (lambdified functions do not pickle; their source does). The server only executes
the source (core.problem.compile_derivation).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

import sympy as sp

from .parsing import ParseError, parse_function

MAX_DERIVATIVE_NODES = 50_000  # keeps the parent's compile step bounded


@dataclass(frozen=True)
class Derivation:
    """What the isolated worker sends back: plain sympy objects and strings (all picklable)."""

    text: str
    expr: sp.Expr
    variables: tuple[sp.Symbol, ...]
    gradient: tuple[sp.Expr, ...]
    hessian: tuple[tuple[sp.Expr, ...], ...]
    latex_f: str
    latex_gradient_entries: tuple[str, ...]  # one string per component: a page can show one
    latex_hessian_entries: tuple[tuple[str, ...], ...]  # of a matrix too large to typeset whole
    is_quadratic: bool
    code: tuple[str, str, str]  # numeric source of f, g (entries), H (entries, row by row)

    @property
    def latex_gradient(self) -> str:
        return matrix_latex([[entry] for entry in self.latex_gradient_entries])

    @property
    def latex_hessian(self) -> str:
        return matrix_latex(self.latex_hessian_entries)


def matrix_latex(rows: Sequence[Sequence[str]]) -> str:
    """Entries' LaTeX as a matrix, in sympy's own format (what sp.latex(sp.Matrix(...)) prints)."""
    return r"\left[\begin{matrix}" + r"\\".join(" & ".join(row) for row in rows) + r"\end{matrix}\right]"


def numeric(expr: sp.Expr) -> sp.Expr:
    """The expression as evaluated numerically."""
    # d|x|/dx = sign(x) and d(sign)/dx = 2 DiracDelta(x): zero everywhere it can be evaluated.
    return expr.replace(sp.DiracDelta, lambda *args: sp.S.Zero) if expr.has(sp.DiracDelta) else expr


def numeric_code(symbols: Sequence[sp.Symbol], expr: sp.Expr | list[sp.Expr]) -> str:
    """lambdify's numpy source for ``expr`` (one expression or a list of entries): a function
    ``_lambdifygenerated(*symbols)`` whose names come from ``from numpy import *``."""
    return inspect.getsource(sp.lambdify(symbols, expr, modules="numpy", cse=True))


def _count_nodes(exprs: Sequence[sp.Expr], limit: int) -> int:
    count = 0
    for expr in exprs:
        for _ in sp.preorder_traversal(expr):
            count += 1
            if count > limit:
                return count
    return count


def derive(text: str, variables: Sequence[str] | None = None) -> Derivation:
    """Parse, differentiate and typeset (the part that runs in the isolated worker)."""
    parsed = parse_function(text, variables)
    expr, symbols = parsed.expr, parsed.variables
    gradient = [sp.diff(expr, v) for v in symbols]
    n = len(symbols)
    rows: list[list[sp.Expr]] = [[sp.S.Zero] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):  # H is symmetric: differentiate the upper triangle only
            rows[i][j] = rows[j][i] = sp.diff(gradient[i], symbols[j])
    if _count_nodes(gradient + [e for row in rows for e in row], MAX_DERIVATIVE_NODES) > MAX_DERIVATIVE_NODES:
        raise ParseError("the derivatives of this expression are too large to compile")
    # A polynomial is quadratic exactly when its Hessian is constant. (sp.Poly(expr) expands:
    # (x1 + ... + x12)^12 has millions of terms and used up the whole time limit.)
    is_quadratic = bool(expr.is_polynomial(*symbols)) and not any(
        entry.has(*symbols) for row in rows for entry in row)
    hessian_latex = [[""] * n for _ in range(n)]
    for i in range(n):
        for j in range(i, n):  # symmetric: typeset each entry once
            hessian_latex[i][j] = hessian_latex[j][i] = sp.latex(rows[i][j])
    return Derivation(
        text=parsed.text, expr=expr, variables=symbols,
        gradient=tuple(gradient), hessian=tuple(tuple(r) for r in rows),
        latex_f=sp.latex(expr),
        latex_gradient_entries=tuple(sp.latex(entry) for entry in gradient),
        latex_hessian_entries=tuple(tuple(row) for row in hessian_latex),
        is_quadratic=is_quadratic,
        code=(numeric_code(symbols, expr), numeric_code(symbols, [numeric(e) for e in gradient]),
              numeric_code(symbols, [numeric(e) for row in rows for e in row])),
    )


