"""Numbers as LaTeX (vectors and matrices with sensible precision)."""

from __future__ import annotations

import numpy as np


def number_latex(value: float, digits: int = 6) -> str:
    text = f"{value:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def vector_latex(v: np.ndarray) -> str:
    return r"\begin{pmatrix}" + r"\\".join(number_latex(float(x)) for x in np.ravel(v)) + r"\end{pmatrix}"


def matrix_latex(m: np.ndarray) -> str:
    rows = [" & ".join(number_latex(float(x)) for x in row) for row in np.atleast_2d(m)]
    return r"\begin{pmatrix}" + r"\\".join(rows) + r"\end{pmatrix}"
