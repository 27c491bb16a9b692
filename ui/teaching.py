"""View pieces shared by the teaching pages: sweep and ratio charts, and the short derivations
(second-order model, Newton vs optimal rate, per-direction factors) filled in with the user's own
numbers. The numbers themselves come from core (quadratic, sweep, theory, one_d); nothing here iterates.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core import METHODS, EvaluationError, Problem, Trace
from core.growth import (EXTRAPOLATED_SIZES, GROWTH_SIZES, MEMORY_BYTES, GrowthModel, GrowthPoint,
                         largest_practical_n)
from core.one_d import StepComparison, compare_steps, second_derivatives
from core.predictions import Prediction
from core.sweep import OUTCOMES, RateMark, Sweep
from core.linalg import LinAlgError
from core.theory import ObservedRates, distances_to_limit

from .charts import LEGEND, method_color_scale
from .frames import thinned
from .latex import matrix_latex, number_latex, vector_latex
from .text import md_escape

OUTCOME_COLORS = {"converged": "#2ca02c", "crawl": "#ff7f0e", "oscillating": "#9467bd",
                  "diverged": "#d62728", "failed": "#7f7f7f", "unfinished": "#bcbd22",
                  "stalled": "#8c564b"}
PICK = "pick_run"
MARK_GREY = "#888888"  # the marked rates, their labels and the picked run's ring: readable on light and dark themes


def _outcome_color() -> alt.Color:
    return alt.Color("outcome_label:N", title="outcome",
                     scale=alt.Scale(domain=[OUTCOMES[o] for o in OUTCOME_COLORS],
                                     range=list(OUTCOME_COLORS.values())),
                     # one to a row, whole labels: fits a phone ("stopped by the time budget" was cut
                     # at 160 px, and five to a row ran off the chart)
                     legend=alt.Legend(orient="bottom", columns=1, labelLimit=320))


# --------------------------------------------------------------------------------------------
# Learning-rate sweep
# --------------------------------------------------------------------------------------------

def sweep_frame(sweep: Sweep) -> pd.DataFrame:
    """One row per learning rate: what the chart and the table show."""
    frame = pd.DataFrame(sweep.rows())
    frame.insert(0, "run", np.arange(len(frame)))
    frame["outcome_label"] = frame["outcome"].map(OUTCOMES)
    frame["converged_in"] = frame["converged_in"].astype("Float64")
    frame["steps_shown"] = np.where(frame["outcome"] == "converged", frame["steps"], sweep.options.max_iter)
    frame["pattern"] = np.where(frame["oscillates"], "steps reverse (zig-zag)", "steps keep direction")
    return frame


def sweep_chart(frame: pd.DataFrame, marks: Sequence[RateMark], quantity: str, tol: float, max_iter: int,
                selected_run: int) -> alt.Chart:
    """Iterations to tolerance (or final ||g||) against eta on a log axis, coloured by outcome;
    the marked rates as labelled vertical rules; the selected run ringed. Click picks a run."""
    eta_scale = alt.Scale(type="log", domain=[float(frame["eta"].min()), float(frame["eta"].max())], nice=False)
    x = alt.X("eta:Q", scale=eta_scale, title="learning rate η (log scale)", axis=alt.Axis(format=".2~g"))
    if quantity == "iterations":
        y = alt.Y("steps_shown:Q", title="iterations to ‖g‖ ≤ tol",
                  scale=alt.Scale(domain=[0, max_iter * 1.2], nice=False))
        reference = pd.DataFrame({"value": [max_iter], "text": [f"max_iter = {max_iter}"]})
    else:
        y = alt.Y("final_grad_norm:Q", scale=alt.Scale(type="log"), title="‖g‖ at the last iterate (log)")
        reference = pd.DataFrame({"value": [tol], "text": [f"tol = {tol:g}"]})
    frame = frame[np.isfinite(frame["final_grad_norm"]) & (frame["final_grad_norm"] > 0)] \
        if quantity != "iterations" else frame
    pick = alt.selection_point(fields=["run"], name=PICK, on="click", clear=False)
    tooltip = [alt.Tooltip("eta:Q", format=".4g", title="η"), alt.Tooltip("outcome_label:N", title="outcome"),
               alt.Tooltip("steps:Q", title="steps run"), alt.Tooltip("final_grad_norm:Q", format=".3e", title="final ‖g‖"),
               alt.Tooltip("pattern:N", title="steps"), alt.Tooltip("reason:N", title="decided by")]
    line = alt.Chart(frame).mark_line(color="#bbbbbb", strokeWidth=1).encode(x=x, y=y, order="eta:Q")
    points = alt.Chart(frame).mark_point(size=90, filled=True, opacity=0.9).encode(
        x=x, y=y, color=_outcome_color(),
        shape=alt.Shape("pattern:N", title="", scale=alt.Scale(
            domain=["steps keep direction", "steps reverse (zig-zag)"], range=["circle", "triangle-up"]),
            legend=None),  # the caption under the chart says what ▲ means (a second legend ran off a phone's chart)
        tooltip=tooltip).add_params(pick)
    ring = alt.Chart(frame[frame["run"] == selected_run]).mark_point(
        size=420, shape="circle", filled=False, stroke=MARK_GREY, strokeWidth=2.5).encode(x=x, y=y)
    layers = [line, points, ring]
    if len(reference):
        layers.append(alt.Chart(reference).mark_rule(strokeDash=[2, 3], color="#999999").encode(y=alt.Y("value:Q")))
    shown = [m for m in marks if frame["eta"].min() <= m.eta <= frame["eta"].max()]
    if shown:
        rules = pd.DataFrame({"eta": [m.eta for m in shown], "label": [f"{m.label} = {m.eta:.4g}" for m in shown],
                              "note": [m.note for m in shown], "row": np.arange(len(shown))})
        layers.append(alt.Chart(rules).mark_rule(strokeDash=[6, 4], color=MARK_GREY, strokeWidth=1.2).encode(
            x=alt.X("eta:Q", scale=eta_scale), tooltip=["label", "note"]))
        span = math.log(frame["eta"].max() / frame["eta"].min()) or 1.0
        for row, mark in enumerate(shown):  # one text layer per mark: staggered so labels never overlap
            right = math.log(mark.eta / frame["eta"].min()) / span > 0.7  # near the right edge: label to the left
            layers.append(alt.Chart(rules.iloc[[row]]).mark_text(
                align="right" if right else "left", baseline="top", dx=-4 if right else 4, fontSize=12,
                color=MARK_GREY).encode(
                x=alt.X("eta:Q", scale=eta_scale), y=alt.value(4 + 16 * row), text="label:N"))
    # 560 high: the outcome legend, one to a row, sits inside that height and the plot keeps ~380
    return alt.layer(*layers).properties(height=560, title="One fixed-rate run per η")  # short: a phone cuts a long title


def factor_word(factor: float) -> str:
    """What a per-step factor 1 - eta*lambda does to the error along its direction."""
    if factor > 1:
        return "grows without flipping (negative curvature)"
    if factor == 1:
        return "does not move"
    if factor >= 0.9:
        return "shrinks slowly: crawls"
    if factor >= 0:
        return "shrinks"
    if factor > -1:
        return "flips sign and shrinks: zig-zag"
    if factor == -1:
        return "flips sign, same size: pure oscillation"
    return "flips sign and grows: diverges"


def rate_factors(eigenvalues: np.ndarray, eta: float, where: str, method: str) -> None:
    """The error along each eigen-direction is multiplied by 1 - eta*lambda_i per step (fixed-step GD),
    with the user's lambdas and the picked eta; seed 002's velocity / acceleration reading."""
    st.markdown(f"**Why this η does what it does** · eigenvalues of H {where}")
    st.latex(r"x_{k+1}-x^* = (I-\eta H)(x_k-x^*)")
    # words and formula inline: the column is narrow, and inline math wraps where display math is cut
    st.markdown(r"Along each eigenvector $v_i$ of H: $e_{k+1,i} = (1-\eta\lambda_i)\,e_{k,i}$")
    lines = []
    for lam in eigenvalues:
        factor = 1.0 - eta * lam
        lines.append(rf"- $1-{number_latex(eta, 4)}\cdot({number_latex(lam, 4)}) = {number_latex(factor, 4)}$: "
                     f"{factor_word(factor)}")
    st.markdown("\n".join(lines))
    positive = [float(lam) for lam in eigenvalues if lam > 0]
    beyond = METHODS[method].direction.beyond_gd_factors
    if beyond:
        st.caption(f"These factors are for plain fixed-step GD; {beyond}.")
    if positive:
        newton = ", ".join(f"{1 / lam:.4g}" for lam in positive)
        st.markdown(
            "Seed 002 reads **g as the velocity and H as the acceleration**: where the acceleration λ is large, "
            "a step of the same η overshoots; where it is small, the same η crawls. Newton divides each "
            f"direction by its own acceleration, i.e. uses ηᵢ = 1/λᵢ = {newton} at once. One fixed η has to "
            f"stay below 2/λmax = {2 / max(positive):.4g} for the steepest direction, and is then small for the "
            "flattest one.")


# --------------------------------------------------------------------------------------------
# Theory vs measurement
# --------------------------------------------------------------------------------------------

RATIO_FIELDS = {"f − f*": "f_ratio", "‖g‖": "grad_ratio", "‖x − x*‖": "x_ratio"}


def ratio_frame(observed: Mapping[str, ObservedRates], field: str) -> pd.DataFrame:
    """Long form (method, k, ratio) of one per-step ratio, resolved positive values only."""
    frames = []
    for method, rates in observed.items():
        values = getattr(rates, field)
        rows, _ = thinned(len(values), values=values)  # a 20,000-step run: draw ~CHART_POINTS of them
        frames.append(pd.DataFrame({"method": method, "k": rows, "ratio": values[rows]}))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["method", "k", "ratio"])
    return frame[np.isfinite(frame["ratio"].astype(float)) & (frame["ratio"].astype(float) > 0)]


def prediction_lines(predictions: Mapping[str, Prediction], field: str) -> pd.DataFrame:
    """Horizontal reference lines for the chart of ``field`` (f ratios are squares of x ratios
    for gd and momentum, asymptotically)."""
    rows = []
    for method, p in predictions.items():
        if not p.applies or p.value is None:
            continue
        if p.quantity == "f_rate" and field == "f_ratio":
            rows.append((method, p.value, f"{METHODS[method].short_label}: bound {p.value:.4g}"))
        elif p.quantity == "x_rate" and field in ("x_ratio", "grad_ratio"):
            rows.append((method, p.value, f"{METHODS[method].short_label}: ρ = {p.value:.4g}"))
        elif p.quantity == "x_rate" and field == "f_ratio":
            rows.append((method, p.value ** 2, f"{METHODS[method].short_label}: ρ² = {p.value ** 2:.4g}"))
    return pd.DataFrame(rows, columns=["method", "value", "label"])


def ratio_chart(observed: Mapping[str, ObservedRates], predictions: Mapping[str, Prediction], label: str) -> alt.Chart:
    """Per-step ratio against k for every method (log scale), with the textbook values as rules."""
    field = RATIO_FIELDS[label]
    frame = ratio_frame(observed, field)
    lines = prediction_lines(predictions, field)
    methods = list(observed)
    color = alt.Color("method:N", scale=method_color_scale(methods), title="method")
    longest = int(frame["k"].max()) if len(frame) else 0
    # A long crawl would squash the short runs against k = 0: a symlog axis keeps both readable.
    k_scale = alt.Scale(type="symlog") if longest > 100 else alt.Scale()
    base = alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("k:Q", title="step k (ratio of iterate k+1 to iterate k)" + (", symlog scale" if longest > 100 else ""),
                scale=k_scale, axis=alt.Axis(values=[v for v in (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000,
                                                                   10000, 20000) if v <= longest])
                if longest > 100 else alt.Axis()),
        y=alt.Y("ratio:Q", scale=alt.Scale(type="log"), title=f"{label}: ratio per step (log scale)"),
        color=color, tooltip=["method", "k", alt.Tooltip("ratio:Q", format=".6g")])
    layers = [base]
    if len(lines):
        layers.append(alt.Chart(lines).mark_rule(strokeDash=[6, 4], strokeWidth=1.5).encode(
            y="value:Q", color=color, tooltip=["label"]))
        layers.append(alt.Chart(lines).mark_text(align="left", baseline="bottom", dx=4, dy=-2, fontSize=11).encode(
            y="value:Q", x=alt.value(0), text="label:N", color=color))
    return alt.layer(*layers).properties(height=320, title=f"Observed ratio per step of {label} (dashed: textbook)")


def prediction_latex(p: Prediction, trace: Trace, observed: ObservedRates | None = None) -> str | None:
    """The prediction's formula with the user's numbers put in (None when it does not apply):
    the method's own (core.predictions), or for an order the measured errors it is read from."""
    if not p.applies or p.value is None:
        return None
    if p.with_numbers:
        return p.with_numbers
    if p.quantity == "order" and observed is not None and observed.x_star is not None:
        errors = distances_to_limit(trace, observed)
        first = len(trace.x) - len(errors)
        chain = r"\to ".join(number_latex(float(e), 2) for e in errors)
        return rf"\|x_k - x^*\|,\ k = {first}..{len(trace.x) - 1}:\quad {chain}"
    return None


def show_prediction(p: Prediction, observed: ObservedRates, trace: Trace,
                    verdict_text: str, measured: float) -> None:
    """One method's textbook claim next to its measurement (or why there is no claim)."""
    method = METHODS[trace.method]
    left, right = st.columns([3, 2])
    with left:
        st.markdown(f"**{method.label}** — {p.claim}" if p.claim else f"**{method.label}**")
        if p.latex:
            st.latex(p.latex)
        filled = prediction_latex(p, trace, observed)
        if filled:
            st.latex(filled)
        if p.applies:
            st.caption("Applies: " + p.reason)
        else:
            st.info(p.reason[0].upper() + p.reason[1:] + ".", icon=":material/block:")
    with right:
        if p.applies:
            unit = {"f_rate": "per step on f − f*", "x_rate": "per step on ‖x − x*‖", "order": "order",
                    "steps": "steps"}[p.quantity]
            a, b = st.columns(2)
            a.metric(f"textbook ({unit})", ("≤ " if p.kind == "bound" else "") + f"{p.value:.6g}",
                     help="an upper bound: the measurement should not exceed it" if p.kind == "bound" else None)
            b.metric(f"measured ({unit})", "—" if not math.isfinite(measured) else f"{measured:.6g}")
            good = verdict_text.startswith(("matches", "consistent"))
            st.badge(verdict_text, color="green" if good else "orange",
                     icon=":material/check_circle:" if good else ":material/help:")
        else:
            st.metric("textbook", "does not apply")


# --------------------------------------------------------------------------------------------
# Derivations at an iterate
# --------------------------------------------------------------------------------------------

def expansion_at(problem: Problem, x: np.ndarray, where: str) -> StepComparison | None:
    """Both steps compared at x (core.one_d.compare_steps), or a warning on the page and None
    where there is nothing to expand around (an overflowed iterate, f undefined)."""
    if not np.isfinite(x).all():
        st.warning(f"{where} overflowed: nothing to expand around.")
        return None
    try:
        return compare_steps(problem, x)
    except (EvaluationError, LinAlgError) as err:
        st.warning(f"f, g or H is not defined at {where}: {md_escape(str(err))}")
        return None


def taylor_derivation(comparison: StepComparison, k: int | str) -> None:
    """Second-order model at x_k, minimised over dx (Newton) and over eta along -g (optimal rate),
    with the user's f, g and H at that iterate. Short lines: it sits in a side column."""
    local = comparison.local
    g, h = local.g, local.hessian
    one_d = g.size == 1
    x = f"x_{{{k}}}"
    st.markdown(f"**The second-order model at ${x}$** (your numbers)")
    st.latex(rf"f({x}+\Delta x) \approx m(\Delta x) = f + g^\top\Delta x + \tfrac12\,\Delta x^\top H\,\Delta x")
    st.latex(rf"f = {number_latex(local.f, 6)},\quad g = {vector_latex(g)},\quad H = {matrix_latex(h)}")
    st.markdown("**Newton: minimise the model over every Δx**")
    if comparison.newton_step is not None:
        st.latex(r"\nabla m = g + H\Delta x = 0 \;\Rightarrow\; \Delta x_N = -H^{-1}g = "
                 + vector_latex(comparison.newton_step))
    else:
        st.latex(r"g + H\Delta x = 0 \text{ has no unique solution: } H \text{ is singular here}")
    st.markdown("**Optimal rate: minimise the model over η along −g only**")
    gg, ghg = local.gradient_products
    st.latex(r"m(-\eta g) = f - \eta\, g^\top g + \tfrac12\eta^2\, g^\top H g")
    st.latex(rf"g^\top g = {number_latex(gg, 6)},\quad g^\top H g = {number_latex(ghg, 6)}")
    if local.optimal_rate is not None:
        st.latex(rf"\eta^* = \frac{{g^\top g}}{{g^\top H g}} = {number_latex(local.optimal_rate, 6)}"
                 rf"\;\Rightarrow\; \Delta x_\eta = -\eta^* g = {vector_latex(comparison.optimal_step)}")
    else:
        st.latex(r"g^\top H g \le 0:\ \text{no minimum along } -g\text{, no optimal rate here}")
    if one_d and comparison.inverse_curvature is not None and local.optimal_rate is not None:
        st.markdown("**In one variable the two coincide**")
        st.latex(rf"\eta^* = \frac{{f'\,f'}}{{f'\,f''\,f'}} = \frac{{1}}{{f''}} = \frac{{1}}{{{number_latex(h[0, 0], 6)}}}"
                 rf" = {number_latex(comparison.inverse_curvature, 6)}")
        st.latex(r"\Rightarrow\; \Delta x_\eta = -\frac{f'}{f''} = \Delta x_N")
    elif comparison.newton_step is not None and comparison.optimal_step is not None:
        if comparison.same_step:
            st.success("Here g is an eigenvector of H (Hg = λg), so η* = 1/λ and both steps coincide.")
        else:
            st.latex(rf"\|\Delta x_N - \Delta x_\eta\| = {number_latex(comparison.difference, 4)},\quad "
                     rf"\angle(\Delta x_N, -g) = {number_latex(local.angle_deg, 4)}^\circ")


def eigen_table(comparison: StepComparison, names: Sequence[str]) -> pd.DataFrame:
    """g in H's eigenbasis: Newton scales each component by 1/lambda_i, optimal-rate GD by one eta."""
    eigenvalues = comparison.local.eigenvalues
    eta = comparison.local.optimal_rate
    rows = []
    for i, lam in enumerate(eigenvalues):
        c = float(comparison.components[i])
        rows.append({
            "direction": f"v{i + 1} = (" + ", ".join(f"{v:.3g}" for v in comparison.eigenvectors[:, i]) + ")",
            "λ": float(lam), "c = v·g": c,
            "Newton: −c/λ": -c / lam if lam != 0 else math.nan,
            "optimal rate: −η*·c": -eta * c if eta is not None else math.nan,
        })
    return pd.DataFrame(rows)


def trace_table(problem, trace: Trace, rows: slice = slice(None)) -> pd.DataFrame:
    """A compact 1-D iteration table: x_k, f, f', f'', the step's eta and 1/f'' (only ``rows``:
    f'' is evaluated for the rows shown, not for a whole 20,000-step run)."""
    ks = np.arange(len(trace.f))[rows]
    x = trace.x[rows, 0]
    second = second_derivatives(problem, trace, rows)
    with np.errstate(all="ignore"):
        inverse = np.where(second != 0, 1.0 / second, np.nan)
    return pd.DataFrame({"k": ks, "x_k": x, "f(x_k)": trace.f[rows], "f'(x_k)": trace.grad[rows, 0],
                         "f''(x_k)": second, "η_k": trace.step_size[rows], "1/f''(x_k)": inverse})


# --------------------------------------------------------------------------------------------
# How the cost of a step grows with n
# --------------------------------------------------------------------------------------------

_MODEL_N = np.geomspace(GROWTH_SIZES[0], EXTRAPOLATED_SIZES[-1], 48)


def growth_frames(points: Sequence[GrowthPoint], models: Mapping[str, GrowthModel]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(measured points, model curves) for the chart: seconds per step against n."""
    measured = pd.DataFrame([{"method": p.method, "n": p.n, "seconds": p.seconds_per_step, "steps": p.steps}
                             for p in points])
    curves = pd.DataFrame([{"method": m, "n": float(n), "seconds": model.seconds(n), "p": model.power}
                           for m, model in models.items() for n in _MODEL_N])
    return measured, curves


def growth_chart(points: Sequence[GrowthPoint], models: Mapping[str, GrowthModel]) -> alt.Chart:
    """Log-log: measured seconds per step (dots, n = 2..20) and each method's model a + b·nᵖ
    (dashed, extrapolated), with the n at which one n x n matrix of float64 passes MEMORY_BYTES."""
    measured, curves = growth_frames(points, models)
    methods = list(models)
    color = alt.Color("method:N", scale=method_color_scale(methods), title="method", legend=LEGEND)
    x = alt.X("n:Q", scale=alt.Scale(type="log", domain=[GROWTH_SIZES[0], EXTRAPOLATED_SIZES[-1]]),
              title="n, log scale (beyond 20: the model)", axis=alt.Axis(format="~s", grid=False))
    y = alt.Y("seconds:Q", scale=alt.Scale(type="log"), title="seconds per step, log scale",
              axis=alt.Axis(format=".0e"))
    model_lines = alt.Chart(curves).mark_line(strokeDash=[6, 4], clip=True).encode(
        x=x, y=y, color=color, tooltip=["method", alt.Tooltip("n:Q", format=",.0f"), alt.Tooltip("seconds:Q", format=".3g"),
                                        alt.Tooltip("p:Q", title="power p")])
    dots = alt.Chart(measured).mark_circle(size=60).encode(
        x=x, y=y, color=color, tooltip=["method", "n", alt.Tooltip("seconds:Q", format=".3g"), "steps"])
    memory_n = math.sqrt(MEMORY_BYTES / 8)
    wall = pd.DataFrame({"n": [memory_n], "label": [f"H > {MEMORY_BYTES / 2 ** 30:g} GiB"]})
    rule = alt.Chart(wall).mark_rule(color="#888888", strokeDash=[2, 2]).encode(x="n:Q")
    text = alt.Chart(wall).mark_text(align="right", dx=-4, color="#888888", baseline="top").encode(
        x="n:Q", y=alt.value(4), text="label:N")
    return alt.layer(model_lines, dots, rule, text).properties(height=380)


def growth_table(points: Sequence[GrowthPoint], models: Mapping[str, GrowthModel]) -> pd.DataFrame:
    """Per method: its power p, what one step cost at the largest n measured, the model's seconds
    per step at the extrapolated sizes, and the n at which one step would take a second."""
    rows = []
    for method, model in models.items():
        mine = [p for p in points if p.method == method]
        largest = max(mine, key=lambda p: p.n)
        row = {"method": method, "p": f"O(n^{model.power})", f"measured at n = {largest.n}": largest.seconds_per_step}
        row.update({f"model at n = {n:,}": model.seconds(n) for n in EXTRAPOLATED_SIZES[:-1]})
        row["1 s per step at n ≈"] = largest_practical_n(model)
        rows.append(row)
    return pd.DataFrame(rows)
