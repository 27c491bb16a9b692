"""From text to a compiled problem: f, its gradient g and Hessian H, symbolic and numeric.

Parsing and differentiation run in an isolated worker with a hard time limit
(:mod:`core.isolation`); the parent then compiles the derivatives once with
``lambdify(..., cse=True)``, for numpy on a batch of points: one call evaluates f, g or H at
every row of an array X of shape (B, n). A single point is the batch of one, so a run alone and
the same start inside a batch compute the same numbers. Where a value is not finite, the point
is evaluated again with numpy's floating-point errors raised, which tells a domain error
(invalid, divide by zero) apart from an overflow: the run loop reports them differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Literal, Sequence

import numpy as np
import sympy as sp

from .isolation import WorkerBusy, WorkerCrashed, WorkerTimeout, call_isolated
from .parsing import ParseError
from .symbolic import Derivation, derive

# Budgets for the symbolic work of one text, in CPU seconds of the worker (core.isolation): what
# the text costs, the same on an idle and on a busy server, waiting for a worker not included.
# The heaviest functions the app is meant for need ~1.8 CPU-s here with their numeric code (the
# product of 20 sines, a fresh worker), ordinary ones 15-500 ms.
TYPED_BUDGET_S = 5.0  # text typed by the visitor: they wait for it themselves
LINK_BUDGET_S = 3.0  # text that arrives in a link: anyone can make a class open it; 1.7x the heaviest
DEFAULT_TIMEOUT_S = TYPED_BUDGET_S


class ServerBusy(ParseError):
    """Not the text's fault: the server refused it for its own sake (too many waiting, the
    lane for long expressions full, or the machine too busy). Do not cache it."""


class TooSlow(ParseError):
    """The text used its whole budget (``budget_s`` CPU seconds) without finishing: a verdict on
    the text, worth caching, but only for that budget (a larger one might succeed)."""

    def __init__(self, message: str, budget_s: float) -> None:
        super().__init__(message)
        self.budget_s = budget_s


class EvaluationError(ArithmeticError):
    """f, g or H cannot be evaluated at a point: ``kind`` is 'domain' or 'overflow'."""

    def __init__(self, kind: Literal["domain", "overflow"], quantity: str, detail: str = "") -> None:
        self.kind, self.quantity, self.detail = kind, quantity, detail
        what = "is not defined here" if kind == "domain" else "overflowed"
        super().__init__(f"{quantity} {what}" + (f" ({detail})" if detail else ""))


_NUMPY_NAMES = sp.lambdify([], 0, modules="numpy").__globals__  # the namespace lambdify gives its numpy code


def _from_code(code: str) -> Callable:
    """The function that ``code`` (a lambdify source, core.symbolic.numeric_code) defines, in the
    namespace lambdify itself would give it."""
    namespace = dict(_NUMPY_NAMES)
    exec(compile(code, "<lambdified>", "exec"), namespace)  # our own generated code, never user text
    return namespace["_lambdifygenerated"]


_DOMAIN_ERRORS = (ValueError, ZeroDivisionError, TypeError)


def _entries(fn: Callable, X: np.ndarray, width: int) -> np.ndarray:
    """Call a lambdified list of ``width`` expressions on the columns of X: (B, width). A
    constant entry comes back as a scalar; it is broadcast over the batch here."""
    out = np.empty((X.shape[0], width))
    for j, value in enumerate(fn(*np.ascontiguousarray(X.T))):
        out[:, j] = value
    return out


@dataclass(frozen=True, eq=False)
class Problem:
    """A parsed function with compiled f, g, H. Build it with :func:`build_problem`."""

    derivation: Derivation
    _f: Callable = field(repr=False)
    _g: Callable = field(repr=False)
    _h: Callable = field(repr=False)

    # -- symbolic side -------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self.derivation.text

    @property
    def expr(self) -> sp.Expr:
        return self.derivation.expr

    @property
    def variables(self) -> tuple[sp.Symbol, ...]:
        return self.derivation.variables

    @property
    def variable_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.derivation.variables)

    @property
    def n(self) -> int:
        return len(self.derivation.variables)

    @property
    def is_quadratic(self) -> bool:
        """f is a polynomial of degree <= 2, so H is constant and the textbook rates apply."""
        return self.derivation.is_quadratic

    @property
    def latex(self) -> dict[str, str]:
        d = self.derivation
        return {"f": d.latex_f, "gradient": d.latex_gradient, "hessian": d.latex_hessian}

    # -- numeric side: batches ------------------------------------------------------------
    # Rows where a value is not finite are nan or inf here: what a run of many starts wants
    # (each start gets its own status). error() says why. The batch_* versions leave numpy's
    # error state to the caller (the run loop ignores all; entering errstate costs a few us).
    def batch_values(self, X: np.ndarray) -> np.ndarray:
        out = np.empty(X.shape[0])
        out[:] = self._f(*np.ascontiguousarray(X.T))
        return out

    def batch_gradients(self, X: np.ndarray) -> np.ndarray:
        return _entries(self._g, X, self.n)

    def batch_hessians(self, X: np.ndarray) -> np.ndarray:
        return _entries(self._h, X, self.n * self.n).reshape(X.shape[0], self.n, self.n)

    @np.errstate(all="ignore")
    def values(self, X: np.ndarray) -> np.ndarray:
        """f at every row of X (B, n): shape (B,)."""
        return self.batch_values(X)

    @np.errstate(all="ignore")
    def gradients(self, X: np.ndarray) -> np.ndarray:
        """g at every row of X: shape (B, n)."""
        return self.batch_gradients(X)

    @np.errstate(all="ignore")
    def hessians(self, X: np.ndarray) -> np.ndarray:
        """H at every row of X: shape (B, n, n)."""
        return self.batch_hessians(X)

    def error(self, x: np.ndarray, quantity: Literal["f", "the gradient", "the Hessian"]) -> EvaluationError:
        """Why ``quantity`` is not finite at the point x: evaluated again with numpy's
        floating-point errors raised (overflow -> 'overflow'; invalid or divide -> 'domain')."""
        fn, width = {"f": (self._f, None), "the gradient": (self._g, self.n),
                     "the Hessian": (self._h, self.n * self.n)}[quantity]
        X = np.asarray(x, dtype=float).reshape(1, -1)
        try:
            with np.errstate(all="raise", under="ignore"):
                if width is None:
                    np.asarray(fn(*X.T), dtype=float)
                else:
                    _entries(fn, X, width)
        except FloatingPointError as err:
            text = str(err)
            if "overflow" in text:
                return EvaluationError("overflow", quantity)
            return EvaluationError("domain", quantity, "division by zero" if "divide" in text else "math domain error")
        except _DOMAIN_ERRORS as err:
            return EvaluationError("domain", quantity, str(err))
        return EvaluationError("overflow", quantity)  # not finite without a raised error: inf came in

    # -- numeric side: one point ---------------------------------------------------------
    def value(self, x: np.ndarray) -> float:
        """f(x) as a float; raises EvaluationError outside the domain or on overflow."""
        value = float(self.values(np.asarray(x, dtype=float).reshape(1, -1))[0])
        if not math.isfinite(value):
            raise self.error(x, "f")
        return value

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """g(x) as a float array of shape (n,); raises EvaluationError."""
        out = self.gradients(np.asarray(x, dtype=float).reshape(1, -1))[0]
        if not np.isfinite(out).all():
            raise self.error(x, "the gradient")
        return out

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """H(x) as a float array of shape (n, n); raises EvaluationError."""
        out = self.hessians(np.asarray(x, dtype=float).reshape(1, -1))[0]
        if not np.isfinite(out).all():
            raise self.error(x, "the Hessian")
        return out

    def value_or_inf(self, x: np.ndarray) -> float:
        """f(x), or +inf where f cannot be evaluated (what a line search wants)."""
        value = float(self.values(np.asarray(x, dtype=float).reshape(1, -1))[0])
        return value if math.isfinite(value) else math.inf

    def grid_values(self, *axes: np.ndarray) -> np.ndarray:
        """Vectorised f over broadcast arrays (e.g. a meshgrid); nan where undefined."""
        shape = np.broadcast_shapes(*(np.shape(a) for a in axes))
        with np.errstate(all="ignore"):
            # A constant f returns a scalar: shape it like the grid ourselves.
            values = np.broadcast_to(np.asarray(self._f(*axes), dtype=float), shape).copy()
        values[~np.isfinite(values)] = np.nan
        return values


def compile_derivation(derivation: Derivation) -> Problem:
    """Compile f, g, H once (common subexpressions shared) into numpy functions of a batch:
    g and H as flat lists of entries (H row by row), each entry an array over the batch. The
    source was written with the derivation (in the worker); here it is only executed."""
    return Problem(derivation=derivation, _f=_from_code(derivation.code[0]), _g=_from_code(derivation.code[1]),
                   _h=_from_code(derivation.code[2]))


def build_problem(text: str, variables: Sequence[str] | None = None,
                  timeout: float | None = DEFAULT_TIMEOUT_S) -> Problem:
    """Parse ``text`` safely, derive g and H, compile them; raise ParseError for bad input.

    With a ``timeout`` (CPU seconds of symbolic work: TYPED_BUDGET_S for typed text,
    LINK_BUDGET_S for text from a link) the symbolic work runs in a killable worker process
    (:mod:`core.isolation`); ``timeout=None`` runs it in this process. Out of time: TooSlow (a
    ParseError). Refused because the server is busy: ServerBusy (a ParseError, not to be cached).
    """
    args = (text, None if variables is None else tuple(variables))
    if timeout is None:
        return compile_derivation(derive(*args))
    try:
        derivation = call_isolated(derive, args, timeout)
    except WorkerTimeout:
        raise TooSlow(f"this expression takes too long to process (over {timeout:g} s); "
                      "try a simpler one", timeout) from None
    except WorkerBusy as err:
        raise ServerBusy(f"{err}: try again in a moment") from None
    except WorkerCrashed:
        raise ParseError("this expression could not be processed (the worker ran out of resources)") from None
    except ParseError:
        raise
    except (RecursionError, MemoryError):
        raise ParseError("this expression is too deeply nested or too large") from None
    except Exception as err:  # sympy may fail in ways of its own; the caller sees one type
        raise ParseError(f"this expression could not be processed ({type(err).__name__}: {err})") from None
    return compile_derivation(derivation)
