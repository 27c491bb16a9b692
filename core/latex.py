"""Numbers as LaTeX, with sensible precision: what a formula with the user's numbers put in is
written with (core.predictions fills its formulas; ui.latex typesets them)."""

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


__all__ = ["number_latex", "vector_latex"]
