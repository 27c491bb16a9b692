"""One threshold for "numerically singular", used everywhere a Hessian is judged.

Beyond a condition number of about 1/eps the Newton solve returns digits that mean nothing, so
Newton refuses it (status singular_hessian) past MAX_CONDITION; the same number decides whether an
eigenvalue counts as zero when a stationary point is classified, when the definiteness of H is
told, and when the quadratic constants (stability limit, best rate) are given. Before this, the
classification used its own 1e-12 against max(1, max|lambda|) and called H = diag(2e12, 2)
(kappa = 1e12, which Newton solves) singular.
"""

from __future__ import annotations

import math

import numpy as np

MAX_CONDITION = 1e13
LinAlgError = np.linalg.LinAlgError  # what a failed decomposition raises, for callers that catch it
# Past MAX_CONDITION, an H whose least singular value is below this times n eps times its largest
# is singular to rounding (an exactly singular H comes out of the SVD with 0 or a few eps, as
# rounding falls) and is called singular; between the two it is called ill-conditioned
SINGULAR_TO_ROUNDING = 8


def significant(eigenvalues: np.ndarray) -> np.ndarray:
    """Which eigenvalues are not zero to working precision: |lambda| >= max|lambda| / MAX_CONDITION
    (relative only: H = 1e-20 I is as well conditioned as I). All False for the zero matrix."""
    magnitudes = np.abs(np.asarray(eigenvalues, dtype=float))
    top = float(magnitudes.max()) if magnitudes.size else 0.0
    return (magnitudes > 0) & (magnitudes * MAX_CONDITION >= top)


def condition(eigenvalues: np.ndarray) -> float:
    """max|lambda| / min|lambda| of a symmetric matrix (inf when an eigenvalue is 0)."""
    magnitudes = np.abs(np.asarray(eigenvalues, dtype=float))
    return float(magnitudes.max() / magnitudes.min()) if magnitudes.min() > 0 else math.inf


def numerically_singular(eigenvalues: np.ndarray) -> bool:
    """Some eigenvalue is zero to working precision (condition number beyond MAX_CONDITION)."""
    return not bool(significant(eigenvalues).all())


def signs(eigenvalues: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positive, negative): the significant eigenvalues of each sign."""
    eigenvalues = np.asarray(eigenvalues, dtype=float)
    keep = significant(eigenvalues)
    return keep & (eigenvalues > 0), keep & (eigenvalues < 0)
