"""Numbers as LaTeX (vectors and matrices with sensible precision), and formulas bounded in size."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import streamlit as st

from core.latex import number_latex, vector_latex  # noqa: F401 (the pages' numbers come from here)

from .budget import LATEX_CHARS, TEXT_CHARS


def matrix_latex(m: np.ndarray) -> str:
    rows = [" & ".join(number_latex(float(x)) for x in row) for row in np.atleast_2d(m)]
    return r"\begin{pmatrix}" + r"\\".join(rows) + r"\end{pmatrix}"


def formula_fits(latex: str) -> bool:
    """Short enough to typeset as one block (a 600,000-character Hessian took Chromium 30 s)."""
    return len(latex) <= LATEX_CHARS


def show_formula(lhs: str, latex: str, what: str) -> None:
    """``lhs = latex`` typeset, or, when the formula is too long to typeset, its size and (on
    demand) the beginning of its source as plain text."""
    if formula_fits(latex):
        st.latex(f"{lhs} = {latex}")
        return
    st.caption(f"The formula of {what} is {len(latex):,} characters long: too long to typeset here.")
    if st.toggle(f"Show the LaTeX source of {what}", key=f"source_{what}"):
        shown = latex[:TEXT_CHARS]
        more = len(latex) - len(shown)
        st.code(shown + (f"\n… ({more:,} more characters)" if more else ""), language="latex", wrap_lines=True)


def show_derivative_formula(symbol: str, whole: str, entries: Sequence[Sequence[str]], names: Sequence[str],
                            key: str) -> None:
    """``symbol = whole`` typeset when it fits; else one entry at a time, picked by variable
    (a 20-variable Hessian of a product of sines is 213,000 characters: 400 entries)."""
    if formula_fits(whole):
        st.latex(f"{symbol} = {whole}")
        return
    rows, columns = len(entries), len(entries[0])
    st.caption(f"{symbol} has {rows}×{columns} entr{'y' if rows * columns == 1 else 'ies'}, {len(whole):,} characters "
               "of LaTeX in all: too long to typeset at once. Pick an entry.")
    pick = st.columns(2)
    i = pick[0].selectbox("∂/∂ (row)", range(rows), format_func=lambda r: names[r], key=f"{key}_row")
    j = pick[1].selectbox("∂/∂ (column)", range(columns), format_func=lambda c: names[c], key=f"{key}_col",
                          disabled=columns == 1) if columns > 1 else 0
    if columns == 1:
        lhs, what = rf"\frac{{\partial f}}{{\partial {names[i]}}}", f"∂f/∂{names[i]}"
    else:
        lhs, what = rf"\frac{{\partial^2 f}}{{\partial {names[i]}\,\partial {names[j]}}}", f"∂²f/∂{names[i]}∂{names[j]}"
    show_formula(lhs, entries[i][j], what)
