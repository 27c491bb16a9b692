"""Step-size rules: how far along the direction, for a batch of starts at once.

Fixed η and the model minimum are one line of arithmetic over the batch; Armijo backtracking,
the strong Wolfe search and the exact line minimum run their trials for every searching start
at once (each start's branch of its algorithm taken by masks, all arithmetic elementwise, so a
start's step is the one it takes alone); the trust region solves the subproblems of all its
starts together (each row's secular-equation iteration its own) and judges their trials in one
call of f per round. All through the same counted evaluations.

The precision-limit rule, shared by every search: where f(x + ηd) and f(x) are equal to f's
rounding, f cannot judge the step (near a minimum the decrease falls below the last digit of f,
and a constant added to f moves that digit), so such a trial is judged by the gradient instead:
accepted when ||g|| decreases by the factor 1 - c1 (``by_gradient``). The exact line search asks
of a step only that φ'(η) = g(x + ηd)'d vanish, so it judges a level trial by φ' alone: accepted
when |φ'(η)| <= LEVEL_SLOPE |φ'(0)| (steepest descent zig-zags, so ||g|| may rise on an exact step).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .blocks import EPS, Batch, Field, Rule, State, StepSize, Stops, Work
from .directions import _dot, _matvec, model_curvature

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


# What every search reports (Backtracking, Wolfe, ExactLineSearch add their own beside these).
EVALUATIONS = Field(int, "trial points the search evaluated")
BY_GRADIENT = Field(bool, "accepted on ||g|| because f could not resolve the decrease")


def _uphill(slopes: np.ndarray) -> Stops:
    """The stops of the starts whose direction is not a descent direction (g'd >= 0, or nan)."""
    return {int(i): ("line_search_failed", f"the direction is not a descent direction (g'd = {float(slopes[i]):.3g})")
            for i in np.flatnonzero(~(slopes < 0))}


def _blank_stopped(info: dict[str, np.ndarray], fields: dict[str, Field], stops: Stops) -> None:
    """Nothing to report for the starts that stop: their fields back to each field's fill."""
    if stops:
        for name, spec in fields.items():
            info[name][list(stops)] = spec.fill


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
              "by_gradient": BY_GRADIENT}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        size, n = direction.shape
        c1, shrink, limit = work.option("c1"), work.option("shrink"), work.option("max_backtracks")
        slope = _dot(at.g, direction)
        eta = np.ones(size)
        backtracks = np.full(size, -1)
        by_gradient = np.zeros(size, dtype=bool)
        unresolved = np.zeros(size, dtype=bool)
        f_next, g_next = _no_evaluations(size, n)
        stops = _uphill(slope)
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


def _interpolate_rows(lo: np.ndarray, f_lo: np.ndarray, slope_lo: np.ndarray, hi: np.ndarray,
                      f_hi: np.ndarray) -> np.ndarray:
    """Row by row, the minimiser of the quadratic through (lo, f_lo) with slope slope_lo and
    (hi, f_hi), kept in the middle 80% of [lo, hi] (else the midpoint)."""
    width = hi - lo
    denominator = 2 * (f_hi - f_lo - slope_lo * width)
    usable = (denominator > 0) & np.isfinite(denominator)
    with np.errstate(all="ignore"):
        trial = np.where(usable, lo - slope_lo * width * width / np.where(usable, denominator, 1.0), np.nan)
    low, high = np.minimum(lo, hi) + 0.1 * np.abs(width), np.maximum(lo, hi) - 0.1 * np.abs(width)
    return np.where((low <= trial) & (trial <= high), trial, lo + 0.5 * width)


class Wolfe(Rule):
    """A line search satisfying the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5
    and 3.6, quadratic interpolation in the zoom): f(x + ηd) <= f + c1 η g'd and
    |g(x + ηd)'d| <= c2 |g'd|; first trial η = 1.

    Every start searches at once: each round evaluates f at every searching start's trial (one
    call), then g where a start needs its slope or the precision-limit rule (one call), and each
    start takes its own branch of the algorithm by masks (its phase: growing the bracket or
    zooming). All arithmetic is elementwise over the starts, so each start's search is the one
    it makes alone."""

    options = ("c1", "c2")
    line_view = "search"
    fields = {"evaluations": EVALUATIONS, "by_gradient": BY_GRADIENT,
              "wolfe": Field(bool, "the strong Wolfe conditions hold at the step taken")}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        size, n = direction.shape
        c1, c2 = work.option("c1"), work.option("c2")
        slopes = _dot(at.g, direction)
        search = _WolfeSearch(at, direction, np.flatnonzero(slopes < 0), slopes, c1, c2)
        while search.going.size:
            search.round(work)
        out = search.out
        stops = _uphill(slopes)
        for i in search.failed:
            stops[int(i)] = _failure(float(at.f[i]), float(np.linalg.norm(at.g[i])), bool(out["unresolved"][i]),
                                     f"no step along d satisfied the Wolfe conditions or decreased f after "
                                     f"{int(out['evaluations'][i])} trials")
        info = {"evaluations": out["evaluations"], "by_gradient": out["by_gradient"], "wolfe": out["wolfe"]}
        _blank_stopped(info, self.fields, stops)
        return StepSize(out["eta"], direction, info, stops, {name: v.copy() for name, v in state.items()},
                        out["f"], out["g"])

    def describe(self, info: dict[str, Any]) -> str:
        wolfe = "" if info["wolfe"] or info["by_gradient"] else " (Armijo only: the curvature condition was not met)"
        return f"{info['evaluations']} trials{wolfe}" + _search_note(info)


class _WolfeSearch:
    """The state of every start's Wolfe search (arrays over the batch's rows; ``going`` the rows
    still searching), advanced a round at a time. Each row follows Nocedal & Wright's
    Algorithm 3.5 (BRACKET: η doubles until a trial fails Armijo, rises, or has φ' >= 0) and 3.6
    (ZOOM: quadratic interpolation inside [lo, hi]), the best trial satisfying Armijo kept in
    case the curvature condition never holds."""

    BRACKET, ZOOM = 0, 1

    def __init__(self, at: Batch, direction: np.ndarray, searching: np.ndarray, slopes: np.ndarray,
                 c1: float, c2: float) -> None:
        size, n = direction.shape
        self.x, self.d, self.f0, self.slope0 = at.x, direction, at.f, slopes
        self.grad_norm = _norm(at.g)
        self.c1, self.c2 = c1, c2
        self.going = searching
        self.phase = np.full(size, self.BRACKET)
        self.eta = np.ones(size)  # BRACKET: the next trial
        self.previous, self.f_previous, self.slope_previous = np.zeros(size), at.f.copy(), slopes.copy()
        self.lo, self.f_lo, self.slope_lo = np.zeros(size), np.zeros(size), np.zeros(size)  # ZOOM: the bracket
        self.hi, self.f_hi = np.zeros(size), np.zeros(size)
        self.best_eta, self.best_f, self.best_g = np.full(size, np.nan), np.full(size, np.nan), np.full((size, n), np.nan)
        self.has_best = np.zeros(size, dtype=bool)
        f_next, g_next = _no_evaluations(size, n)
        self.out = {"eta": np.full(size, np.nan), "f": f_next, "g": g_next, "evaluations": np.zeros(size, dtype=int),
                    "by_gradient": np.zeros(size, dtype=bool), "wolfe": np.zeros(size, dtype=bool),
                    "unresolved": np.zeros(size, dtype=bool)}
        self.failed: list[int] = []

    def round(self, work: Work) -> None:
        rows, out = self.going, self.out
        zooming = self.phase[rows] == self.ZOOM
        trial = self.eta[rows].copy()
        if zooming.any():
            z = rows[zooming]
            trial[zooming] = _interpolate_rows(self.lo[z], self.f_lo[z], self.slope_lo[z], self.hi[z], self.f_hi[z])
        X = self.x[rows] + trial[:, None] * self.d[rows]
        f = work.values(rows, X)
        f = np.where(np.isfinite(f), f, np.inf)
        out["evaluations"][rows] += 1
        f0, evaluations = self.f0[rows], out["evaluations"][rows]
        armijo = (f <= f0 + self.c1 * trial * self.slope0[rows]) & (f < f0)
        rises = np.where(zooming, f >= self.f_lo[rows], (evaluations > 1) & (f >= self.f_previous[rows]))
        fail = ~armijo | rises
        level = np.isfinite(f) & within_rounding(f, f0)  # f cannot judge: the precision-limit rule
        wanted = ~fail | (fail & level)
        G = np.full(X.shape, np.nan)
        if wanted.any():
            G[wanted] = work.gradients(rows[wanted], X[wanted])
        by_gradient = np.zeros(rows.size, dtype=bool)
        judge = fail & level
        if judge.any():
            norm = _norm(G[judge])
            by_gradient[judge] = np.isfinite(norm) & (norm <= (1 - self.c1) * self.grad_norm[rows[judge]])
        self._finish(rows, fail & by_gradient, trial, f, G, "by_gradient")
        rejected = fail & ~by_gradient
        out["unresolved"][rows[rejected & level]] = True
        # a rejected trial bounds the bracket: BRACKET -> zoom between the previous trial and it
        start = rejected & ~zooming
        self._zoom(rows[start], self.previous[rows[start]], self.f_previous[rows[start]],
                   self.slope_previous[rows[start]], trial[start], f[start])
        shrink = rows[rejected & zooming]
        self.hi[shrink], self.f_hi[shrink] = trial[rejected & zooming], f[rejected & zooming]
        # a trial satisfying Armijo: its slope decides
        ok = ~fail
        slope = np.full(rows.size, np.nan)
        finite_g = ok & np.isfinite(G).all(axis=1)
        slope[finite_g] = _dot(G[finite_g], self.d[rows[finite_g]])
        better = ok & np.where(zooming, ~self.has_best[rows] | (f < self.best_f[rows]),
                               ~(self.has_best[rows] & (self.best_f[rows] <= f)))
        kept = rows[better]
        self.best_eta[kept], self.best_f[kept], self.best_g[kept] = trial[better], f[better], G[better]
        self.has_best[kept] = True
        wolfe = ok & (np.abs(slope) <= -self.c2 * self.slope0[rows])
        self._finish(rows, wolfe, trial, f, G, "wolfe")
        going = ok & ~wolfe
        ended = np.zeros(rows.size, dtype=bool)
        # BRACKET: uphill -> zoom back towards the previous trial; else too far, or double η
        grow = going & ~zooming
        uphill = grow & (slope >= 0)
        self._zoom(rows[uphill], trial[uphill], f[uphill], slope[uphill], self.previous[rows[uphill]],
                   self.f_previous[rows[uphill]])
        grow &= ~uphill
        ended |= grow & (trial >= MAX_STEP_GROWTH)
        grow &= ~ended
        g_rows = rows[grow]
        self.previous[g_rows], self.f_previous[g_rows], self.slope_previous[g_rows] = trial[grow], f[grow], slope[grow]
        self.eta[g_rows] = 2 * trial[grow]
        # ZOOM: the trial becomes lo (hi moves to the old lo when the slope points past it)
        narrow = going & zooming
        z = rows[narrow]
        flip = narrow & (slope * (self.hi[rows] - self.lo[rows]) >= 0)
        f_rows = rows[flip]
        self.hi[f_rows], self.f_hi[f_rows] = self.lo[f_rows], self.f_lo[f_rows]
        self.lo[z], self.f_lo[z], self.slope_lo[z] = trial[narrow], f[narrow], slope[narrow]
        lo, hi = self.lo[rows], self.hi[rows]
        ended |= narrow & (np.abs(hi - lo) <= EPS * np.maximum(np.abs(lo), np.abs(hi)))
        # out of trials: the search ends where it stands
        still = ~(fail & by_gradient) & ~wolfe
        ended |= still & (out["evaluations"][rows] >= WOLFE_EVALUATIONS)
        self._end(rows[ended])
        self.going = rows[still & ~ended]

    def _zoom(self, rows: np.ndarray, lo: np.ndarray, f_lo: np.ndarray, slope_lo: np.ndarray, hi: np.ndarray,
              f_hi: np.ndarray) -> None:
        self.phase[rows] = self.ZOOM
        self.lo[rows], self.f_lo[rows], self.slope_lo[rows], self.hi[rows], self.f_hi[rows] = lo, f_lo, slope_lo, hi, f_hi

    def _finish(self, rows: np.ndarray, which: np.ndarray, trial: np.ndarray, f: np.ndarray, G: np.ndarray,
                flag: str) -> None:
        done = rows[which]
        self.out["eta"][done], self.out["f"][done], self.out["g"][done] = trial[which], f[which], G[which]
        self.out[flag][done] = True

    def _end(self, rows: np.ndarray) -> None:
        """Rows that stop without a step meeting the conditions: their best Armijo step, if any
        (the curvature condition did not hold), else a failure."""
        best = rows[self.has_best[rows]]
        self.out["eta"][best], self.out["f"][best], self.out["g"][best] = self.best_eta[best], self.best_f[best], self.best_g[best]
        self.failed.extend(rows[~self.has_best[rows]].tolist())


class ExactLineSearch(Rule):
    """The minimum of f along d, to |phi'(η)| <= EXACT_SLOPE |phi'(0)|: a bracket [lo, hi] with
    phi'(lo) < 0 is grown from the first trial and narrowed by secant steps on phi' (bisection
    when a secant step leaves the bracket).

    First trial: the model minimum -g'd / d'Hd where d'Hd > 0 (``first="model"``, which reads
    H: on a quadratic it is exact at once), else the previous step's η scaled as in Nocedal &
    Wright (3.60), or one unit of length along d at the first step (``first="previous"``).

    Every start searches at once: each round one call of f at every searching start's trial and
    one of g where f is finite; each start takes its own branch by masks, all arithmetic
    elementwise, so each start's search is the one it makes alone."""

    options = ()
    line_view = "search"
    fields = {"evaluations": EVALUATIONS,
              "by_gradient": Field(bool, "accepted on φ' = g'd because f could not resolve the decrease"),
              "model_eta": Field(float, "-g'd / d'Hd, the model's minimum along d"),
              "slope_ratio": Field(float, "|phi'(eta)| / |phi'(0)| at the step taken")}
    NONE, HI, LO = 0, 1, 2  # which end of the bracket the last trial left in place (Illinois)

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

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        size, n = direction.shape
        d, f0 = direction, at.f
        slope0 = _dot(at.g, d)
        new_state = {name: values.copy() for name, values in state.items()}
        stops = _uphill(slope0)
        model_eta = np.full(size, np.nan)
        with np.errstate(all="ignore"):
            if self.first == "model":
                curvature, allowance = model_curvature(at.g, at.hessian, d)
                positive = curvature > allowance
                model_eta[positive] = -slope0[positive] / curvature[positive]
                first = model_eta.copy()
            else:
                previous_eta, previous_slope = state["previous_eta"], state["previous_slope"]
                first = np.where(np.isfinite(previous_eta), previous_eta * previous_slope / slope0, np.nan)
            first = np.where(np.isfinite(first) & (first > 0), first, 1.0 / _norm(d, scaled=True))
        lo, f_lo, slope_lo = np.zeros(size), f0.copy(), slope0.copy()
        g_lo = np.full((size, n), np.nan)
        hi, slope_hi = np.full(size, np.nan), np.full(size, np.nan)
        kept = np.full(size, self.NONE)
        eta = first.copy()
        evaluations = np.zeros(size, dtype=int)
        unresolved = np.zeros(size, dtype=bool)
        flat_slope, flat_eta, flat_f = np.full(size, np.inf), np.full(size, np.nan), np.full(size, np.nan)
        flat_g = np.full((size, n), np.nan)
        taken = np.full(size, np.nan)
        f_next, g_next = _no_evaluations(size, n)
        by_gradient = np.zeros(size, dtype=bool)
        ended: list[np.ndarray] = []  # rows whose search stopped without meeting the slope test
        rows = np.flatnonzero(slope0 < 0)
        with np.errstate(all="ignore"):  # inf and nan trials are handled by the masks
            while rows.size:
                X = at.x[rows] + eta[rows, None] * d[rows]
                f = work.values(rows, X)
                f = np.where(np.isfinite(f), f, np.inf)
                evaluations[rows] += 1
                G = np.full(X.shape, np.nan)
                finite_f = np.isfinite(f)
                if finite_f.any():
                    G[finite_f] = work.gradients(rows[finite_f], X[finite_f])
                slope = np.full(rows.size, np.nan)
                usable = np.isfinite(G).all(axis=1)
                slope[usable] = _dot(G[usable], d[rows[usable]])
                # phi' decides; f only has to be lower, or equal to its rounding (near a minimum the
                # decrease is below f's last digit while phi' is still exact enough to find it)
                level = finite_f & within_rounding(f, f0[rows])
                # (each block below only where some start takes it: a batch of one takes few of them)
                flatter = level & (np.abs(slope) < flat_slope[rows])
                if flatter.any():
                    r = rows[flatter]
                    flat_slope[r], flat_eta[r], flat_f[r], flat_g[r] = np.abs(slope[flatter]), eta[r], f[flatter], G[flatter]
                found = ((f < f0[rows]) | level) & (np.abs(slope) <= EXACT_SLOPE * np.abs(slope0[rows]))
                if found.any():
                    r = rows[found]
                    taken[r], f_next[r], g_next[r], by_gradient[r] = eta[r], f[found], G[found], ~(f[found] < f0[r])
                on = ~found
                further = on & np.isfinite(slope) & (slope < 0) & ((f <= f_lo[rows]) | within_rounding(f, f_lo[rows]))
                if further.any():
                    r = rows[further]  # the minimum lies further on: the trial is the new lo
                    lo[r], f_lo[r], slope_lo[r], g_lo[r] = eta[r], f[further], slope[further], G[further]
                    slope_hi[r] = np.where(kept[r] == self.HI, slope_hi[r] * 0.5, slope_hi[r])  # hi stayed twice: halve its weight
                    kept[r] = self.HI
                beyond = on & ~further
                if beyond.any():
                    r = rows[beyond]  # the trial is the new hi
                    unresolved[r] |= level[beyond]
                    hi[r], slope_hi[r] = eta[r], slope[beyond]
                    slope_lo[r] = np.where(kept[r] == self.LO, slope_lo[r] * 0.5, slope_lo[r])
                    kept[r] = self.LO
                # next trials: without a hi, secant extrapolation of phi' to zero (at least 2x, at most
                # 4x further) unless f keeps decreasing along the whole line; with one, the Illinois
                # method on phi' (the secant of the bracket's ends), bisection where phi' at hi is not
                # a usable number or not positive (f rose with phi' < 0), or stop when it is too narrow
                stop = np.zeros(rows.size, dtype=bool)
                open_ended = on & np.isnan(hi[rows])
                if open_ended.any():
                    stop |= open_ended & (eta[rows] >= MAX_STEP_GROWTH * first[rows])
                    grow = open_ended & ~stop
                    if grow.any():
                        r = rows[grow]
                        r_lo, r_slope_lo, r_slope0 = lo[r], slope_lo[r], slope0[r]
                        step = np.where(r_slope_lo > r_slope0, r_lo * r_slope_lo / (r_slope0 - r_slope_lo), np.inf)
                        eta[r] = r_lo + np.minimum(np.maximum(step, r_lo), 3 * r_lo)
                bracketed = on & ~open_ended
                if bracketed.any():
                    r = rows[bracketed]
                    r_lo, r_hi = lo[r], hi[r]
                    width = r_hi - r_lo
                    narrow = ~(width <= 4 * EPS * r_hi)
                    stop[bracketed] = ~narrow
                    r, r_lo, r_hi, width = r[narrow], r_lo[narrow], r_hi[narrow], width[narrow]
                    r_slope_lo, r_slope_hi = slope_lo[r], slope_hi[r]
                    secant_ok = np.isfinite(r_slope_hi) & (r_slope_hi > 0)
                    trial = np.where(secant_ok, r_lo - r_slope_lo * width / np.where(secant_ok, r_slope_hi - r_slope_lo, 1.0),
                                     np.nan)
                    eta[r] = np.where((r_lo < trial) & (trial < r_hi), trial, r_lo + 0.5 * width)
                going = on & ~stop
                stop |= going & (evaluations[rows] >= EXACT_EVALUATIONS)
                if stop.any():
                    ended.append(rows[stop])
                rows = rows[going & ~stop]
        # where the slope test was never met: the bracket's best point if f decreased there, else
        # the flattest level trial if flat enough, else a failure
        for i in (np.concatenate(ended) if ended else np.zeros(0, dtype=int)):
            if lo[i] > 0 and f_lo[i] < f0[i]:
                taken[i], f_next[i], g_next[i] = lo[i], f_lo[i], g_lo[i]
            elif flat_slope[i] <= LEVEL_SLOPE * abs(slope0[i]):
                taken[i], f_next[i], g_next[i], by_gradient[i] = flat_eta[i], flat_f[i], flat_g[i], True
            else:
                stops[int(i)] = _failure(
                    float(f0[i]), float(np.linalg.norm(at.g[i])), bool(unresolved[i]),
                    "the exact line search found no point along d where f decreases"
                    + (" (f keeps decreasing along the whole line: unbounded below?)" if np.isnan(hi[i]) else ""),
                    f"no trial brought |φ'| below {LEVEL_SLOPE:g} |φ'(0)|")
        with np.errstate(all="ignore"):
            slope_ratio = np.abs(_dot(g_next, d) / slope0)
        info = {"evaluations": evaluations, "by_gradient": by_gradient, "model_eta": model_eta, "slope_ratio": slope_ratio}
        _blank_stopped(info, self.fields, stops)
        stepped = np.flatnonzero(np.isfinite(taken))
        if self.first != "model":
            new_state["previous_eta"][stepped], new_state["previous_slope"][stepped] = taken[stepped], slope0[stepped]
        return StepSize(taken, direction, info, stops, new_state, f_next, g_next)

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
              "by_gradient": BY_GRADIENT}

    def init(self, n: int, size: int, options: Any) -> State:
        return {"radius": np.full(size, float(options.radius))}

    def size(self, at: Batch, direction: np.ndarray, state: State, work: Work) -> StepSize:
        # Every start's trials advance together: a round solves the subproblem of each start
        # still looking for a step, evaluates f at all their trial points in one call, and
        # accepts or shrinks each on its own numbers (row-wise arithmetic: a start's step is
        # the one it takes alone).
        size, n = at.g.shape
        eigenvalues, vectors = np.linalg.eigh(at.hessian)
        work.solved(np.arange(size))
        steps = np.full((size, n), np.nan)
        next_radius = state["radius"].copy()
        info = {name: spec.empty(size) for name, spec in self.fields.items()}
        f_next, g_next = _no_evaluations(size, n)
        stops: Stops = {}
        c1 = work.option("c1")
        grad_norm = _norm(at.g)
        unresolved = np.zeros(size, dtype=bool)
        radius = state["radius"].copy()  # the radius of each start's next trial
        looking = np.arange(size)
        for rejected in range(TRUST_SHRINKS):
            g, r = at.g[looking], radius[looking]
            p, boundary = solve_subproblems(g, eigenvalues[looking], vectors[looking], r)
            predicted = -(_dot(g, p) + 0.5 * _dot(p, _matvec(at.hessian[looking], p)))
            x_trial = at.x[looking] + p
            f_trial = work.values(looking, x_trial)
            f_trial = np.where(np.isfinite(f_trial), f_trial, np.inf)
            f0 = at.f[looking]
            actual = f0 - f_trial
            ratio = np.where(predicted > 0, actual / np.where(predicted > 0, predicted, 1.0), -np.inf)
            length = _norm(p)
            accepted = (ratio > TRUST_ACCEPT) & (actual > 0)
            by_gradient = np.zeros(looking.size, dtype=bool)
            check = np.flatnonzero(~accepted & np.isfinite(f_trial) & within_rounding(f_trial, f0))
            if check.size:
                unresolved[looking[check]] = True
                gradient = work.gradients(looking[check], x_trial[check])
                norm = _norm(gradient)
                by_gradient[check] = np.isfinite(norm) & (norm <= (1 - c1) * grad_norm[looking[check]])
                accepted |= by_gradient
                taken_gradient = check[by_gradient[check]]
                g_next[looking[taken_gradient]] = gradient[by_gradient[check]]
            done = looking[accepted]
            new = r[accepted].copy()
            shrink = (ratio[accepted] < 0.25) & ~by_gradient[accepted]
            grow = ~shrink & (ratio[accepted] > 0.75) & boundary[accepted]
            new[shrink] = 0.25 * length[accepted][shrink]
            new[grow] = np.minimum(2 * r[accepted][grow], TRUST_MAX_RADIUS)
            steps[done], f_next[done], next_radius[done] = p[accepted], f_trial[accepted], new
            for name, values in (("radius", r), ("ratio", ratio), ("boundary", boundary), ("by_gradient", by_gradient)):
                info[name][done] = values[accepted]
            info["rejected"][done] = rejected
            # the others try again from the same x with a quarter of the step's length
            again = ~accepted
            shrunk = 0.25 * np.where(length > 0, length, r)
            radius[looking[again]] = shrunk[again]
            vanished = again & (shrunk <= EPS * np.maximum(1.0, _norm(at.x[looking])))
            for i in looking[vanished]:
                stops[int(i)] = self._failure(at, i, unresolved[i], radius[i], grad_norm[i])
            looking = looking[again & ~vanished]
            if not looking.size:
                break
        for i in looking:
            stops[int(i)] = self._failure(at, i, unresolved[i], radius[i], grad_norm[i])
        return StepSize(np.ones(size), steps, info, stops, {"radius": next_radius}, f_next, g_next)

    @staticmethod
    def _failure(at: Batch, i: int, unresolved: bool, radius: float, grad_norm: float) -> tuple[str, str]:
        return _failure(float(at.f[i]), float(grad_norm), bool(unresolved),
                        f"the trust region shrank to {radius:.2g} without a step that decreased f")

    def describe(self, info: dict[str, Any]) -> str:
        rejected = f", {info['rejected']} rejected" if info["rejected"] else ""
        where = "on the boundary" if info["boundary"] else "inside"
        return f"Δ = {info['radius']:.3g}, ρ = {info['ratio']:.3g}, step {where}{rejected}" + _search_note(info)


def _norm(vectors: np.ndarray, scaled: bool = False) -> np.ndarray:
    """Row-wise Euclidean norms of (b, n), each row's own sum: inf where d'd overflows and 0 where
    it underflows, unless ``scaled`` (then those rows are computed as m ||d/m||, m = max |d_i|)."""
    norms = np.sqrt(_dot(vectors, vectors))
    if scaled:
        lost = np.flatnonzero(~(np.isfinite(norms) & (norms > 0)) & np.isfinite(vectors).all(axis=1))
        if lost.size:
            largest = np.abs(vectors[lost]).max(axis=1)
            with np.errstate(all="ignore"):
                unit = vectors[lost] / np.where(largest > 0, largest, 1.0)[:, None]
            norms[lost] = largest * np.sqrt(_dot(unit, unit))
    return norms


def solve_subproblems(g: np.ndarray, eigenvalues: np.ndarray, vectors: np.ndarray,
                      radius: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the minimiser p of g'p + p'Hp/2 over ||p|| <= radius, H = V diag(eigenvalues) V'
    (Nocedal & Wright 4.3): p(lambda) = -(H + lambda I)^-1 g with lambda >= max(0, -lambda_min)
    and lambda (radius - ||p||) = 0; in the hard case (g orthogonal to the lowest eigenvector)
    p(-lambda_min) plus a multiple of that eigenvector reaching the boundary. Returns p (b, n) and
    whether each is on the boundary (b,). Rows are solved together; each row's numbers are its own."""
    size, n = g.shape
    coefficients = np.einsum("bji,bj->bi", vectors, g)
    lowest = eigenvalues[:, 0]
    scale = np.maximum(1.0, np.abs(eigenvalues).max(axis=1))
    p = np.full((size, n), np.nan)
    boundary = np.ones(size, dtype=bool)

    def step(rows: np.ndarray, shift: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return -np.einsum("bij,bj->bi", vectors[rows], coefficients[rows] / (eigenvalues[rows] + shift[:, None]))

    rows = np.arange(size)
    inside = np.flatnonzero(lowest > 0)
    if inside.size:
        newton = step(inside, np.zeros(inside.size))
        fits = _norm(newton) <= radius[inside]
        p[inside[fits]], boundary[inside[fits]] = newton[fits], False
        rows = np.setdiff1d(rows, inside[fits])
    floor = np.maximum(0.0, -lowest)
    # hard case: g has (almost) no component along the eigenvectors of lambda_min
    bottom = np.abs(eigenvalues - lowest[:, None]) <= 1e-12 * scale[:, None]
    small = np.abs(coefficients) <= 1e-12 * np.maximum(1.0, _norm(g))[:, None]
    hard = rows[np.all(small | ~bottom, axis=1)[rows]]
    if hard.size:
        with np.errstate(all="ignore"):
            others = np.where(bottom[hard], 0.0, coefficients[hard] / (eigenvalues[hard] + floor[hard, None]))
        q = -np.einsum("bij,bj->bi", vectors[hard], others)
        gap = radius[hard] ** 2 - _dot(q, q)
        reach = gap >= 0
        p[hard[reach]] = q[reach] + np.sqrt(gap[reach])[:, None] * vectors[hard[reach], :, 0]
        rows = np.setdiff1d(rows, hard[reach])
    if rows.size:
        p[rows] = _secular(step, rows, coefficients, eigenvalues, floor, scale, g, radius)
    return p, boundary


def _secular(step: Callable[[np.ndarray, np.ndarray], np.ndarray], rows: np.ndarray, coefficients: np.ndarray,
             eigenvalues: np.ndarray, floor: np.ndarray, scale: np.ndarray, g: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """p on the boundary for ``rows``: the secular equation 1/||p(lambda)|| = 1/radius, by Newton's
    method on lambda (N&W Alg. 4.3) from the right of the pole, safeguarded by a bracket [lo, hi]
    (each row iterating until its own test holds).

    ||p(lambda)|| <= ||g|| / (lambda_min + lambda) <= radius at lambda = floor + ||g||/radius: the
    bracket's right end, however large |H| is (H = diag(2e200, 2) needs lambda = 2, nothing near 1e200)."""
    floor, radius = floor[rows], radius[rows]
    lo = floor.copy()
    hi = floor + _norm(g[rows]) / radius
    shift = floor + np.minimum(np.maximum(1e-12 * scale[rows], 1e-3 * (hi - lo)), 0.5 * (hi - lo))
    going = np.arange(rows.size)
    for _ in range(100):
        if not going.size:
            break
        at = rows[going]
        s, r = shift[going], radius[going]
        norm = _norm(step(at, s))
        outside = ~np.isfinite(norm) | (norm > r)
        lo[going[outside]], hi[going[~outside]] = s[outside], s[~outside]
        landed = np.isfinite(norm) & (np.abs(norm - r) <= 1e-10 * r)
        going, s, r, norm, at = going[~landed], s[~landed], r[~landed], norm[~landed], at[~landed]
        with np.errstate(all="ignore"):
            derivative = np.sum(coefficients[at] ** 2 / (eigenvalues[at] + s[:, None]) ** 3, axis=1)
            newton = np.where(derivative > 0, s + (norm / r - 1) * norm ** 2 / derivative, np.nan)
            low, high = lo[going], hi[going]
            below, above = low - floor[going], high - floor[going]
            bisect = floor[going] + np.sqrt(np.maximum(below, EPS * above) * above)
        shift[going] = np.where((low < newton) & (newton < high), newton, bisect)
        going = going[~(high - low <= 4 * EPS * high)]
    p = step(rows, shift)
    norm = _norm(p)
    with np.errstate(all="ignore"):
        return np.where((norm > 0)[:, None], p * np.minimum(1.0, radius / norm)[:, None], p)


def rule_options(*rules: Rule) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for rule in rules for name in rule.options))


Describer = Callable[[dict[str, Any]], str]
