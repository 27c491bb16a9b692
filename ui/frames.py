"""Traces -> pandas frames: the tidy tables every chart and table on the pages reads."""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from core import Trace, best_value

from .budget import CHART_POINTS, PLAYING_TABLE_ROWS, ROWS_ABOVE_K, TABLE_IN_VIEW, TABLE_ROWS

# Display names of the trace's columns (the values are the trace's own, unformatted).
COLUMN_LABELS = {
    "f": "f(x_k)", "grad_norm": "‖g_k‖", "step_size": "η_k", "dx_norm": "‖Δx_k‖",
    "angle_deg": "∠(Δx, −g) °", "decision": "decision",
}


def table_window(count: int, k: int, rows: int = TABLE_ROWS, before: int = ROWS_ABOVE_K) -> slice:
    """The rows of a ``count``-row table to send, with row k in view (a table shows its first
    TABLE_IN_VIEW rows without scrolling): all of them when they fit in ``rows`` and row k is among
    the first in view; else up to ``rows`` consecutive ones starting ``before`` rows above row k
    (fewer at the end of the table), so the table follows the iteration slider."""
    if count <= rows and k < TABLE_IN_VIEW:
        return slice(0, count)
    start = max(min(k, count - 1) - before, 0)
    return slice(start, min(start + rows, count))


def playing_window(count: int, k: int) -> slice:
    """The table's rows while k plays: a few, row k second from the top."""
    return table_window(count, k, PLAYING_TABLE_ROWS, before=1)


def iteration_table(trace: Trace, rows: slice = slice(None)) -> pd.DataFrame:
    """One row per iterate k (only ``rows`` of them), columns straight from Trace.columns()
    (values untouched)."""
    frame = pd.DataFrame({name: values[rows] for name, values in trace.columns().items()})
    if not any(trace.decision):
        frame = frame.drop(columns="decision")
    return frame


def csv_bytes(trace: Trace) -> bytes:
    """The whole iteration table as CSV (made when someone asks for it: it can be megabytes)."""
    return iteration_table(trace).to_csv(index=False).encode()


def thinned(count: int, limit: int = CHART_POINTS, keep: Iterable[int] = (),
            values: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    """Which of ``count`` iterates a chart draws, and the stride m (1 = all of them).

    Beyond ``limit``: every m-th *pair* of consecutive iterates (a pair, so a zig-zag still shows
    as one: every m-th point alone would put all of them on one side), the first and last, the
    ``keep`` indices (the selected k), and the turning points of ``values`` (where f stops
    falling or rising; at most a quarter of the budget, evenly chosen when there are more).
    """
    if count <= limit:
        return np.arange(count), 1
    stride = math.ceil(2 * count / (0.75 * limit))
    starts = np.arange(0, count, stride)
    chosen = [starts, starts + 1, np.array([0, count - 1])]
    chosen.append(np.array([k for k in keep if 0 <= k < count], dtype=int))
    if values is not None and len(values) == count:
        with np.errstate(invalid="ignore"):
            slope = np.sign(np.diff(values))
        turning = np.flatnonzero(slope[1:] * slope[:-1] < 0) + 1
        quota = max(limit // 4, 1)
        if turning.size > quota:
            turning = turning[np.linspace(0, turning.size - 1, quota).astype(int)]
        chosen.append(turning)
    rows = np.unique(np.concatenate(chosen))
    return rows[rows < count], stride


def ordinal(n: int) -> str:
    """2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def thinning_note(traces: Mapping[str, Trace], limit: int = CHART_POINTS) -> str | None:
    """One sentence saying which charts' runs were thinned, or None when every iterate is drawn."""
    strides = {m: thinned(len(t.f), limit)[1] for m, t in traces.items()}
    thin = {m: s for m, s in strides.items() if s > 1}
    if not thin:
        return None
    which = ", ".join(f"{m}: every {ordinal(s)} pair" for m, s in thin.items())
    return (f"Long runs are thinned in the charts ({which} of iterates drawn, plus the first, the last, "
            "the selected k and the turning points of f); the tables and the CSV hold every iterate.")


def long_iterates(traces: Mapping[str, Trace], limit: int = CHART_POINTS) -> pd.DataFrame:
    """method, k, x_0..x_{n-1}, f, grad_norm, step_size: all methods stacked (for charts), each
    thinned to about ``limit`` iterates (:func:`thinned`; x_k itself is drawn from the trace)."""
    frames = []
    for method, trace in traces.items():
        rows, _ = thinned(len(trace.f), limit, values=trace.f)
        frame = pd.DataFrame(trace.x[rows], columns=[f"x{j}" for j in range(trace.x.shape[1])])
        frame.insert(0, "k", rows)
        frame.insert(0, "method", method)
        frame["f"] = trace.f[rows]
        frame["grad_norm"] = trace.grad_norm[rows]
        frame["step_size"] = trace.step_size[rows]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


CONVERGENCE_QUANTITIES = ("f(x_k) − f_best", "‖g_k‖")  # what the convergence charts plot against k


def convergence_frame(traces: Mapping[str, Trace], quantity: str) -> pd.DataFrame:
    """Long form (method, k, quantity, value) of one convergence quantity, f(x_k) - f_best or
    ||g_k|| (CONVERGENCE_QUANTITIES), positive values only: a zero or a nan would
    collapse a log axis, so those points are simply not drawn."""
    iterates = long_iterates(traces)
    gap, grad_norm = CONVERGENCE_QUANTITIES
    if quantity == gap:
        values = iterates["f"] - best_value(list(traces.values()))
    elif quantity == grad_norm:
        values = iterates["grad_norm"]
    else:
        raise ValueError(f"unknown convergence quantity {quantity!r}; known: {', '.join(CONVERGENCE_QUANTITIES)}")
    frame = iterates[["method", "k"]].assign(quantity=quantity, value=values)
    keep = np.isfinite(frame["value"]) & (frame["value"] > 0)
    return frame[keep].reset_index(drop=True)


def exact_zeros(traces: Mapping[str, Trace]) -> list[str]:
    """Sentences naming where f(x_k) - f_best or ||g_k|| is exactly 0: a log axis cannot draw
    those points, so the page says it in words."""
    f_best = best_value(list(traces.values()))
    notes = []
    for method, trace in traces.items():
        for label, values in (("f(x_k) − f_best", trace.f - f_best), ("‖g_k‖", trace.grad_norm)):
            zero = np.flatnonzero(values == 0)
            if zero.size:
                notes.append(f"{method}: {label} = 0 exactly from k = {zero[0]}")
    return notes

