"""Theory vs measurement: observed rates and orders next to the textbook's, where they apply."""

import math

import numpy as np
import pandas as pd
import streamlit as st

from core import METHODS, EvaluationError, ParseError, Problem, Trace, best_value
from core.analysis import local_analysis
from core.linalg import LinAlgError
from core.quadratic import quadratic_constants
from core.predictions import Prediction
from core.problem import ServerBusy
from core.families import EXAMPLE, MAX_FAMILY_LENGTH
from core.growth import EXTRAPOLATED_SIZES, FAMILIES, GROWTH_SIZES, Family, fit_growth, hessian_bytes, typed_family
from core.theory import ObservedRates, cost_of, observed_rates, observed_value, predict, verdict
from ui.compute import measure_growths, problem_of, run_methods
from ui.latex import formula_fits, show_formula
from ui.panels import iterate_picker, status_text
from ui.sidebar import require_ready
from ui.teaching import (RATIO_FIELDS, expansion_at, growth_chart, growth_table, ratio_chart, show_prediction,
                         taylor_derivation)
from ui.text import md_escape
from ui.style import sized


def condition_at(problem: Problem, x: np.ndarray) -> float | None:
    try:
        return local_analysis(problem, x).condition
    except (EvaluationError, LinAlgError):
        return None


def kappa_text(kappa: float | None) -> str:
    if kappa is None:
        return "undefined"
    return "∞ (singular)" if math.isinf(kappa) else f"{kappa:.6g}"


def theory_page() -> None:
    active = require_ready()
    setup, problem = active.setup, active.problem
    x0 = np.array(active.x0)
    st.title("Theory vs measurement", anchor=False)
    st.caption("Seed 001: *“the Newton method solves (positive definite) quadratic costs in one step, the gradient method "
               "typically will converge, but not in a finite number of steps.”* Measured on your f, next to the textbook.")
    show_formula("f(" + ", ".join(problem.variable_names) + ")", problem.latex["f"], "f")

    traces = run_methods(problem.text, active.x0, setup.methods, setup.options)
    f_best = best_value(list(traces.values()))
    constants = quadratic_constants(problem, x0)
    observed = {m: observed_rates(problem, t, f_best) for m, t in traces.items()}
    predictions = {m: predict(problem, t) for m, t in traces.items()}

    converged = [t for t in traces.values() if t.status == "converged"]
    solution = min(converged, key=lambda t: t.f[-1]) if converged else None
    facts = st.columns(4)
    facts[0].metric("κ of H at x₀", kappa_text(condition_at(problem, x0)), help="max|λ| / min|λ| of the Hessian at the start")
    if solution is not None:
        facts[1].metric("κ of H at the solution", kappa_text(condition_at(problem, solution.x[-1])),
                        help=f"at the last iterate of {METHODS[solution.method].label}, the converged run with the lowest f")
    else:
        facts[1].metric("κ of H at the solution", "no run converged")
    if constants is not None:
        facts[2].metric("f is quadratic", "yes, H constant")
        facts[3].metric("eigenvalues of H", ", ".join(f"{v:.4g}" for v in constants.eigenvalues))
        if not constants.positive_definite:
            st.warning(md_escape(constants.reason[0].upper() + constants.reason[1:]) + ": the quadratic rates do not apply.")
    else:
        facts[2].metric("f is quadratic", "no")
        facts[3].metric("textbook rates", "local only")
        st.info("f is not quadratic: H changes with x, so the quadratic rates (Kantorovich, max|1 − ηλ|) do not apply as "
                "numbers here. Newton's quadratic order still applies near a non-degenerate minimum.", icon=":material/info:")

    st.subheader("Measured", anchor=False)
    rows = []
    for method, trace in traces.items():
        rates = observed[method]
        at_end = condition_at(problem, trace.x[-1]) if np.isfinite(trace.x[-1]).all() else None
        rows.append({"method": method, "outcome": status_text(trace), "steps": trace.iterations,
                     "f_rate": rates.f_rate, "grad_rate": rates.grad_rate, "x_rate": rates.x_rate,
                     "order": rates.order, "order_of": rates.order_error,
                     "kappa_end": at_end if at_end is not None and math.isfinite(at_end) else math.nan})
    measured = pd.DataFrame(rows)
    st.dataframe(measured, hide_index=True, key="theory_measured", column_config={
        "method": st.column_config.TextColumn("method", width="small"),
        "outcome": st.column_config.TextColumn("outcome", width="medium"),
        "steps": st.column_config.NumberColumn("steps", format="%d", width="small"),
        "f_rate": st.column_config.NumberColumn("rate of f − f*", format="%.6g", width="small",
                                                help="geometric mean of (f_{k+1} − f*)/(f_k − f*) over the last half of "
                                                     "the resolved steps"),
        "grad_rate": st.column_config.NumberColumn("rate of ‖g‖", format="%.6g", width="small",
                                                   help="geometric mean of ‖g_{k+1}‖/‖g_k‖ over the last half of the resolved steps"),
        "x_rate": st.column_config.NumberColumn("rate of ‖x − x*‖", format="%.6g", width="small",
                                                help="only where x* is known: a quadratic, or a converged run whose H has settled"),
        "order": st.column_config.NumberColumn("order", format="%.3g", width="small",
                                               help="log-log slope: log e_{k+1} against log e_k over the last steps"),
        "order_of": st.column_config.TextColumn("order of", width="small", help="the error the order was measured on"),
        "kappa_end": st.column_config.NumberColumn("κ at x_K", format="%.4g", width="small"),
    })
    notes = []
    for method, rates in observed.items():
        text = f"**{md_escape(METHODS[method].short_label)}**: f* = {rates.f_star:.6g} ({md_escape(rates.f_star_source)})"
        if not math.isfinite(rates.order):
            text += f"; order not measured: {md_escape(rates.order_note)}"
        notes.append(text)
    st.caption("  \n".join(notes))

    st.subheader("What each method paid", anchor=False)
    st.caption("Seed 001 asks what the Newton correction costs: *“the cost of inverting a d×d matrix”*. Here it is "
               f"counted on your f (n = {problem.n}): evaluations of f, g and H, and linear solves (Newton's H d = −g, "
               "or an eigendecomposition of H), in total and per step, with each run's time.")
    costs = [cost_of(trace) for trace in traces.values()]
    st.dataframe(pd.DataFrame([{"method": c.method, "steps": c.steps, "f": c.nfev, "g": c.ngev, "H": c.nhev,
                                "solves": c.nsolve, "per step": c.per_step_text, "seconds": c.seconds} for c in costs]),
                 hide_index=True, key="theory_cost", column_config={
                     "steps": st.column_config.NumberColumn("steps", format="%d", width="small"),
                     "f": st.column_config.NumberColumn("f evaluations", format="%d", width="small"),
                     "g": st.column_config.NumberColumn("g evaluations", format="%d", width="small"),
                     "H": st.column_config.NumberColumn("H evaluations", format="%d", width="small",
                                                        help=f"each one is n(n+1)/2 = {problem.n * (problem.n + 1) // 2} "
                                                             "second derivatives"),
                     "solves": st.column_config.NumberColumn("solves", format="%d", width="small",
                                                             help="n x n linear solves or eigendecompositions: O(n³) each"),
                     "per step": st.column_config.TextColumn("per step", width="medium"),
                     "seconds": st.column_config.NumberColumn("seconds", format="%.3g", width="small",
                                                              help="wall time of the run on this server"),
                 })

    cost_growth(setup.methods)

    st.subheader("Textbook, beside the measurement", anchor=False)
    for method, trace in traces.items():
        p = predictions[method]
        with st.container(border=True):
            show_prediction(p, observed[method], trace, verdict(p, observed[method], trace),
                            observed_value(observed[method], p.quantity, trace))
    per_step(problem, traces, observed, predictions)


TYPED_FAMILY = "typed"
SHOWN_SIZE = 6  # the family is shown written out at this n (a measured size: its parse is the one measured)


def family_label(key: str) -> str:
    return FAMILIES[key].label if key in FAMILIES else "one you type"


def chosen_family() -> Family:
    """The family the widgets say now; raises ParseError for a typed one outside the notation."""
    key = st.session_state.get("growth_family", next(iter(FAMILIES)))
    if key in FAMILIES:
        return FAMILIES[key]
    return typed_family(_typed("growth_notation"), _typed("growth_start"))


TYPED_DEFAULTS = {"growth_notation": EXAMPLE, "growth_start": "-1.2, 1"}


def _typed(key: str) -> str:
    """What the visitor typed in ``key``: the box's value, or while a preset is chosen (the box
    is not drawn, and Streamlit forgets it) the copy kept from it."""
    return st.session_state.get(key, st.session_state.get(f"{key}_kept", TYPED_DEFAULTS[key]))


def _keep(key: str) -> None:
    st.session_state[f"{key}_kept"] = st.session_state[key]


def measure_growth_now(methods: tuple[str, ...]) -> None:
    """The button's callback: measure the family chosen now (a click may come with a new choice)."""
    try:
        st.session_state["growth_measured"] = (chosen_family(), methods)
    except ParseError:
        st.session_state["growth_measured"] = None  # the page says why


@st.fragment
def cost_growth(methods: tuple[str, ...]) -> None:
    # Choosing a family or measuring reruns only this part.
    st.subheader("How the cost of a step grows with n", anchor=False)
    st.caption("Newton pays for H (n² second derivatives) and a solve (≈ n³/3 operations) at every step; a gradient "
               "step touches n numbers. On a family of functions, one for every n, each chosen method is timed for "
               "n = 2..20 (CPU time per step, the least of 3 runs); the dashed lines are each method's model "
               "a + b·nᵖ fitted to those points and **extrapolated** to sizes no page here can run.")
    key = st.radio("Family", [*FAMILIES, TYPED_FAMILY], format_func=family_label, key="growth_family", horizontal=True)
    if key == TYPED_FAMILY:
        left, right = st.columns([3, 1])
        left.text_input("f for every n", value=_typed("growth_notation"), key="growth_notation", max_chars=MAX_FAMILY_LENGTH,
                        on_change=_keep, args=("growth_notation",),
                        help="A sum over an index: sum(TERM, i = 1..n). The variables are x[1] .. x[n]: x[i], x[i+1], "
                             "x[2i-1], x[n]. Indices and bounds are whole-number arithmetic in n, i, j, k.")
        right.text_input("Start, repeated to n", value=_typed("growth_start"), key="growth_start",
                         on_change=_keep, args=("growth_start",),
                         help="Numbers separated by commas, repeated to length n: -1.2, 1 gives (-1.2, 1, -1.2, 1, …)")
    try:
        family = chosen_family()
    except ParseError as err:
        st.error(f"{err}")
        return
    if not show_family(family):
        return
    st.button("Measure for n = " + ", ".join(map(str, GROWTH_SIZES)), key="growth_measure", icon=":material/timer:",
              on_click=measure_growth_now, args=(methods,))
    if st.session_state.get("growth_measured") != (family, methods):
        st.caption("Differentiating the family takes a few seconds the first time on this server; then it is cached.")
        return
    try:
        with st.spinner("Differentiating the family and timing every method…"):
            points = measure_growths(family, methods)
    except ServerBusy as err:  # a full slow lane: not the family's fault
        st.warning(f"Could not measure now: {err}. Press the button again in a moment.")
        return
    except ParseError as err:  # the parser refused the family at some n, or it took too long: the same next time
        st.session_state["growth_measured"] = None  # measured again only when asked again
        st.warning(f"Could not measure this family: {err}.")
        return
    models = fit_growth(points)
    if not models:
        st.warning("No run made a step within the time budget: nothing to show.")
        return
    st.altair_chart(sized(growth_chart(points, models)), width="stretch")
    table = growth_table(points, models)
    seconds = {c: st.column_config.NumberColumn(c, format="%.3g") for c in table.columns if c.startswith(("measured", "model"))}
    st.dataframe(table, hide_index=True, key="growth_table", column_config={
        **seconds, "p": st.column_config.TextColumn("grows as", width="small"),
        "1 s per step at n ≈": st.column_config.NumberColumn("1 s per step at n ≈", format="%.3g")})
    st.caption(f"Seconds per step. Powers p come from each method's blocks (1: vectors only; 2: H or a dense n×n matrix; "
               f"3: a solve or an eigendecomposition). At n = {EXTRAPOLATED_SIZES[2]:,} an n×n H alone takes "
               f"{hessian_bytes(EXTRAPOLATED_SIZES[2]) / 2 ** 30:.2g} GiB; at n = {EXTRAPOLATED_SIZES[-1]:,}, "
               f"{hessian_bytes(EXTRAPOLATED_SIZES[-1]) / 2 ** 40:.2g} TiB: there only methods that never form H "
               "(gradient descent, momentum, CG, L-BFGS) remain. Measured on this server at small n, where a step "
               "costs mostly fixed overhead: the fitted b, and so the extrapolation, is rough.")


def show_family(family: Family) -> bool:
    """The family's notation, its start, and its f written out at SHOWN_SIZE; False (and the
    parser's message) when that f is refused."""
    start = ", ".join(f"{v:g}" for v in family.start_pattern)
    st.caption(f"Typed as `{family.notation}`, started from ({start}, …) repeated to length n. "
               f"At n = {SHOWN_SIZE}:")
    try:
        problem = problem_of(family.text(SHOWN_SIZE))
    except ServerBusy as err:  # not the family's fault: it can still be measured once the server is free
        st.warning(f"The family cannot be shown now: {err}.")
        return True
    except ParseError as err:
        st.error(f"At n = {SHOWN_SIZE} the family's f is refused: {err}")
        return False
    if formula_fits(problem.latex["f"]):
        st.markdown(f"$f = {problem.latex['f']}$")  # inline math: KaTeX breaks its lines at + on a phone
    else:
        show_formula("f", problem.latex["f"], f"f at n = {SHOWN_SIZE}")
    return True


@st.fragment
def per_step(problem: Problem, traces: dict[str, Trace], observed: dict[str, ObservedRates],
             predictions: dict[str, Prediction]) -> None:
    # Switching the quantity or the iterate reruns only this part, with the arguments of the last full run.
    choice = st.radio("Ratio per step of", list(RATIO_FIELDS), horizontal=True, key="theory_ratio")
    st.altair_chart(sized(ratio_chart(observed, predictions, choice)), width="stretch")
    st.subheader("Where the rates come from, at one iterate", anchor=False)
    trace, k = iterate_picker(traces, "theory")
    comparison = expansion_at(problem, trace.x[k], f"x_{k}")
    if comparison is None:
        return
    left, right = st.columns([3, 2], gap="large")
    with left:
        taylor_derivation(comparison, k)
    with right:
        rates = observed[trace.method]  # the picked method's own ratios
        st.markdown(f"**Measured at step k = {k}**")
        for label, field in RATIO_FIELDS.items():
            values = getattr(rates, field)
            value = values[k] if k < len(values) else math.nan
            st.markdown(f"- {label}: ratio " + (f"`{value:.6g}`" if math.isfinite(value) else "not resolved"))
        local = comparison.local
        st.markdown(f"**κ of H at x_{k}**: `{'∞' if math.isinf(local.condition) else f'{local.condition:.6g}'}` "
                    f"({md_escape(local.definiteness)})")
        if local.steepest_descent_bound is not None:
            st.latex(rf"\text{{locally: }}\left(\frac{{\kappa-1}}{{\kappa+1}}\right)^2 = {local.steepest_descent_bound:.6g}")
            st.caption("Exact steps on the quadratic model at this iterate would shrink f − f* by at most this factor; "
                       "on a non-quadratic f it only describes the model, not the run.")
        st.markdown("Newton minimises the whole model, so on a quadratic (model = f) it lands on x* at once; "
                    "the optimal rate only minimises along −g, so it keeps turning corners: each step is "
                    "orthogonal to the last, and the error shrinks by a fixed factor per step (linear).")


theory_page()
