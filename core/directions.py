"""Direction rules: where a step goes, for a batch of starts at once.

Each rule is data plus pure functions (core.blocks): ``init(n, B)`` gives its state (arrays with
one row per start), ``propose(at, state, work)`` returns the direction for the active starts,
its typed fields and its new state. Nothing is kept in attributes between steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blocks import EPS, Batch, Field, Proposal, Rule, State, Stops, Work
from .linalg import MAX_CONDITION, SINGULAR_TO_ROUNDING
from .options import Options


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise a'b of two (b, n) arrays."""
    return np.einsum("ij,ij->i", a, b)


def _matvec(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Row-wise M v for (b, n, n) and (b, n)."""
    return np.matmul(matrices, vectors[..., None])[..., 0]


def newton_solve(hessian: np.ndarray, g: np.ndarray, work: Work, local: np.ndarray) -> tuple[np.ndarray, Stops]:
    """d solving H d = -g for each row (never an inverse); rows whose H is singular or
    numerically so (condition number beyond MAX_CONDITION) get nan and a stop."""
    size, n = g.shape
    direction = np.full((size, n), np.nan)
    with np.errstate(all="ignore"):
        # H is symmetric: its singular values are |eigenvalues| (eigvalsh: ~3x cheaper than an SVD)
        magnitudes = np.abs(np.linalg.eigvalsh(hessian))
        largest, least = magnitudes.max(axis=1), magnitudes.min(axis=1)
        condition = largest / least
    solvable = condition <= MAX_CONDITION
    if solvable.any():
        direction[solvable] = np.linalg.solve(hessian[solvable], -g[solvable][..., None])[..., 0]
    work.solved(local)
    stops: Stops = {}
    for i in np.flatnonzero(~(solvable & np.isfinite(direction).all(axis=1))):
        # singular to rounding: an exactly singular H (e.g. of (x + y)^2) comes out of the
        # decomposition with its least singular value 0 or a few eps of the largest, as rounding falls
        if not least[i] > SINGULAR_TO_ROUNDING * n * EPS * largest[i]:
            stops[int(i)] = ("singular_hessian", f"the Hessian is singular here, to rounding (its least singular value "
                                                 f"is below {SINGULAR_TO_ROUNDING}n eps times its largest): H d = -g has "
                                                 "no unique solution")
        elif solvable[i]:  # H is fine; the step itself is beyond floating point (huge g, tiny H)
            stops[int(i)] = ("diverged", "the Newton step H⁻¹g overflowed (is not finite): g is too large for H here")
        else:
            stops[int(i)] = ("singular_hessian", f"the Hessian is numerically singular here (condition number "
                                                 f"{condition[i]:.2e} > {MAX_CONDITION:.0e})")
    return direction, stops


class SteepestDescent(Rule):
    """d = -g."""

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        return Proposal(-at.g, {}, {}, state)


class NewtonDirection(Rule):
    """d solves H d = -g."""

    needs_hessian = True
    work_power = 3

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        direction, stops = newton_solve(at.hessian, at.g, work, np.arange(at.size))
        return Proposal(direction, {}, stops, state)


class SaddleFreeNewton(Rule):
    """The Newton direction where H is positive definite (and solvable); elsewhere
    -|H|^-1 g, H's eigenvalues replaced by their absolute values (floored at 1e-8 max|lambda|)."""

    needs_hessian = True
    work_power = 3
    NEWTON, NOT_DEFINITE, ILL_CONDITIONED = 0, 1, 2
    fields = {"direction_kind": Field(int, "which direction was taken",
                                      ("Newton direction", "fallback |H|: H not positive definite",
                                       "fallback |H|: H ill-conditioned")),
              "min_eigenvalue": Field(float, "smallest eigenvalue of H"),
              "condition": Field(float, "condition number of H (when it made Newton's solve refuse)")}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        eigenvalues, vectors = np.linalg.eigh(at.hessian)
        local = np.arange(at.size)
        work.solved(local)
        lowest = eigenvalues[:, 0]
        kind = np.where(lowest > 0, self.NEWTON, self.NOT_DEFINITE)
        direction = np.full_like(at.g, np.nan)
        condition = np.full(at.size, np.nan)
        definite = np.flatnonzero(lowest > 0)
        if definite.size:
            newton, refused = newton_solve(at.hessian[definite], at.g[definite], work, definite)
            direction[definite] = newton
            for i in refused:
                row = definite[i]
                kind[row] = self.ILL_CONDITIONED
                magnitudes = np.abs(eigenvalues[row])
                condition[row] = magnitudes.max() / magnitudes.min()
        fallback = np.flatnonzero(kind != self.NEWTON)
        if fallback.size:
            magnitudes = np.abs(eigenvalues[fallback])
            floor = 1e-8 * np.maximum(1.0, magnitudes.max(axis=1))
            q, g = vectors[fallback], at.g[fallback]
            coefficients = np.einsum("bji,bj->bi", q, g) / np.maximum(magnitudes, floor[:, None])
            direction[fallback] = -np.einsum("bij,bj->bi", q, coefficients)
        info = {"direction_kind": kind, "min_eigenvalue": lowest, "condition": condition}
        return Proposal(direction, info, {}, state)

    def describe(self, info: dict[str, Any]) -> str:
        kind = info["direction_kind"]
        if kind == self.NEWTON:
            return "Newton direction"
        if kind == self.NOT_DEFINITE:
            return f"fallback |H| (H not positive definite, min eigenvalue {info['min_eigenvalue']:.3g})"
        return f"fallback |H| (H ill-conditioned, κ = {info['condition']:.2g} > {MAX_CONDITION:.0e})"


class HeavyBall(Rule):
    """Momentum: v_{k+1} = beta v_k - g_k, d = v_{k+1} (the step size multiplies it)."""

    memoryless = False  # the velocity keeps growing while x stands still
    options = ("beta",)
    beyond_gd_factors = ("momentum adds β(x_k − x_{k−1}) to each step, so its own factor per eigenvalue is the "
                         "spectral radius of a 2×2 iteration (the Theory page gives it)")

    def init(self, n: int, size: int, options: Options) -> State:
        return {"velocity": np.zeros((size, n))}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        velocity = work.option("beta") * state["velocity"] - at.g
        return Proposal(velocity.copy(), {}, {}, {"velocity": velocity})


class Nesterov(Rule):
    """Nesterov's accelerated gradient in the look-ahead form (one gradient per step):
    v_{k+1} = beta v_k - g_k, d = beta v_{k+1} - g_k; the iterates are the look-ahead points."""

    memoryless = False
    beyond_gd_factors = ("Nesterov adds β(x_k − x_{k−1}) and takes g where that velocity leads, so its own factor "
                         "per eigenvalue is the spectral radius of a 2×2 iteration (the Theory page gives it)")
    options = ("beta",)

    def init(self, n: int, size: int, options: Options) -> State:
        return {"velocity": np.zeros((size, n))}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        beta = work.option("beta")
        velocity = beta * state["velocity"] - at.g
        return Proposal(beta * velocity - at.g, {}, {}, {"velocity": velocity})


class AdamDirection(Rule):
    """Adam: running means m of g and v of g^2 (bias-corrected), d = -m^ / (sqrt(v^) + eps)."""

    memoryless = False
    beyond_gd_factors = ("Adam divides each coordinate of its step by the running √v̂ of g², so its steps do not "
                         "follow these factors: they show what η alone would do")
    options = ("beta1", "beta2", "eps")

    def init(self, n: int, size: int, options: Options) -> State:
        return {"mean": np.zeros((size, n)), "square": np.zeros((size, n)), "count": np.zeros(size, dtype=np.int64)}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        beta1, beta2 = work.option("beta1"), work.option("beta2")
        count = state["count"] + 1
        mean = beta1 * state["mean"] + (1 - beta1) * at.g
        square = beta2 * state["square"] + (1 - beta2) * at.g * at.g
        mean_hat = mean / (1 - beta1 ** count)[:, None]
        square_hat = square / (1 - beta2 ** count)[:, None]
        direction = -mean_hat / (np.sqrt(square_hat) + work.option("eps"))
        return Proposal(direction, {}, {}, {"mean": mean, "square": square, "count": count})


class _Memory(Rule):
    """What quasi-Newton and conjugate-gradient rules remember: the previous x and g."""

    memoryless = False

    def init(self, n: int, size: int, options: Options) -> State:
        return {"previous_x": np.zeros((size, n)), "previous_g": np.zeros((size, n)),
                "has_previous": np.zeros(size, dtype=bool)}

    @staticmethod
    def remember(state: State, at: Batch, **more: np.ndarray) -> State:
        return {**state, "previous_x": at.x.copy(), "previous_g": at.g.copy(),
                "has_previous": np.ones(at.size, dtype=bool), **more}


class InverseBFGS(_Memory):
    """d = -B_k g_k, B_k the BFGS estimate of H^-1 (scaled I at first, Nocedal & Wright 6.20)."""

    work_power = 2  # B is a dense n x n matrix: B g and its update are n^2
    INITIAL, UPDATED, SKIPPED, RESET = 0, 1, 2, 3
    fields = {"update": Field(int, "what happened to the estimate B",
                              ("initial B = I", "B updated", "update skipped (s'y <= 0)", "reset B = I"))}

    def init(self, n: int, size: int, options: Options) -> State:
        return {**super().init(n, size, options), "inverse": np.zeros((size, n, n)), "has_inverse": np.zeros(size, dtype=bool)}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        size, n = at.g.shape
        inverse, has_inverse = state["inverse"].copy(), state["has_inverse"].copy()
        update = np.full(size, self.INITIAL)
        s, y = at.x - state["previous_x"], at.g - state["previous_g"]
        sy = _dot(s, y)
        curvature_ok = state["has_previous"] & (sy > 1e-12 * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1))
        update[state["has_previous"]] = self.SKIPPED
        rows = np.flatnonzero(curvature_ok)
        if rows.size:
            s, y, sy = s[rows], y[rows], sy[rows]
            first = ~has_inverse[rows]
            identity = np.broadcast_to(np.eye(n), (rows.size, n, n))
            current = np.where(first[:, None, None], identity * (sy / _dot(y, y))[:, None, None], inverse[rows])
            rho = 1.0 / sy
            left = identity - rho[:, None, None] * np.einsum("bi,bj->bij", s, y)
            inverse[rows] = left @ current @ np.swapaxes(left, 1, 2) + rho[:, None, None] * np.einsum("bi,bj->bij", s, s)
            has_inverse[rows] = True
            update[rows] = self.UPDATED
        estimate = np.where(has_inverse[:, None, None], inverse, np.broadcast_to(np.eye(n), (size, n, n)))
        direction = -_matvec(estimate, at.g)
        broken = ~(_dot(at.g, direction) < 0)  # rounding broke positive definiteness
        if broken.any():
            has_inverse[broken] = False
            direction[broken] = -at.g[broken]
            update[broken] = self.RESET
        new_state = self.remember(state, at, inverse=inverse, has_inverse=has_inverse)
        return Proposal(direction, {"update": update}, {}, new_state)

    def describe(self, info: dict[str, Any]) -> str:
        return self.fields["update"].labels[info["update"]]


class LimitedMemoryBFGS(_Memory):
    """d = -B_k g_k by the two-loop recursion over the last m pairs (s, y), B_0 = (s'y / y'y) I."""

    options = ("memory",)
    fields = {"pairs": Field(int, "pairs (s, y) in memory"),
              "update": Field(int, "what happened to the memory", ("start", "pair stored", "pair skipped (s'y <= 0)",
                                                                   "memory cleared"))}

    def init(self, n: int, size: int, options: Options) -> State:
        m = options.memory
        return {**super().init(n, size, options), "s": np.zeros((size, m, n)), "y": np.zeros((size, m, n)),
                "rho": np.zeros((size, m)), "pairs": np.zeros(size, dtype=np.int64)}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        size, n = at.g.shape
        m = state["s"].shape[1]
        S, Y, rho, pairs = state["s"].copy(), state["y"].copy(), state["rho"].copy(), state["pairs"].copy()
        update = np.zeros(size, dtype=np.int64)
        s, y = at.x - state["previous_x"], at.g - state["previous_g"]
        sy = _dot(s, y)
        ok = state["has_previous"] & (sy > 1e-12 * np.linalg.norm(s, axis=1) * np.linalg.norm(y, axis=1))
        update[state["has_previous"]] = 2
        rows = np.flatnonzero(ok)
        if rows.size:  # newest pair last
            S[rows, :-1], Y[rows, :-1], rho[rows, :-1] = S[rows, 1:], Y[rows, 1:], rho[rows, 1:]
            S[rows, -1], Y[rows, -1], rho[rows, -1] = s[rows], y[rows], 1.0 / sy[rows]
            pairs[rows] = np.minimum(pairs[rows] + 1, m)
            update[rows] = 1
        valid = np.arange(m)[None, :] >= (m - pairs)[:, None]  # (b, m)
        q = at.g.copy()
        alpha = np.zeros((size, m))
        for i in range(m - 1, -1, -1):
            alpha[:, i] = np.where(valid[:, i], rho[:, i] * _dot(S[:, i], q), 0.0)
            q -= alpha[:, i, None] * Y[:, i]
        newest_y = Y[:, -1]
        with np.errstate(all="ignore"):
            gamma = np.where(pairs > 0, _dot(S[:, -1], newest_y) / _dot(newest_y, newest_y), 1.0)
        r = gamma[:, None] * q
        for i in range(m):
            beta = np.where(valid[:, i], rho[:, i] * _dot(Y[:, i], r), 0.0)
            r += S[:, i] * (alpha[:, i] - beta)[:, None]
        direction = -r
        broken = ~(_dot(at.g, direction) < 0)
        if broken.any():
            pairs[broken] = 0
            direction[broken] = -at.g[broken]
            update[broken] = 3
        new_state = self.remember(state, at, s=S, y=Y, rho=rho, pairs=pairs)
        return Proposal(direction, {"pairs": pairs.copy(), "update": update}, {}, new_state)

    def describe(self, info: dict[str, Any]) -> str:
        return f"{self.fields['update'].labels[info['update']]}, {info['pairs']} in memory"


class ConjugateGradient(_Memory):
    """Nonlinear conjugate gradient, Polak-Ribiere+: d = -g + beta d_prev,
    beta = max(0, g'(g - g_prev) / g_prev'g_prev); restarted (d = -g) every n steps and whenever
    d is not a descent direction."""

    fields = {"beta": Field(float, "conjugacy coefficient β (0 at a restart)"),
              "restart": Field(bool, "d = -g this step")}

    def init(self, n: int, size: int, options: Options) -> State:
        return {**super().init(n, size, options), "previous_d": np.zeros((size, n)), "since_restart": np.zeros(size, dtype=np.int64)}

    def propose(self, at: Batch, state: State, work: Work) -> Proposal:
        size, n = at.g.shape
        previous_g = state["previous_g"]
        with np.errstate(all="ignore"):
            beta = np.maximum(0.0, _dot(at.g, at.g - previous_g) / _dot(previous_g, previous_g))
        restart = ~state["has_previous"] | (state["since_restart"] >= n) | ~np.isfinite(beta)
        beta = np.where(restart, 0.0, beta)
        direction = -at.g + beta[:, None] * state["previous_d"]
        uphill = ~(_dot(at.g, direction) < 0)
        restart |= uphill
        beta = np.where(uphill, 0.0, beta)
        direction[uphill] = -at.g[uphill]
        since = np.where(restart, 1, state["since_restart"] + 1)
        new_state = self.remember(state, at, previous_d=direction.copy(), since_restart=since)
        return Proposal(direction, {"beta": beta, "restart": restart}, {}, new_state)

    def describe(self, info: dict[str, Any]) -> str:
        return "restart: d = -g" if info["restart"] else f"β = {info['beta']:.3g}"


def model_curvature(g: np.ndarray, hessian: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d'Hd per row, and the rounding allowance below which it is zero: d'Hd is computed with an
    error of about n eps ||d||^2 ||H|| (sqrt(x^2+y^2) from (1, 1): exactly 0, computed as 5e-35)."""
    curvature = _dot(direction, _matvec(hessian, direction))
    allowance = 8 * g.shape[1] * EPS * _dot(direction, direction) * np.linalg.norm(hessian, axis=(1, 2))
    return curvature, allowance
