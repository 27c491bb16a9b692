"""Traces -> pandas frames: the tidy tables every chart and table on the pages reads."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from core import Trace, best_value

# Display names of the trace's columns (the values are the trace's own, unformatted).
COLUMN_LABELS = {
    "f": "f(x_k)", "grad_norm": "‖g_k‖", "step_size": "η_k", "dx_norm": "‖Δx_k‖",
    "angle_deg": "∠(Δx, −g) °", "decision": "decision",
}


def iteration_table(trace: Trace) -> pd.DataFrame:
    """One row per iterate k, columns straight from Trace.columns() (values untouched)."""
    frame = pd.DataFrame(trace.columns())
    if not any(trace.decision):
        frame = frame.drop(columns="decision")
    return frame


def long_iterates(traces: Mapping[str, Trace]) -> pd.DataFrame:
    """method, k, x_0..x_{n-1}, f, grad_norm, step_size: all methods stacked (for charts)."""
    frames = []
    for method, trace in traces.items():
        frame = pd.DataFrame(trace.x, columns=[f"x{j}" for j in range(trace.x.shape[1])])
        frame.insert(0, "k", np.arange(len(trace.f)))
        frame.insert(0, "method", method)
        frame["f"] = trace.f
        frame["grad_norm"] = trace.grad_norm
        frame["step_size"] = trace.step_size
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def convergence_frame(traces: Mapping[str, Trace]) -> pd.DataFrame:
    """Long form (method, k, quantity, value) of f(x_k) - f_best and ||g_k||, positive values
    only: a zero or a nan would collapse a log axis, so those points are simply not drawn."""
    f_best = best_value(list(traces.values()))
    iterates = long_iterates(traces)
    gap = iterates[["method", "k"]].assign(quantity="f(x_k) − f_best", value=iterates["f"] - f_best)
    grad = iterates[["method", "k"]].assign(quantity="‖g_k‖", value=iterates["grad_norm"])
    frame = pd.concat([gap, grad], ignore_index=True)
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

