"""How the cost of one step grows with the number of variables n (the other half of seed 001's
question: "the cost of this correction is the cost of inverting a d×d matrix").

A family of functions, one for every n (the extended Rosenbrock, a chain of log cosh, or one a
visitor types in core.families' sum notation), is run for n = 2..20 by each method; the seconds
per step are measured. Beside them stands each method's model a + b·nᵖ, p from the method
(:attr:`core.methods.Method.work_power`: 1 when a step touches vectors only, 2 with H or a dense
n×n matrix, 3 with a solve or an eigendecomposition), a and b fitted to those measurements, and
extrapolated - labelled as such - to sizes no page can run, where the n×n Hessian alone no
longer fits in memory and only gradient methods remain.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .families import expand_family, repeat_start, start_pattern
from .methods import get_method
from .options import Options
from .parsing import ParseError
from .problem import Problem
from .run import run

GROWTH_SIZES = (2, 6, 10, 14, 20)  # n measured: even (Rosenbrock pairs its variables), up to the app's bound of 20
EXTRAPOLATED_SIZES = (100, 1_000, 10_000, 100_000, 1_000_000)  # n only the model reaches
GROWTH_STEPS = 30  # steps per run measured (fewer when a run ends sooner)
GROWTH_REPEATS = 3  # runs per method and n; the least CPU time per step counts
MEMORY_BYTES = 2 ** 30  # "does not fit": an n x n matrix of float64 above 1 GiB (n > 11,585)


@dataclass(frozen=True)
class Family:
    """A function for every n, written in core.families' notation, and where to start it (a
    list of numbers repeated to length n)."""

    label: str
    notation: str
    start_pattern: tuple[float, ...]
    sizes: tuple[int, ...] = GROWTH_SIZES

    def text(self, n: int) -> str:
        """The function of x1..xn (raises ParseError where the notation does not hold at n)."""
        return expand_family(self.notation, n)

    def start(self, n: int) -> list[float]:
        return repeat_start(self.start_pattern, n)


def typed_family(notation: str, start: str) -> Family:
    """A family a visitor typed, checked at every size it will be measured at (the notation
    only: the parse of each written-out f comes when it is measured). Raises ParseError."""
    family = Family(notation.strip(), notation.strip(), start_pattern(start))
    for n in family.sizes:
        family.text(n)
    return family


FAMILIES: dict[str, Family] = {
    "rosenbrock": Family("extended Rosenbrock Σ 100(x₂ᵢ − x₂ᵢ₋₁²)² + (1 − x₂ᵢ₋₁)²",
                         "sum(100(x[2i] - x[2i-1]^2)^2 + (1 - x[2i-1])^2, i = 1..n/2)", (-1.2, 1.0)),
    # Σ log cosh has no finite-step solution (Newton takes many steps there too) and a tridiagonal H.
    "logcosh": Family("Σ log(cosh(xᵢ − xᵢ₊₁)) + Σ xᵢ²/10",
                      "sum(log(cosh(x[i] - x[i+1])), i = 1..n-1) + sum(x[i]^2/10, i = 1..n)", (1.0, 2.0, 0.0)),
}


@dataclass(frozen=True)
class GrowthPoint:
    """One run of one method at one n: seconds per step and evaluations per step."""

    method: str
    n: int
    steps: int
    seconds_per_step: float
    per_step: dict[str, float]  # nfev, ngev, nhev, nsolve per step


@dataclass(frozen=True)
class GrowthModel:
    """seconds per step = overhead + per_unit·nᵖ, fitted to a method's points."""

    method: str
    power: int
    overhead_s: float
    per_unit_s: float

    def seconds(self, n: float) -> float:
        return self.overhead_s + self.per_unit_s * float(n) ** self.power


def hessian_bytes(n: int) -> int:
    """Memory of one n x n matrix of float64 (H, or BFGS's estimate)."""
    return 8 * n * n


def measure_growth(build: Callable[[str], Problem], family: Family, methods: Sequence[str],
                   budget_s: float, steps: int = GROWTH_STEPS, repeats: int = GROWTH_REPEATS,
                   should_stop: Callable[[], bool] | None = None) -> list[GrowthPoint]:
    """Run every method on the family at each of its sizes (``build`` makes the problem of a text:
    the caller's cached, time-limited parse). A step's cost is CPU time of this thread (what it
    costs, however busy the machine), the least over ``repeats`` runs (the least disturbed). The
    runs share ``budget_s`` CPU seconds; each stops after ``steps`` steps, at its own end, or at
    its share of the budget."""
    points: list[GrowthPoint] = []
    runs = len(family.sizes) * len(methods) * repeats
    end = time.thread_time() + budget_s
    options = Options(max_iter=steps, tol=1e-300)  # a fixed number of steps, unless a run ends on its own
    done = 0
    for n in family.sizes:
        text = family.text(n)
        try:
            problem = build(text)
        except ParseError as err:  # say at which n (the same kind of error: a busy server stays busy)
            raise _at_size(err, n) from None
        for method in methods:
            best, trace = math.inf, None  # the least seconds per step, and the run that had it
            for _ in range(repeats):
                share = max((end - time.thread_time()) / (runs - done), budget_s / (4 * runs))
                started = time.thread_time()
                attempt = run(problem, family.start(n), method, options, deadline=started + share, should_stop=should_stop)
                done += 1
                seconds = (time.thread_time() - started) / attempt.iterations if attempt.iterations else math.inf
                if seconds < best:
                    best, trace = seconds, attempt
            if trace is None:
                continue
            counts = trace.counts
            points.append(GrowthPoint(method, n, trace.iterations, best,
                                      {k: counts.get(k, 0) / trace.iterations for k in ("nfev", "ngev", "nhev", "nsolve")}))
    return points


def _at_size(err: ParseError, n: int) -> ParseError:
    named = copy.copy(err)
    named.args = (f"at n = {n}: {err}",)
    return named


def fit_growth(points: Sequence[GrowthPoint]) -> dict[str, GrowthModel]:
    """Each method's a + b·nᵖ by least squares on its points, a and b kept >= 0 (a negative fit
    means the points are too few or too noisy to tell; then b comes from the largest n alone)."""
    models = {}
    for method in dict.fromkeys(p.method for p in points):
        mine = [p for p in points if p.method == method]
        power = get_method(method).work_power
        n = np.array([p.n for p in mine], dtype=float)
        t = np.array([p.seconds_per_step for p in mine])
        if len(mine) >= 2:
            (overhead, per_unit), *_ = np.linalg.lstsq(np.stack([np.ones_like(n), n ** power], axis=1), t, rcond=None)
        else:
            overhead, per_unit = float(t[0]), 0.0
        if overhead < 0 or per_unit < 0:
            overhead = float(t.min())
            largest = int(np.argmax(n))
            per_unit = max(float(t[largest]) - overhead, 0.0) / n[largest] ** power
        models[method] = GrowthModel(method, power, float(overhead), float(per_unit))
    return models


def largest_practical_n(model: GrowthModel, seconds: float = 1.0) -> float:
    """The n at which one step takes ``seconds`` by the model (inf when it never does)."""
    if model.overhead_s >= seconds:
        return 0.0
    if model.per_unit_s <= 0:
        return math.inf
    return ((seconds - model.overhead_s) / model.per_unit_s) ** (1.0 / model.power)


__all__ = ["Family", "FAMILIES", "typed_family", "GROWTH_SIZES", "GROWTH_STEPS", "GROWTH_REPEATS", "EXTRAPOLATED_SIZES", "GrowthPoint",
           "GrowthModel", "MEMORY_BYTES", "hessian_bytes", "measure_growth", "fit_growth", "largest_practical_n"]
