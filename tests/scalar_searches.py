"""The line searches as they were first written, start by start: each a generator of the points
it needs f or g at, driven in lockstep over a batch (in_lockstep). They are the oracles of the
vectorised searches in core.stepsizes (tests/test_line_searches.py): the algorithm is the same
branch for branch, so every start's step must be too.

The one change from the code they were: dot products and norms are each row's own sum, as the
vectorised searches compute them (core.directions._dot); np.dot of two vectors may add in another
order from n = 5 on, which moves the last bit of a slope, and the comparison is of the algorithms.
"""

from __future__ import annotations

import math
from typing import Any, Generator, Iterator

import numpy as np

from core.blocks import EPS, Batch, Rule, State, StepSize, Stops, Work
from core.directions import _dot, model_curvature
from core.stepsizes import (BY_GRADIENT, EVALUATIONS, EXACT_EVALUATIONS, EXACT_SLOPE, LEVEL_SLOPE, MAX_STEP_GROWTH,
                            WOLFE_EVALUATIONS, ExactLineSearch, Wolfe, _failure, _no_evaluations, _norm, _uphill,
                            within_rounding)


Request = tuple[str, np.ndarray]  # ("f" or "g", the point): what a search asks the batch for
Search = Generator[Request, Any, "dict[str, Any] | tuple[str, str]"]


def in_lockstep(searches: dict[int, Search], work: Work) -> Iterator[tuple[int, Any]]:
    """Run every start's search together: each round, the f (then the g) every waiting search
    asks for is evaluated for all of them in one compiled call and sent back. Yields (start,
    what its search returned) as each one finishes. Only the evaluations are shared: each
    search's arithmetic is its own, so a start's outcome is the one it gets alone."""
    asked: dict[int, Request] = {}  # start -> what its search waits for
    finished: list[tuple[int, Any]] = []

    def advance(i: int, answer: Any) -> None:
        try:
            asked[i] = searches[i].send(answer)
        except StopIteration as done:
            asked.pop(i, None)
            finished.append((i, done.value))

    for i in searches:
        advance(i, None)
    while True:
        yield from finished
        finished.clear()
        if not asked:
            return
        for kind, evaluate in (("f", work.values), ("g", work.gradients)):
            rows = [i for i, (wanted, _) in asked.items() if wanted == kind]
            if rows:
                answers = evaluate(np.array(rows), np.stack([asked[i][1] for i in rows]))
                for i, answer in zip(rows, answers):
                    advance(i, answer)


class _Line:
    """phi(eta) = f(x + eta d) and phi'(eta) = g(x + eta d)'d for one start. Each is a generator:
    ``value = yield from line.value(eta)`` asks the batch driver (_RowSearch.size) for f at the
    point, which evaluates every start's pending request in one call."""

    def __init__(self, x: np.ndarray, d: np.ndarray) -> None:
        self.x, self.d = x, d
        self.gradients: dict[float, np.ndarray] = {}

    def value(self, eta: float) -> Generator[Request, Any, float]:
        value = float((yield "f", self.x + eta * self.d))
        return value if math.isfinite(value) else math.inf

    def slope(self, eta: float) -> Generator[Request, Any, float]:
        g = yield "g", self.x + eta * self.d
        self.gradients[eta] = g
        return float(_dot(g[None], self.d[None])[0]) if np.isfinite(g).all() else math.nan


def _interpolate(lo: float, f_lo: float, slope_lo: float, hi: float, f_hi: float) -> float:
    """Minimiser of the quadratic through (lo, f_lo) with slope slope_lo and (hi, f_hi), kept
    in the middle 80% of [lo, hi] (else the midpoint)."""
    width = hi - lo
    denominator = 2 * (f_hi - f_lo - slope_lo * width)
    trial = lo - slope_lo * width * width / denominator if denominator > 0 and math.isfinite(denominator) else math.nan
    low, high = min(lo, hi) + 0.1 * abs(width), max(lo, hi) - 0.1 * abs(width)
    return trial if low <= trial <= high else lo + 0.5 * width


class _RowSearch(Rule):
    """A line search whose logic runs start by start (scalar branches: subclasses implement
    ``search`` for one start, as a generator of the points it needs f or g at), its evaluations
    batched: every start's searches advance in lockstep, and the f (or g) each one asks for next
    is computed for all of them in one call. A start's arithmetic is its own, so each start's
    step is the one it takes alone, to the last bit."""

    line_view = "search"

    fields = {"evaluations": EVALUATIONS, "by_gradient": BY_GRADIENT}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        size, n = direction.shape
        eta = np.full(size, np.nan)
        info = {name: spec.empty(size) for name, spec in self.fields.items()}
        f_next, g_next = _no_evaluations(size, n)
        stops: Stops = {}
        new_state = {name: values.copy() for name, values in state.items()}
        slopes = _dot(at.g, direction)
        lines: dict[int, _Line] = {}
        searches: dict[int, Search] = {}

        for i in range(size):
            slope = float(slopes[i])
            if not slope < 0:
                stops[i] = _uphill(np.array([slope]))[0]
                continue
            lines[i] = _Line(at.x[i], direction[i])
            searches[i] = self.search(lines[i], at, i, slope, new_state, work)
        for i, outcome in in_lockstep(searches, work):
            if isinstance(outcome, tuple):
                stops[i] = outcome
                continue
            eta[i], f_next[i] = outcome["eta"], outcome["f"]
            if outcome["eta"] in lines[i].gradients:
                g_next[i] = lines[i].gradients[outcome["eta"]]
            for name in info:
                info[name][i] = outcome.get(name, info[name][i])
        return StepSize(eta, direction, info, stops, new_state, f_next, g_next)

    def search(self, line: _Line, at: Batch, i: int, slope: float, state: State,
               work: Work) -> Search:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def by_gradient(line: _Line, at: Batch, i: int, eta: float, f_trial: float, c1: float) -> Generator[Request, Any, bool]:
        """The precision-limit rule for one trial (see the module's docstring)."""
        if not (math.isfinite(f_trial) and within_rounding(f_trial, at.f[i])):
            return False
        yield from line.slope(eta)
        norm = float(_norm(line.gradients[eta][None])[0])
        return math.isfinite(norm) and norm <= (1 - c1) * float(_norm(at.g[i][None])[0])


class ScalarWolfe(_RowSearch):
    """A line search satisfying the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5
    and 3.6, quadratic interpolation in the zoom): f(x + ηd) <= f + c1 η g'd and
    |g(x + ηd)'d| <= c2 |g'd|; first trial η = 1."""

    options = ("c1", "c2")
    fields = Wolfe.fields

    def search(self, line: _Line, at: Batch, i: int, slope: float, state: State, work: Work) -> Search:
        c1, c2 = work.option("c1"), work.option("c2")
        f0 = float(at.f[i])
        previous, f_previous, slope_previous = 0.0, f0, slope
        eta, evaluations = 1.0, 0
        best: dict[str, Any] | None = None  # the lowest point satisfying Armijo, if Wolfe never holds
        unresolved = False

        def armijo(eta_: float, f_: float) -> bool:
            return f_ <= f0 + c1 * eta_ * slope and f_ < f0

        def zoom(lo: float, f_lo: float, slope_lo: float, hi: float, f_hi: float) -> Generator[Request, Any, dict[str, Any] | None]:
            nonlocal evaluations, best, unresolved
            while evaluations < WOLFE_EVALUATIONS:
                trial = _interpolate(lo, f_lo, slope_lo, hi, f_hi)
                f_trial = yield from line.value(trial)
                evaluations += 1
                if not armijo(trial, f_trial) or f_trial >= f_lo:
                    if (yield from self.by_gradient(line, at, i, trial, f_trial, c1)):
                        return {"eta": trial, "f": f_trial, "evaluations": evaluations, "by_gradient": True}
                    unresolved |= math.isfinite(f_trial) and within_rounding(f_trial, f0)
                    hi, f_hi = trial, f_trial
                    continue
                slope_trial = yield from line.slope(trial)
                if best is None or f_trial < best["f"]:
                    best = {"eta": trial, "f": f_trial, "evaluations": evaluations}
                if abs(slope_trial) <= -c2 * slope:
                    return {"eta": trial, "f": f_trial, "evaluations": evaluations, "wolfe": True}
                if slope_trial * (hi - lo) >= 0:
                    hi, f_hi = lo, f_lo
                lo, f_lo, slope_lo = trial, f_trial, slope_trial
                if abs(hi - lo) <= EPS * max(abs(lo), abs(hi)):
                    break
            return None

        found = None
        while evaluations < WOLFE_EVALUATIONS:
            f_eta = yield from line.value(eta)
            evaluations += 1
            if not armijo(eta, f_eta) or (evaluations > 1 and f_eta >= f_previous):
                if (yield from self.by_gradient(line, at, i, eta, f_eta, c1)):
                    found = {"eta": eta, "f": f_eta, "evaluations": evaluations, "by_gradient": True}
                else:
                    unresolved |= math.isfinite(f_eta) and within_rounding(f_eta, f0)
                    found = yield from zoom(previous, f_previous, slope_previous, eta, f_eta)
                break
            slope_eta = yield from line.slope(eta)
            best = best if best is not None and best["f"] <= f_eta else {"eta": eta, "f": f_eta, "evaluations": evaluations}
            if abs(slope_eta) <= -c2 * slope:
                found = {"eta": eta, "f": f_eta, "evaluations": evaluations, "wolfe": True}
                break
            if slope_eta >= 0:
                found = yield from zoom(eta, f_eta, slope_eta, previous, f_previous)
                break
            if eta >= MAX_STEP_GROWTH:
                break
            previous, f_previous, slope_previous, eta = eta, f_eta, slope_eta, 2 * eta
        if found is None and best is not None:
            found = {**best, "evaluations": evaluations}  # Armijo holds; Wolfe's curvature condition did not
        if found is None:
            return _failure(f0, float(np.linalg.norm(at.g[i])), unresolved,
                            f"no step along d satisfied the Wolfe conditions or decreased f after {evaluations} trials")
        found["evaluations"] = evaluations
        return found


class ScalarExactLineSearch(_RowSearch, ExactLineSearch):
    """The exact line minimum as it was first written (ExactLineSearch's docstring), start by
    start; its options, fields, first trial and state are ExactLineSearch's own."""

    fields = ExactLineSearch.fields

    def search(self, line: _Line, at: Batch, i: int, slope: float, state: State, work: Work) -> Search:
        f0, d = float(at.f[i]), line.d
        model_eta = math.nan
        if self.first == "model":
            curvature, allowance = model_curvature(at.g[i:i + 1], at.hessian[i:i + 1], d[None])
            if curvature[0] > allowance[0]:
                model_eta = -slope / float(curvature[0])
            first = model_eta
        else:
            previous_eta, previous_slope = state["previous_eta"][i], state["previous_slope"][i]
            first = previous_eta * previous_slope / slope if np.isfinite(previous_eta) else math.nan
        if not (math.isfinite(first) and first > 0):
            first = 1.0 / float(_norm(d[None])[0])
        lo, f_lo, slope_lo = 0.0, f0, slope
        hi = slope_hi = math.nan
        kept = ""  # which end of the bracket the last trial left in place (Illinois)
        eta, evaluations, unresolved = first, 0, False
        result = None
        flattest = (math.inf, math.nan, math.nan)  # (|phi'|, eta, f) of the level trials
        while evaluations < EXACT_EVALUATIONS:
            f_eta = yield from line.value(eta)
            evaluations += 1
            slope_eta = (yield from line.slope(eta)) if math.isfinite(f_eta) else math.nan
            # phi' decides; f only has to be lower, or equal to its rounding (near a minimum the
            # decrease is below f's last digit while phi' is still exact enough to find it)
            level = math.isfinite(f_eta) and within_rounding(f_eta, f0)
            if level and abs(slope_eta) < flattest[0]:
                flattest = (abs(slope_eta), eta, f_eta)
            if (f_eta < f0 or level) and abs(slope_eta) <= EXACT_SLOPE * abs(slope):
                result = {"eta": eta, "f": f_eta, "by_gradient": not f_eta < f0}
                break
            if math.isfinite(slope_eta) and slope_eta < 0 and (f_eta <= f_lo or within_rounding(f_eta, f_lo)):
                lo, f_lo, slope_lo = eta, f_eta, slope_eta  # the minimum lies further on
                if kept == "hi":  # hi stayed twice: halve its weight so the next trial moves it
                    slope_hi *= 0.5
                kept = "hi"
            else:
                unresolved |= level
                hi, slope_hi = eta, slope_eta
                if kept == "lo":
                    slope_lo *= 0.5
                kept = "lo"
            if math.isnan(hi):
                if eta >= MAX_STEP_GROWTH * first:
                    break  # f keeps decreasing along the whole line
                # secant extrapolation of phi' to zero, at most 4x further, at least 2x
                step = lo * slope_lo / (slope - slope_lo) if slope_lo > slope else math.inf
                eta = lo + min(max(step, lo), 3 * lo)
                continue
            width = hi - lo
            if width <= 4 * EPS * hi:
                break
            # the Illinois method on phi': the secant of the bracket's ends, the weight of an end
            # that stays twice halved (plain regula falsi crawls when one end sticks); bisection
            # where phi' at hi is not a usable number or not positive (f rose with phi' < 0)
            trial = lo - slope_lo * width / (slope_hi - slope_lo) if math.isfinite(slope_hi) and slope_hi > 0 else math.nan
            eta = trial if lo < trial < hi else lo + 0.5 * width
        if result is None and lo > 0 and f_lo < f0:
            result = {"eta": lo, "f": f_lo}  # the best point of the bracket: f decreased, phi' not yet ~0
        if result is None and flattest[0] <= LEVEL_SLOPE * abs(slope):
            result = {"eta": flattest[1], "f": flattest[2], "by_gradient": True}
        if result is None:
            return _failure(f0, float(np.linalg.norm(at.g[i])), unresolved,
                            "the exact line search found no point along d where f decreases"
                            + (" (f keeps decreasing along the whole line: unbounded below?)" if math.isnan(hi) else ""),
                            f"no trial brought |φ'| below {LEVEL_SLOPE:g} |φ'(0)|")
        taken_slope = (float(_dot(line.gradients[result["eta"]][None], d[None])[0]) if result["eta"] in line.gradients
                       else math.nan)
        result.update(evaluations=evaluations, model_eta=model_eta, slope_ratio=abs(taken_slope / slope))
        if self.first != "model":
            state["previous_eta"][i], state["previous_slope"][i] = result["eta"], slope
        return result
