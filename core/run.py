"""The one run loop and the one trace every table and chart reads."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from .linalg import signs
from .methods import MethodStop, Options, OptionsError, Point, get_method
from .problem import EvaluationError, Problem

STATUSES: dict[str, str] = {
    "converged": "converged",
    "max_iter": "stopped at max_iter",
    "diverged": "diverged",
    "singular_hessian": "singular Hessian",
    "negative_curvature": "g'Hg <= 0",
    "domain_error": "outside the domain",
    "line_search_failed": "line search failed",
    "precision_limit": "stopped at the precision limit",
    "stalled": "stalled: the step is below float resolution",
    "time_limit": "stopped by the time budget",
}
# "flat": ||g|| <= tol where f is merely flat (an asymptote), with no stationary point in reach.
STATIONARY_KINDS = ("minimum", "maximum", "saddle", "degenerate", "flat")

# f has "blown up" once it moved this many times its starting scale away from f(x_0): far
# beyond anything a converging run does, reached within a few hundred steps by a diverging one.
BLOW_UP_FACTOR = 1e12
MAX_NORM_X = 1e100
STOP_CHECK_EVERY = 16  # steps between two calls of a run's should_stop (it may cost a lock)
STALL_STEPS = 100  # a method with state (momentum, BFGS) is stalled after this many steps with x unchanged
FLAT_PROBE_STEPS = 3  # Newton steps taken from the end point to tell a degenerate point from a flat region
FLAT_SHRINK = 0.8  # ... they must shrink at least this much per step to be heading for a point


class RunCancelled(Exception):
    """The caller's should_stop() said to give up (e.g. the visitor left): no trace is made, so
    nothing partial can be cached."""


@dataclass(frozen=True, eq=False)
class Trace:
    """One row per iterate k = 0..K, stored column-wise.

    Row k holds x_k, f(x_k), g(x_k) and the step taken *from* x_k (direction d_k, step size
    eta_k, dx_k = eta_k d_k); the last row has no step (nan). ``iterations`` = K = steps taken.
    """

    method: str
    variables: tuple[str, ...]
    options: dict[str, Any]
    x: np.ndarray  # (K+1, n)
    f: np.ndarray  # (K+1,)
    grad: np.ndarray  # (K+1, n)
    direction: np.ndarray  # (K+1, n)
    step_size: np.ndarray  # (K+1,)
    decision: tuple[str, ...]  # (K+1,)
    status: str
    message: str
    stationary_point: str | None  # classification of x_K when converged
    seconds: float = math.nan  # wall time of the run

    @property
    def iterations(self) -> int:
        return len(self.f) - 1

    @property
    @np.errstate(over="ignore")  # a huge gradient's norm is inf, not a warning
    def grad_norm(self) -> np.ndarray:
        return np.linalg.norm(self.grad, axis=1)

    @property
    @np.errstate(over="ignore")
    def dx(self) -> np.ndarray:
        return self.step_size[:, None] * self.direction

    @property
    @np.errstate(over="ignore")
    def dx_norm(self) -> np.ndarray:
        return np.linalg.norm(self.dx, axis=1)

    @property
    def angle_deg(self) -> np.ndarray:
        """Angle between the step dx_k and the steepest-descent direction -g_k, in degrees."""
        # Kahan's form 2 atan2(|a^ - b^|, |a^ + b^|) stays exact near 0 deg, where arccos of a
        # cosine rounds 1 - 1e-16 into a spurious 1e-6 deg.
        with np.errstate(all="ignore"):
            a = self.dx / self.dx_norm[:, None]
            b = -self.grad / self.grad_norm[:, None]
            return np.degrees(2 * np.arctan2(np.linalg.norm(a - b, axis=1), np.linalg.norm(a + b, axis=1)))

    @property
    def final_x(self) -> np.ndarray:
        return self.x[-1]

    def columns(self) -> dict[str, np.ndarray | list]:
        """The iteration table, tidy: one entry per row k. Variable names label the x columns
        (prefixed 'x:' when one collides with a fixed column name)."""
        fixed = ["k", "f", "grad_norm", "step_size", "dx_norm", "angle_deg", "decision"]
        table: dict[str, Any] = {"k": np.arange(len(self.f))}
        for j, name in enumerate(self.variables):
            table[f"x:{name}" if name in fixed else name] = self.x[:, j]
        table.update(f=self.f, grad_norm=self.grad_norm, step_size=self.step_size,
                     dx_norm=self.dx_norm, angle_deg=self.angle_deg, decision=list(self.decision))
        return table

    def records(self) -> list[dict[str, Any]]:
        """Rows as JSON-ready dicts (nan -> None)."""
        def clean(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        grad_norm, dx_norm, angle = self.grad_norm, self.dx_norm, self.angle_deg
        return [
            {"k": k, "x": [clean(v) for v in self.x[k]], "f": clean(self.f[k]),
             "grad": [clean(v) for v in self.grad[k]], "grad_norm": clean(grad_norm[k]),
             "direction": [clean(v) for v in self.direction[k]] if k < self.iterations else None,
             "step_size": clean(self.step_size[k]), "dx_norm": clean(dx_norm[k]),
             "angle_deg": clean(angle[k]), "decision": self.decision[k]}
            for k in range(len(self.f))
        ]


def classify_stationary_point(hessian: np.ndarray) -> str:
    """minimum / maximum / saddle from the signs of H's eigenvalues; 'degenerate' when one is
    zero to working precision (core.linalg: the conditioning beyond which Newton's solve is
    refused) and the others do not already make it a saddle."""
    positive, negative = signs(np.linalg.eigvalsh(hessian))
    if positive.any() and negative.any():
        return "saddle"
    if positive.all():
        return "minimum"
    if negative.all():
        return "maximum"
    return "degenerate"


# A minimum/maximum is only called so when the Newton step there is this small (relative to
# max(1, ||x||)): with ||g|| below tol but a Newton step of size ~1 (exp(x) far to the left, or
# the degenerate minimum of x^4) f is merely flat, not at a clear extremum.
FLAT_NEWTON_STEP = 1e-4


def _newton_steps(problem: Problem, x: np.ndarray, g: np.ndarray, hessian: np.ndarray) -> list[float]:
    """Lengths of up to FLAT_PROBE_STEPS pure Newton steps from x (fewer where one fails)."""
    lengths = []
    for _ in range(FLAT_PROBE_STEPS):
        try:
            step = np.linalg.solve(hessian, -g)
            lengths.append(float(np.linalg.norm(step)))
            x = x + step
            g, hessian = problem.gradient(x), problem.hessian(x)
        except (EvaluationError, np.linalg.LinAlgError):
            break
    return lengths


def _classify_end(problem: Problem, x: np.ndarray, g: np.ndarray) -> tuple[str | None, str]:
    """Kind of stationary point at the last iterate, and the remark for the message.

    Where H says minimum or maximum but the Newton step is not small (the curvature is as small as
    the gradient), f is flat here. Newton steps from x then tell which flat: steps that shrink
    head for a point where H is singular (x^4 near 0: a degenerate minimum); steps that do not
    shrink head nowhere (exp(x) far to the left: steps of length 1 for ever): a flat region.
    """
    try:
        hessian = problem.hessian(x)
        kind = classify_stationary_point(hessian)
        if kind in ("minimum", "maximum"):
            newton_step = float(np.linalg.norm(np.linalg.solve(hessian, g)))
            if newton_step > FLAT_NEWTON_STEP * max(1.0, float(np.linalg.norm(x))):
                lengths = _newton_steps(problem, x, g, hessian)
                shown = ", ".join(f"{v:.2g}" for v in lengths)
                if len(lengths) < 2 or lengths[-1] > FLAT_SHRINK ** (len(lengths) - 1) * lengths[0]:
                    return "flat", (f"; a flat region, not a {kind}: g and H both nearly vanish here and Newton "
                                    f"steps from x do not shrink (lengths {shown}): f keeps changing slowly "
                                    "with no stationary point within reach")
                return "degenerate", (f"; degenerate: the curvature is as small as the gradient here (Newton "
                                      f"steps {shown} shrink towards a point where H is singular): f is flat "
                                      f"rather than at a clear {kind}")
    except (EvaluationError, np.linalg.LinAlgError):
        return None, ""
    if kind == "degenerate":
        return kind, "; degenerate stationary point (H singular there)"
    return kind, f"; a {kind} of f"


def _format_point(x: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:.6g}" for v in x) + ")"


# Overflow in g'g, x'x or a step is inf, which the loop's finiteness checks already turn into a
# status; numpy's RuntimeWarning on top would make a diverging run raise where warnings are errors.
@np.errstate(over="ignore", invalid="ignore")
def run(problem: Problem, x0: Sequence[float], method: str, options: Options | None = None, *,
        deadline: float | None = None, wall_deadline: float | None = None,
        should_stop: Callable[[], bool] | None = None) -> Trace:
    """Iterate ``method`` from ``x0`` until ||g|| <= tol, max_iter, a failure, or the budget.

    ``deadline`` is a ``time.thread_time()`` instant (CPU time of the calling thread: what the run
    costs, the same on a busy machine as on an idle one) and ``wall_deadline`` a
    ``time.monotonic()`` one (a backstop for a starved machine): a run still going at either ends
    with the status ``time_limit``. ``should_stop`` is polled every STOP_CHECK_EVERY steps; when
    it returns True the run raises RunCancelled. Never raises for numeric trouble: the trace ends
    with a status and a message. Raises OptionsError only for caller mistakes.
    """
    started, cpu_started = time.monotonic(), time.thread_time()
    options = options or Options()
    rule_class = get_method(method)
    x = np.array(x0, dtype=float).reshape(-1)
    if x.size != problem.n:
        raise OptionsError(f"the start point has {x.size} coordinates but f has {problem.n} variable{'' if problem.n == 1 else 's'} "
                           f"({', '.join(problem.variable_names)})")
    if not np.isfinite(x).all():
        raise OptionsError("the start point must be finite numbers")
    rule = rule_class(problem, options)
    tol_squared = options.tol ** 2
    nan_row = np.full(problem.n, np.nan)

    xs, fs, gs, directions, step_sizes, decisions = [], [], [], [], [], []
    status = message = None
    f0 = None
    unchanged = 0  # steps in a row that left x bit for bit where it was
    stall_after = 1 if rule_class.memoryless else STALL_STEPS
    for k in range(options.max_iter + 1):
        xs.append(x)
        try:
            f = problem.value(x)
            g = problem.gradient(x)
        except EvaluationError as err:
            fs.append(math.nan)
            gs.append(nan_row)
            # Overflow after some steps is a blow-up; at the start point nothing has blown up
            # yet: f is simply not finite there, like log of a negative.
            if err.kind == "domain" or k == 0:
                status = "domain_error"
                message = f"{err} at x_{k} = {_format_point(x)}" + (
                    ": choose a start point where f is finite" if k == 0 else "")
            else:
                status, message = "diverged", f"diverged at step {k}: {err} at x_{k} = {_format_point(x)}"
            break
        fs.append(f)
        gs.append(g)
        if f0 is None:
            f0 = f
        elif abs(f - f0) > BLOW_UP_FACTOR * max(1.0, abs(f0)) or not float(x @ x) <= MAX_NORM_X ** 2:
            status = "diverged"
            message = f"diverged at step {k}: f went from {f0:.6g} to {f:.6g}"
            break
        if float(g @ g) <= tol_squared:
            status = "converged"
            message = f"converged in {k} step{'' if k == 1 else 's'}: ||g|| = {math.sqrt(float(g @ g)):.2e} <= tol = {options.tol:g}"
            break
        if unchanged >= stall_after:
            dx = float(step_sizes[-1] * np.linalg.norm(directions[-1]))
            spacing = float(np.spacing(np.abs(x).max()))
            status = "stalled"
            message = (f"stalled at k = {k}: the step ||Δx|| = {dx:.2g} is below the spacing of floating-point "
                       f"numbers at x ({spacing:.2g}), so x_{k} = x_{k - 1}"
                       + (f" (for {unchanged} steps)" if unchanged > 1 else "")
                       + f"; ||g|| = {math.sqrt(float(g @ g)):.3g}")
            break
        if k == options.max_iter:
            status = "max_iter"
            message = (f"stopped at max_iter = {k} steps with ||g|| = {math.sqrt(float(g @ g)):.3g} "
                       f"(tol = {options.tol:g})")
            break
        if (deadline is not None and time.thread_time() >= deadline) or \
                (wall_deadline is not None and time.monotonic() >= wall_deadline):
            status = "time_limit"
            message = (f"stopped after {time.thread_time() - cpu_started:.2g} CPU-s ({time.monotonic() - started:.2g} s) "
                       f"at k = {k}: the work budget of this page ran out "
                       f"(||g|| = {math.sqrt(float(g @ g)):.3g}, tol = {options.tol:g})")
            break
        if should_stop is not None and k % STOP_CHECK_EVERY == 0 and should_stop():
            raise RunCancelled(f"{method} cancelled at k = {k}")
        try:
            hessian = problem.hessian(x) if rule.needs_hessian else None
            step = rule.step(Point(x, f, g, hessian))
        except EvaluationError as err:
            status = "domain_error" if err.kind == "domain" else "diverged"
            message = f"{err} at x_{k} = {_format_point(x)}"
            break
        except MethodStop as stop:
            status, message = stop.status, f"{stop.message} (at x_{k} = {_format_point(x)})"
            break
        except np.linalg.LinAlgError as err:  # e.g. eigh on a matrix it cannot handle
            status, message = "singular_hessian", f"linear algebra failed at x_{k}: {err}"
            break
        directions.append(np.asarray(step.direction, dtype=float))
        step_sizes.append(float(step.step_size))
        decisions.append(step.decision)
        x_next = x + step.step_size * step.direction
        unchanged = unchanged + 1 if np.array_equal(x_next, x) else 0
        x = x_next
        if not np.isfinite(x).all():
            xs.append(x)
            fs.append(math.nan)
            gs.append(nan_row)
            status, message = "diverged", f"diverged at step {k + 1}: the iterate overflowed"
            break

    directions.append(nan_row)
    step_sizes.append(math.nan)
    decisions.append("")
    stationary = None
    if status == "converged":
        stationary, remark = _classify_end(problem, xs[-1], gs[-1])
        message += remark
    return Trace(
        method=method, variables=problem.variable_names, options=asdict(options),
        x=np.array(xs), f=np.array(fs), grad=np.array(gs), direction=np.array(directions),
        step_size=np.array(step_sizes), decision=tuple(decisions),
        status=status, message=message, stationary_point=stationary, seconds=time.monotonic() - started,
    )


def run_all(problem: Problem, x0: Sequence[float], methods: Sequence[str],
            options: Options | None = None, *, deadline: float | None = None, wall_deadline: float | None = None,
            should_stop: Callable[[], bool] | None = None) -> dict[str, Trace]:
    """Run each method from the same start; one trace per method id (shared deadlines)."""
    return {method: run(problem, x0, method, options, deadline=deadline, wall_deadline=wall_deadline,
                        should_stop=should_stop) for method in methods}


def best_value(traces: Sequence[Trace]) -> float:
    """The lowest finite f any trace reached (the f_best of convergence plots), nan if none."""
    finite = [t.f[np.isfinite(t.f)] for t in traces]
    finite = [v for v in finite if v.size]
    return float(min(v.min() for v in finite)) if finite else math.nan
