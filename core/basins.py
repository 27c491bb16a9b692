"""Where every start goes: a grid of starts over a box, each method run from all of them at once
(:func:`core.run.run_ends`), and each start named by where its run ended.

A start that converged is labelled with the stationary point it reached: end points of every
method that agree to a tolerance (CLUSTER_TOLERANCE of the box's size) are one cluster, so one
point has one label, and one colour, across methods. A start that did not converge is labelled with
its outcome (max_iter, diverged, outside the domain, ...), and one that converged where f is merely
flat with "flat". Every pixel is the run :func:`core.run.run` gives from that start alone.

For f of one variable the starts lie on an interval; for more than two, on a plane through x0
along two chosen coordinates (the others fixed at x0: a slice).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np

from . import fairshare
from .options import Options, OptionsError
from .problem import Problem
from .run import STATUSES, BatchEnds, run_ends

GRID_RANGE = (8, 400)  # starts per side a picture may ask for (the page offers 50-400)
DEFAULT_GRID = 200
CLUSTER_TOLERANCE = 1e-3  # end points closer than this times the box's diagonal are one point
MAX_CLUSTERS = 12  # named stationary points; the rest are "other_point" (colours stay few and distinct)
KIND_ORDER = ("minimum", "saddle", "maximum", "degenerate", "unclassified")
# What a start that reached no named stationary point is labelled with, in the legend's order.
OUTCOMES: dict[str, str] = {
    "other_point": "another stationary point (beyond the named ones)",
    "flat": "converged where f is flat (no stationary point)",
    **{status: text for status, text in STATUSES.items() if status != "converged"},
}
PILOT_STARTS = (16, 256)  # starts (spread over the grid) of the two trial runs that estimate the grid's cost
BUDGET_USE = 0.8  # the grid is chosen to need at most this share of the budget (the estimate is rough)


_LABELS = {outcome: -1 - i for i, outcome in enumerate(OUTCOMES)}


def outcome_label(outcome: str) -> int:
    """The (negative) label of an outcome that is not a cluster."""
    return _LABELS[outcome]


def label_outcome(label: int) -> str:
    """The outcome of a negative label (outcome_label's inverse)."""
    return tuple(OUTCOMES)[-1 - label]


@dataclass(frozen=True)
class View:
    """The starts: a grid x grid box over the coordinates ``axes`` (one or two), every other
    coordinate fixed at x0. Pixel (row r, column c) is start r * grid + c; columns run along the
    first axis from low to high, rows along the second from low to high; each start is the centre
    of its pixel."""

    x0: tuple[float, ...]
    axes: tuple[int, ...]
    box: tuple[float, ...]  # (low, high) per axis, flattened: (xmin, xmax[, ymin, ymax])
    grid: int = DEFAULT_GRID

    def __post_init__(self) -> None:
        n = len(self.x0)
        if len(self.axes) not in (1, 2) or len(set(self.axes)) != len(self.axes) or not all(0 <= a < n for a in self.axes):
            raise OptionsError(f"choose one or two different coordinates of the {n} for the picture")
        if len(self.box) != 2 * len(self.axes):
            raise OptionsError(f"the box needs a low and a high value per axis ({2 * len(self.axes)} numbers)")
        if not all(math.isfinite(v) for v in (*self.box, *self.x0)):
            raise OptionsError("the box and the start point must be finite numbers")
        for axis in range(len(self.axes)):
            low, high = self.box[2 * axis], self.box[2 * axis + 1]
            if not high > low or not (high - low) > 1e-12 * max(1.0, abs(low), abs(high)):
                raise OptionsError(f"the box's range along the axis must have high > low (got {low:g} to {high:g})")
        if not GRID_RANGE[0] <= self.grid <= GRID_RANGE[1]:
            raise OptionsError(f"the grid must have {GRID_RANGE[0]} to {GRID_RANGE[1]} starts per side (got {self.grid})")

    @property
    def shape(self) -> tuple[int, ...]:
        """(grid,) on an interval, (grid, grid) = (rows, columns) on a plane."""
        return (self.grid,) * len(self.axes)

    @property
    def size(self) -> int:
        return self.grid ** len(self.axes)

    def centres(self, axis: int) -> np.ndarray:
        """The start coordinates along one of the view's axes (pixel centres)."""
        low, high = self.box[2 * axis], self.box[2 * axis + 1]
        return low + (np.arange(self.grid) + 0.5) * ((high - low) / self.grid)

    def starts(self) -> np.ndarray:
        """(size, n): every start, row-major (index r * grid + c)."""
        starts = np.tile(np.asarray(self.x0, dtype=float), (self.size, 1))
        if len(self.axes) == 1:
            starts[:, self.axes[0]] = self.centres(0)
        else:
            columns, rows = np.meshgrid(self.centres(0), self.centres(1))
            starts[:, self.axes[0]], starts[:, self.axes[1]] = columns.ravel(), rows.ravel()
        return starts

    @property
    def diagonal(self) -> float:
        return math.hypot(*(self.box[2 * a + 1] - self.box[2 * a] for a in range(len(self.axes))))

    def with_grid(self, grid: int) -> "View":
        return View(self.x0, self.axes, self.box, grid)


@dataclass(frozen=True)
class Cluster:
    """A stationary point some starts reached: where (the mean of its end points), its kind, and
    how many starts of each method reached it."""

    x: tuple[float, ...]
    kind: str
    counts: dict[str, int]


@dataclass(frozen=True, eq=False)
class MethodBasins:
    """One method's picture: a label per start (a cluster index >= 0, or outcome_label(...)) and
    the steps each start took. Small (6 bytes a start), so a page can keep it."""

    method: str
    labels: np.ndarray  # (size,) int16
    iterations: np.ndarray  # (size,) int32
    cpu_seconds: float

    @property
    def converged(self) -> np.ndarray:
        """The starts whose run converged (to a named point, another one, or a flat region)."""
        return (self.labels >= 0) | np.isin(self.labels, [outcome_label("other_point"), outcome_label("flat")])

    def summary(self, clusters: Sequence[Cluster]) -> dict[str, float]:
        """Shares of the starts by kind of point reached, and failed; iterations of the
        converged ones (median, 90th percentile); CPU seconds."""
        size = len(self.labels)
        kinds = np.array([c.kind for c in clusters] + [""])
        reached = self.labels >= 0
        kind_of = kinds[np.where(reached, self.labels, len(clusters))]
        out: dict[str, float] = {kind: float(np.sum(kind_of == kind)) / size for kind in KIND_ORDER}
        out["other stationary point"] = float(np.sum(self.labels == outcome_label("other_point"))) / size
        out["flat"] = float(np.sum(self.labels == outcome_label("flat"))) / size
        converged = self.converged
        out["failed"] = float(np.sum(~converged)) / size
        steps = self.iterations[converged]
        out["median iterations"] = float(np.median(steps)) if steps.size else math.nan
        out["p90 iterations"] = float(np.percentile(steps, 90)) if steps.size else math.nan
        out["seconds"] = self.cpu_seconds
        return out


@dataclass(frozen=True, eq=False)
class BasinMap:
    """Every method's labels over the same starts, and the clusters they share. ``ends`` holds
    each method's BatchEnds (x, f, g, status, counts of every start: ~200 bytes a start);
    :meth:`picture` drops them for keeping."""

    view: View
    methods: dict[str, MethodBasins]
    clusters: tuple[Cluster, ...]
    requested_grid: int
    notes: tuple[str, ...] = ()  # what the budget changed, in words
    ends: dict[str, BatchEnds] = field(default_factory=dict, repr=False)

    def picture(self) -> "BasinMap":
        return replace(self, ends={})


def cluster_points(points: np.ndarray, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
    """Group points (m, n): each group is the points within ``tolerance`` of its first point
    (leader clustering: one pass per group, a few groups). Returns (group per point, group centres
    as the mean of their points)."""
    group = np.full(len(points), -1)
    centres = []
    while True:
        left = np.flatnonzero(group < 0)
        if not left.size:
            break
        leader = points[left[0]]
        near = left[np.sqrt(np.sum((points[left] - leader) ** 2, axis=1)) <= tolerance]
        group[near] = len(centres)
        centres.append(points[near].mean(axis=0))
    return group, np.array(centres).reshape(-1, points.shape[1])


def label_ends(ends: dict[str, BatchEnds], tolerance: float) -> tuple[dict[str, np.ndarray], tuple[Cluster, ...]]:
    """Labels per method and the clusters they share: converged end points (not flat) of every
    method clustered together, the MAX_CLUSTERS reached by most starts named (ordered by kind, then
    by coordinates: the same f and box give the same order whatever the methods), the rest
    other_point."""
    methods = list(ends)
    points, kinds, owner, index = [], [], [], []
    for m, method in enumerate(methods):
        e = ends[method]
        rows = np.flatnonzero((e.status == "converged") & (e.stationary_point != "flat"))
        points.append(e.x[rows])
        kind = e.stationary_point[rows]
        kinds.append(np.where(np.equal(kind, None), "unclassified", kind))
        owner.append(np.full(rows.size, m))
        index.append(rows)
    n = next(iter(ends.values())).x.shape[1]
    points_all = np.concatenate(points) if points else np.zeros((0, n))
    owner_all, index_all, kinds_all = np.concatenate(owner), np.concatenate(index), np.concatenate(kinds)
    group, centres = cluster_points(points_all, tolerance)
    totals = np.bincount(group, minlength=len(centres))
    most = np.argsort(-totals, kind="stable")[:MAX_CLUSTERS].tolist()
    kind_of = {c: _majority(kinds_all[group == c]) for c in most}
    named = sorted(most, key=lambda c: (KIND_ORDER.index(kind_of[c]), tuple(np.round(centres[c], 12))))
    rename = np.full(len(centres), outcome_label("other_point"))
    rename[named] = np.arange(len(named))
    labels = {}
    for m, method in enumerate(methods):
        e = ends[method]
        statuses, which = np.unique(e.status, return_inverse=True)  # a label per status, not per start
        out = np.array([outcome_label(_failure(str(s))) for s in statuses], dtype=int)[which]
        mine = owner_all == m
        out[index_all[mine]] = rename[group[mine]]
        labels[method] = out
    clusters = tuple(Cluster(tuple(float(v) for v in centres[c]), kind_of[c],
                             {method: int(np.sum((group == c) & (owner_all == m))) for m, method in enumerate(methods)})
                     for c in named)
    return labels, clusters


def _failure(status: str) -> str:
    """The outcome of a start that reached no named point, before clustering: a converged start
    is only 'flat' here (clustering overwrites the others)."""
    return "flat" if status == "converged" else status


def _majority(kinds: np.ndarray) -> str:
    values, counts = np.unique(kinds.astype(str), return_counts=True)
    return str(values[np.argmax(counts)])


def method_share(left: float, estimates: Sequence[float]) -> float:
    """CPU seconds for the next method, of ``left``, given the estimated costs of it and of the
    methods after it. When they all fit, it may use all that the later ones are not estimated to
    need (the slack goes to whoever runs first, so one low estimate does not stop a method while
    budget is to spare). When they do not, the budget is shared max-min fairly: every method whose
    estimate is below the common level gets all it needs, the others that level (so a cheap
    method is never starved by a costly one beside it)."""
    if sum(estimates) <= left:
        return left - sum(estimates[1:])
    level, remaining, pending = 0.0, left, sorted(estimates)
    while pending:
        level = remaining / len(pending)
        if pending[0] > level:
            break
        remaining -= pending.pop(0)
    return min(estimates[0], level) if pending else estimates[0]


def compute_basins(problem: Problem, view: View, methods: Sequence[str], options: Options | None = None, *,
                   cpu_budget_s: float | None = None, wall_factor: float = 4.0,
                   should_stop: Callable[[], bool] | None = None) -> BasinMap:
    """Run every method from every start of ``view`` and label each start (module docstring).

    With ``cpu_budget_s`` (CPU seconds of the calling thread for all methods together), two trial
    runs from PILOT_STARTS starts first estimate what the grid costs; a grid that would not fit is made
    coarser (the largest that fits, said in ``notes``), and each method stops at its share of the
    budget (starts still running end ``time_limit``, drawn as such)."""
    options = options or Options()
    if len(view.x0) != problem.n:
        raise OptionsError(f"the start point has {len(view.x0)} coordinates but f has {problem.n} variables")
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise OptionsError("choose at least one method")
    requested, notes = view.grid, []
    cpu_start = time.thread_time()
    if cpu_budget_s is not None:
        # A batch costs about a + b B per step (a: the loop's own numpy calls, b: each start's
        # arithmetic); two trial batches of different sizes give both, then the grid's cost.
        all_starts = view.starts()
        fixed = per_start = 0.0
        cost = {}  # per method: (fixed, per start) seconds
        for method in methods:
            seconds, finished = [], []
            for count in PILOT_STARTS:
                pilot = all_starts[np.linspace(0, view.size - 1, min(count, view.size)).astype(int)]
                least = math.inf
                # the smaller pilot twice, the least counting: a method's first batch in this process
                # pays for warming its code (seen: 16 starts 5 ms, then 256 starts 4 ms), which
                # would read as a fixed cost and leave too little per start for the grid
                for _ in range(2 if count == PILOT_STARTS[0] else 1):
                    started = time.thread_time()
                    trial = run_ends(problem, pilot, method, options, deadline=started + cpu_budget_s / (8 * len(methods)),
                                     should_stop=should_stop)
                    least = min(least, time.thread_time() - started)
                    if np.any(trial.status == "time_limit"):  # cut short: a second run would tell nothing new
                        break
                seconds.append(least)
                finished.append(int(np.sum(trial.status != "time_limit")))
                if finished[-1] < len(pilot):  # cut short: a slow method, run start by start (cost ~ B)
                    break
            if finished[0] < min(PILOT_STARTS[0], view.size):  # the time per start that finished (a rough upper bound)
                cost[method] = (0.0, seconds[0] / max(finished[0], 1))
            elif len(seconds) == 1 or finished[1] < min(PILOT_STARTS[1], view.size):
                cost[method] = (0.0, seconds[0] / min(PILOT_STARTS[0], view.size))
            else:
                slope = max((seconds[1] - seconds[0]) / (PILOT_STARTS[1] - PILOT_STARTS[0]), seconds[1] / (8 * PILOT_STARTS[1]))
                cost[method] = (max(seconds[0] - slope * PILOT_STARTS[0], 0.0), slope)
            fixed, per_start = fixed + cost[method][0], per_start + cost[method][1]
        left = cpu_budget_s - (time.thread_time() - cpu_start)
        affordable = (max(BUDGET_USE * left - fixed, 0.0) / max(per_start, 1e-12)) ** (1 / len(view.axes))
        if affordable < view.grid:
            grid = max(GRID_RANGE[0], int(affordable))
            notes.append(f"a {view.grid}{'×' + str(view.grid) if len(view.axes) == 2 else ''} grid would need about "
                         f"{fixed + per_start * view.size:.2g} CPU-s, more than the {BUDGET_USE * left:.2g} s this "
                         f"picture may use (budget {cpu_budget_s:g} CPU-s for all methods, less the cost estimate): "
                         f"drawn at {grid}{'×' + str(grid) if len(view.axes) == 2 else ''} instead")
            view = view.with_grid(grid)
    ends, seconds = {}, {}
    for i, method in enumerate(methods):
        started = time.thread_time()
        deadline = wall_deadline = None
        if cpu_budget_s is not None:  # what is left, shared in proportion to the estimated costs
            estimates = [cost[m][0] + cost[m][1] * view.size for m in methods[i:]]
            # never past the budget: the trial runs came out of it, and a method that gets nothing
            # left ends its starts time_limit
            share = method_share(max(cpu_budget_s - (started - cpu_start), 0.0), estimates)
            deadline, wall_deadline = started + share, fairshare.wall_clock() + wall_factor * share
        ends[method] = run_ends(problem, view.starts(), method, options, deadline=deadline,
                                wall_deadline=wall_deadline, should_stop=should_stop)
        seconds[method] = time.thread_time() - started
        stopped = int(np.sum(ends[method].status == "time_limit"))
        if stopped:
            notes.append(f"{method}: {stopped:,} starts were still running when its share of the budget ran out "
                         "(drawn as 'stopped by the time budget')")
    labels, clusters = label_ends(ends, CLUSTER_TOLERANCE * view.diagonal)
    methods_basins = {m: MethodBasins(m, labels[m].astype(np.int16), ends[m].iterations.astype(np.int32), seconds[m])
                      for m in methods}
    return BasinMap(view, methods_basins, clusters, requested, tuple(notes), ends)
