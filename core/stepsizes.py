"""Step-size rules: how far along the direction, for a batch of starts at once.

Fixed η and the model minimum are one line of arithmetic over the batch; Armijo backtracking
runs its trials for every searching start at once; the Wolfe search and the exact line minimum
are scalar algorithms (branches per start) whose starts advance in lockstep, each trial's f or g
evaluated for all of them in one call (_RowSearch); the trust region solves its subproblem start
by start. All through the same counted evaluations.

The precision-limit rule, shared by every search: where f(x + ηd) and f(x) are equal to f's
rounding, f cannot judge the step (near a minimum the decrease falls below the last digit of f,
and a constant added to f moves that digit), so such a trial is judged by the gradient instead:
accepted when ||g|| decreases by the factor 1 - c1 (``by_gradient``). The exact line search asks
of a step only that φ'(η) = g(x + ηd)'d vanish, so it judges a level trial by φ' alone: accepted
when |φ'(η)| <= LEVEL_SLOPE |φ'(0)| (steepest descent zig-zags, so ||g|| may rise on an exact step).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Generator

import numpy as np

from .blocks import EPS, Batch, Field, Rule, State, StepSize, Stops, Work
from .directions import _dot, model_curvature

# Two values of f closer than this (relative) are the same number to f's own rounding: a sum of
# terms loses a few ulps of its largest term, so a few dozen eps, not one.
F_ROUNDING = 64 * EPS
EXACT_SLOPE = 1e-8  # the exact line search stops when |phi'(eta)| <= this * |phi'(0)|
# where f is level, the exact search takes its trial of least |phi'| if this far down from phi'(0)
# (EXACT_SLOPE asks more than phi' can give: its rounding is that of g, not of g'd)
LEVEL_SLOPE = 0.1  # the curvature constant c2 of a strong Wolfe search for CG (Nocedal & Wright)
EXACT_EVALUATIONS = 40  # ... or after this many trials (then the best trial that decreased f)
WOLFE_EVALUATIONS = 40
MAX_STEP_GROWTH = 1e10  # an exact or Wolfe search never looks beyond this times its first trial
TRUST_MAX_RADIUS = 1000.0  # as scipy's trust-exact
TRUST_ACCEPT = 0.15  # accept a trust-region step when actual/predicted decrease exceeds this (scipy)
TRUST_SHRINKS = 60  # radius reductions at one point before the trust region gives up


def within_rounding(a: Any, b: Any) -> Any:
    """f cannot tell a from b: they differ by less than its rounding."""
    return np.abs(a - b) <= F_ROUNDING * np.maximum(np.abs(a), np.abs(b))


def _no_evaluations(size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full(size, np.nan), np.full((size, n), np.nan)


def _search_note(info: dict[str, Any]) -> str:
    return "; accepted on ||g|| (f's change is below its rounding)" if info.get("by_gradient") else ""


def _failure(f: float, grad_norm: float, unresolved: bool, what: str,
             judged: str = "no shorter step reduced ||g||") -> tuple[str, str]:
    if unresolved:
        return ("precision_limit",
                f"f cannot resolve a further decrease here (its changes along the step are below its rounding, "
                f"|f| = {abs(f):.6g}) and {judged}: the precision limit is reached at "
                f"||g|| = {grad_norm:.2g}")
    return "line_search_failed", what


def _not_descent(slope: float) -> tuple[str, str]:
    return "line_search_failed", f"the direction is not a descent direction (g'd = {slope:.3g})"


class FixedRate(Rule):
    """η = lr, the same at every step."""

    options = ("lr",)

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        lr = work.option("lr")
        eta = np.full(at.size, lr) if np.ndim(lr) == 0 else np.array(lr, dtype=float)
        return StepSize(eta, direction, {}, {}, state)


class UnitStep(Rule):
    """η = 1: the direction is the whole step (Newton's)."""

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        return StepSize(np.ones(at.size), direction, {}, {}, state)


class ModelMinimum(Rule):
    """η minimising the quadratic model along d: -g'd / d'Hd (= g'g / g'Hg along -g); stops
    with negative_curvature where d'Hd <= 0 or is zero to rounding (no model minimum)."""

    needs_hessian = True
    line_view = "model"
    fields = {"curvature": Field(float, "d'Hd, the model's curvature along the step")}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        curvature, allowance = model_curvature(at.g, at.hessian, direction)
        with np.errstate(all="ignore"):
            eta = -_dot(at.g, direction) / curvature
        stops: Stops = {}
        for i in np.flatnonzero(~(curvature > allowance)):
            what = (f"g'Hg = {curvature[i]:.3g} <= 0" if curvature[i] <= 0 else
                    f"g'Hg = {curvature[i]:.3g} is zero to rounding (below 8n·eps·||g||²·||H|| = {allowance[i]:.2g})")
            stops[int(i)] = ("negative_curvature", f"{what}: the quadratic model along -g has no minimum, "
                                                   "so the optimal rate g'g/g'Hg is undefined")
        return StepSize(eta, direction, {"curvature": curvature}, stops, state)


class Backtracking(Rule):
    """Armijo backtracking: the first η = shrink^j with f(x + η d) <= f + c1 η g'd (and f lower)."""

    options = ("c1", "shrink")
    line_view = "search"
    fields = {"backtracks": Field(int, "halvings of the trial step before it was accepted"),
              "by_gradient": Field(bool, "accepted on ||g|| because f could not resolve the decrease")}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        size, n = direction.shape
        c1, shrink, limit = work.option("c1"), work.option("shrink"), work.option("max_backtracks")
        slope = _dot(at.g, direction)
        eta = np.ones(size)
        backtracks = np.full(size, -1)
        by_gradient = np.zeros(size, dtype=bool)
        unresolved = np.zeros(size, dtype=bool)
        f_next, g_next = _no_evaluations(size, n)
        stops: Stops = {int(i): _not_descent(slope[i]) for i in np.flatnonzero(~(slope < 0))}
        # the starts still searching, compacted (rows: their numbers in the batch)
        rows = np.flatnonzero(slope < 0)
        x, d, f, s = at.x[rows], direction[rows], at.f[rows], slope[rows]
        grad_norm = np.sqrt(_dot(at.g[rows], at.g[rows]))
        trial_eta = np.ones(rows.size)
        for j in range(limit + 1):
            if not rows.size:
                break
            X = x + trial_eta[:, None] * d
            trial = work.values(rows, X)
            trial[~np.isfinite(trial)] = np.inf
            # Strict decrease too: when c1*eta*g'd is below the rounding of f (a large constant
            # in f), "trial <= f + c1 eta g'd" would accept trial == f and loop without progress.
            accepted = (trial <= f + c1 * trial_eta * s) & (trial < f)
            unjudged = ~accepted & (trial != np.inf) & within_rounding(trial, f)
            if unjudged.any():
                unresolved[rows[unjudged]] = True
                # a sufficient decrease of ||g|| too: a bare one accepted steps that flip across
                # the minimum and back with ||g|| shrinking by 1e-8 per step
                gradients = work.gradients(rows[unjudged], X[unjudged])
                norms = np.sqrt(_dot(gradients, gradients))
                judged = np.isfinite(norms) & (norms <= (1 - c1) * grad_norm[unjudged])
                judged_rows = rows[unjudged][judged]
                by_gradient[judged_rows] = True
                g_next[judged_rows] = gradients[judged]
                accepted[np.flatnonzero(unjudged)[judged]] = True
            if accepted.any():
                done = rows[accepted]
                eta[done], backtracks[done], f_next[done] = trial_eta[accepted], j, trial[accepted]
                keep = ~accepted
                rows, x, d, f, s = rows[keep], x[keep], d[keep], f[keep], s[keep]
                grad_norm, trial_eta = grad_norm[keep], trial_eta[keep]
            trial_eta = trial_eta * shrink
        eta[rows] = trial_eta  # unused: these starts stop
        for i in rows:
            stops[int(i)] = _failure(at.f[i], float(np.linalg.norm(at.g[i])), unresolved[i],
                                     f"no trial step decreased f enough after {limit} reductions of the step: f is "
                                     "undefined or overflows at every trial point, or rises along the whole line")
        return StepSize(eta, direction, {"backtracks": backtracks, "by_gradient": by_gradient}, stops, state,
                        f_next, g_next)

    def describe(self, info: dict[str, Any]) -> str:
        return f"{info['backtracks']} backtracks" + _search_note(info)


Request = tuple[str, np.ndarray]  # ("f" or "g", the point): what a search asks the batch for
Search = Generator[Request, Any, "dict[str, Any] | tuple[str, str]"]


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
        return float(g @ self.d) if np.isfinite(g).all() else math.nan


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

    fields = {"evaluations": Field(int, "trial points the search evaluated"),
              "by_gradient": Field(bool, "accepted on ||g|| because f could not resolve the decrease")}

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
        asked: dict[int, Request] = {}  # start -> what its search waits for

        def advance(i: int, answer: Any) -> None:
            try:
                asked[i] = searches[i].send(answer)
            except StopIteration as done:
                asked.pop(i, None)
                outcome = done.value
                if isinstance(outcome, tuple):
                    stops[i] = outcome
                    return
                eta[i], f_next[i] = outcome["eta"], outcome["f"]
                if outcome["eta"] in lines[i].gradients:
                    g_next[i] = lines[i].gradients[outcome["eta"]]
                for name in info:
                    info[name][i] = outcome.get(name, info[name][i])

        for i in range(size):
            slope = float(slopes[i])
            if not slope < 0:
                stops[i] = _not_descent(slope)
                continue
            lines[i] = _Line(at.x[i], direction[i])
            searches[i] = self.search(lines[i], at, i, slope, new_state, work)
            advance(i, None)
        while asked:
            for kind, evaluate in (("f", work.values), ("g", work.gradients)):
                rows = [i for i, (wanted, _) in asked.items() if wanted == kind]
                if rows:
                    answers = evaluate(np.array(rows), np.stack([asked[i][1] for i in rows]))
                    for i, answer in zip(rows, answers):
                        advance(i, answer)
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
        norm = float(np.linalg.norm(line.gradients[eta]))
        return math.isfinite(norm) and norm <= (1 - c1) * float(np.linalg.norm(at.g[i]))


class Wolfe(_RowSearch):
    """A line search satisfying the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5
    and 3.6, quadratic interpolation in the zoom): f(x + ηd) <= f + c1 η g'd and
    |g(x + ηd)'d| <= c2 |g'd|; first trial η = 1."""

    options = ("c1", "c2")
    fields = {**_RowSearch.fields, "wolfe": Field(bool, "the strong Wolfe conditions hold at the step taken")}

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

    def describe(self, info: dict[str, Any]) -> str:
        wolfe = "" if info["wolfe"] or info["by_gradient"] else " (Armijo only: the curvature condition was not met)"
        return f"{info['evaluations']} trials{wolfe}" + _search_note(info)


class ExactLineSearch(_RowSearch):
    """The minimum of f along d, to |phi'(η)| <= EXACT_SLOPE |phi'(0)|: a bracket [lo, hi] with
    phi'(lo) < 0 is grown from the first trial and narrowed by secant steps on phi' (bisection
    when a secant step leaves the bracket).

    First trial: the model minimum -g'd / d'Hd where d'Hd > 0 (``first="model"``, which reads
    H: on a quadratic it is exact at once), else the previous step's η scaled as in Nocedal &
    Wright (3.60), or one unit of length along d at the first step (``first="previous"``)."""

    options = ()
    fields = {**_RowSearch.fields,
              "by_gradient": Field(bool, "accepted on φ' = g'd because f could not resolve the decrease"),
              "model_eta": Field(float, "-g'd / d'Hd, the model's minimum along d"),
              "slope_ratio": Field(float, "|phi'(eta)| / |phi'(0)| at the step taken")}

    def __init__(self, first: str = "model") -> None:
        self.first = first
        self.needs_hessian = first == "model"
        self.memoryless = first == "model"

    def init(self, n: int, size: int, options: Any) -> State:
        return {} if self.first == "model" else {"previous_eta": np.full(size, np.nan),
                                                 "previous_slope": np.full(size, np.nan)}

    def state_at(self, trace: Any, k: int, options: Any) -> State:
        state = self.init(trace.x.shape[1], 1, options)
        if self.first != "model" and k > 0:  # the previous step's eta and slope g'd, as the run kept them
            state["previous_eta"][0] = trace.step_size[k - 1]
            state["previous_slope"][0] = float(trace.grad[k - 1] @ trace.direction[k - 1])
        return state

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
            first = 1.0 / float(np.linalg.norm(d))
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
        taken_slope = float(line.gradients[result["eta"]] @ d) if result["eta"] in line.gradients else math.nan
        result.update(evaluations=evaluations, model_eta=model_eta, slope_ratio=abs(taken_slope / slope))
        if self.first != "model":
            state["previous_eta"][i], state["previous_slope"][i] = result["eta"], slope
        return result

    def describe(self, info: dict[str, Any]) -> str:
        model = f"; model η = {info['model_eta']:.6g}" if np.isfinite(info["model_eta"]) else ""
        level = "; accepted on φ' (f's change is below its rounding)" if info["by_gradient"] else ""
        return f"exact η in {info['evaluations']} trials (|φ'| ratio {info['slope_ratio']:.1g}){model}{level}"


class TrustRegion(Rule):
    """Trust-region Newton with the exact subproblem (Moré-Sorensen via the eigendecomposition of
    H, hard case included): p minimises g'p + p'Hp/2 over ||p|| <= Δ, which needs no fallback
    where H is indefinite. A step whose actual/predicted decrease ratio is below TRUST_ACCEPT is
    rejected at the same x with Δ/4 (counted in ``rejected``); Δ doubles after a good step that
    reached the boundary (at most TRUST_MAX_RADIUS). The direction taken is p, with η = 1."""

    needs_hessian = True
    memoryless = False
    work_power = 3  # an eigendecomposition of H per step
    options = ("radius", "c1")  # c1: the precision-limit rule's decrease of ||g||
    fields = {"radius": Field(float, "trust radius Δ the accepted step was solved for"),
              "ratio": Field(float, "actual / predicted decrease of f"),
              "rejected": Field(int, "trial steps rejected at this x"),
              "boundary": Field(bool, "the step reached the trust-region boundary"),
              "by_gradient": Field(bool, "accepted on ||g|| because f could not resolve the decrease")}

    def init(self, n: int, size: int, options: Any) -> State:
        return {"radius": np.full(size, float(options.radius))}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        size, n = at.g.shape
        eigenvalues, vectors = np.linalg.eigh(at.hessian)
        work.solved(np.arange(size))
        steps = np.full((size, n), np.nan)
        radius = state["radius"].copy()
        info = {name: spec.empty(size) for name, spec in self.fields.items()}
        f_next, g_next = _no_evaluations(size, n)
        stops: Stops = {}
        for i in range(size):
            outcome = self._row(work, at, i, eigenvalues[i], vectors[i], float(radius[i]))
            if isinstance(outcome, tuple):
                stops[i] = outcome
                continue
            steps[i], f_next[i], radius[i] = outcome.pop("p"), outcome.pop("f"), outcome.pop("next_radius")
            if "g" in outcome:
                g_next[i] = outcome.pop("g")
            for name, value in outcome.items():
                info[name][i] = value
        return StepSize(np.ones(size), steps, info, stops, {"radius": radius}, f_next, g_next)

    def _row(self, work: Work, at: Batch, i: int, eigenvalues: np.ndarray, vectors: np.ndarray,
             radius: float) -> dict[str, Any] | tuple[str, str]:
        g, f0, hessian = at.g[i], float(at.f[i]), at.hessian[i]
        local = np.array([i])
        unresolved = False
        for rejected in range(TRUST_SHRINKS):
            p, boundary = solve_subproblem(g, eigenvalues, vectors, radius)
            predicted = -float(g @ p + 0.5 * p @ hessian @ p)
            x_trial = at.x[i] + p
            f_trial = float(work.values(local, x_trial[None])[0])
            f_trial = f_trial if math.isfinite(f_trial) else math.inf
            actual = f0 - f_trial
            ratio = actual / predicted if predicted > 0 else -math.inf
            length = float(np.linalg.norm(p))
            accepted, by_gradient, gradient = ratio > TRUST_ACCEPT and actual > 0, False, None
            if not accepted and math.isfinite(f_trial) and within_rounding(f_trial, f0):
                unresolved = True
                gradient = work.gradients(local, x_trial[None])[0]
                norm = float(np.linalg.norm(gradient))
                by_gradient = accepted = math.isfinite(norm) and norm <= (1 - work.option("c1")) * float(np.linalg.norm(g))
            if accepted:
                next_radius = radius
                if ratio < 0.25 and not by_gradient:
                    next_radius = 0.25 * length
                elif ratio > 0.75 and boundary:
                    next_radius = min(2 * radius, TRUST_MAX_RADIUS)
                out = {"p": p, "f": f_trial, "next_radius": next_radius, "radius": radius, "ratio": ratio,
                       "rejected": rejected, "boundary": boundary, "by_gradient": by_gradient}
                if gradient is not None:
                    out["g"] = gradient
                return out
            radius = 0.25 * (length if length > 0 else radius)
            if radius <= EPS * max(1.0, float(np.linalg.norm(at.x[i]))):
                break
        return _failure(f0, float(np.linalg.norm(g)), unresolved,
                        f"the trust region shrank to {radius:.2g} without a step that decreased f")

    def describe(self, info: dict[str, Any]) -> str:
        rejected = f", {info['rejected']} rejected" if info["rejected"] else ""
        where = "on the boundary" if info["boundary"] else "inside"
        return f"Δ = {info['radius']:.3g}, ρ = {info['ratio']:.3g}, step {where}{rejected}" + _search_note(info)


def solve_subproblem(g: np.ndarray, eigenvalues: np.ndarray, vectors: np.ndarray,
                     radius: float) -> tuple[np.ndarray, bool]:
    """The minimiser p of g'p + p'Hp/2 over ||p|| <= radius, H = V diag(eigenvalues) V'
    (Nocedal & Wright 4.3): p(lambda) = -(H + lambda I)^-1 g with lambda >= max(0, -lambda_min)
    and lambda (radius - ||p||) = 0; in the hard case (g orthogonal to the lowest eigenvector)
    p(-lambda_min) plus a multiple of that eigenvector reaching the boundary. Returns (p, on the
    boundary)."""
    coefficients = vectors.T @ g
    lowest = float(eigenvalues[0])
    scale = max(1.0, float(np.abs(eigenvalues).max()))

    def step(shift: float) -> np.ndarray:
        with np.errstate(all="ignore"):
            return -vectors @ (coefficients / (eigenvalues + shift))

    if lowest > 0:
        p = step(0.0)
        if float(np.linalg.norm(p)) <= radius:
            return p, False
    floor = max(0.0, -lowest)
    # hard case: g has (almost) no component along the eigenvectors of lambda_min
    bottom = np.abs(eigenvalues - lowest) <= 1e-12 * scale
    if np.all(np.abs(coefficients[bottom]) <= 1e-12 * max(1.0, float(np.linalg.norm(g)))):
        others = np.where(bottom, 0.0, coefficients)
        with np.errstate(all="ignore"):
            p = -vectors @ np.where(bottom, 0.0, others / (eigenvalues + floor))
        gap = radius ** 2 - float(p @ p)
        if gap >= 0:
            return p + math.sqrt(gap) * vectors[:, 0], True
    # the secular equation 1/||p(lambda)|| = 1/radius, by Newton's method on lambda (N&W Alg. 4.3)
    # from the right of the pole, safeguarded by a bracket [lo, hi]
    # ||p(lambda)|| <= ||g|| / (lambda_min + lambda) <= radius at lambda = floor + ||g||/radius: the
    # bracket's right end, however large |H| is (H = diag(2e200, 2) needs lambda = 2, nothing near 1e200)
    lo = floor
    hi = floor + float(np.linalg.norm(g)) / radius
    shift = floor + min(max(1e-12 * scale, 1e-3 * (hi - lo)), 0.5 * (hi - lo))
    for _ in range(100):
        p = step(shift)
        norm = float(np.linalg.norm(p))
        if not math.isfinite(norm) or norm > radius:
            lo = shift
        else:
            hi = shift
        if math.isfinite(norm) and abs(norm - radius) <= 1e-10 * radius:
            break
        with np.errstate(all="ignore"):
            derivative = float(np.sum(coefficients ** 2 / (eigenvalues + shift) ** 3))
            newton = shift + (norm / radius - 1) * norm ** 2 / derivative if derivative > 0 else math.nan
        if lo < newton < hi:
            shift = newton
        else:  # bisect the distance to the pole on a log scale: the bracket may span many decades
            below, above = lo - floor, hi - floor
            shift = floor + math.sqrt(max(below, EPS * above) * above)
        if hi - lo <= 4 * EPS * hi:
            break
    p = step(shift)
    norm = float(np.linalg.norm(p))
    return (p * min(1.0, radius / norm) if norm > 0 else p), True


def rule_options(*rules: Rule) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for rule in rules for name in rule.options))


Describer = Callable[[dict[str, Any]], str]
