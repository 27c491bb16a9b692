"""The setup sidebar, always visible: function, start point, methods, options, presets, link.

The URL is the source of truth when a session starts (share links), the widgets after that;
every run writes the current setup back to the query parameters, so the address bar always
reproduces what is on screen.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Iterator
from urllib.parse import urlencode

import streamlit as st

from core import METHODS, SPEC, Options, OptionsError, Problem, fairshare
from core.options import SPEC_BY_NAME
from core.parsing import MAX_LENGTH

from .compute import check_start, load_problem
from .links import (PRESETS, Preset, Setup, link_space_suggestion, options_shown, parse_point, setup_from_query,
                    setup_to_query)
from .style import LARGE_TEXT, LINK_PARAM, large_text, page_style
from .text import md_escape

_OPTION_KEYS = tuple(spec.name for spec in SPEC)
_KEPT_OPTIONS = "kept_option_values"  # plain session state: an option's value while its widget is hidden


@dataclass(frozen=True)
class ActiveSetup:
    """The current setup and what became of it: a problem to show, or the reasons why not."""

    setup: Setup
    problem: Problem | None
    x0: tuple[float, ...] | None
    errors: tuple[str, ...]
    preset: Preset | None

    @property
    def ok(self) -> bool:
        return not self.errors


def _widget_values(setup: Setup) -> dict:
    return {"f": setup.function, "x0": setup.x0_text, "methods": list(setup.methods),
            **{name: getattr(setup.options, name) for name in _OPTION_KEYS}}


def _write_widgets(setup: Setup) -> None:
    st.session_state.update(_widget_values(setup))


def _apply_preset(preset: Preset) -> None:
    _write_widgets(preset.setup)
    _clear_link_problems()


def _clear_link_problems() -> None:
    st.session_state["link_problems"] = []
    st.session_state["link_suggestion"] = None


def _use_suggestion(text: str) -> None:
    st.session_state["f"] = text
    _clear_link_problems()


def _load_from_url_once() -> None:
    """First run of a session: the setup comes from the link (bad values fall back, with a message)."""
    if st.session_state.get("setup_loaded"):
        return
    setup, problems = setup_from_query(st.query_params.to_dict())
    suggestion = link_space_suggestion(setup.function) if "f" in st.query_params else None
    st.session_state["link_suggestion"] = suggestion
    if "f" in st.query_params and setup.function != Setup().function:
        _, error = load_problem(setup.function)
        if error:
            problems.append(f"the link's function could not be read ({error}); using the default")
            setup = replace(setup, function=Setup().function, x0_text=Setup().x0_text
                            if "x0" not in st.query_params else setup.x0_text)
    _write_widgets(setup)
    large = st.query_params.get(LINK_PARAM)
    if large not in (None, "0", "1"):
        problems.append(f"the link's `{LINK_PARAM}` was not used (1 for large text, 0 for normal; got "
                        f"{str(large)[:20]!r})")
    st.session_state[LARGE_TEXT] = large == "1"
    st.session_state["link_problems"] = problems
    st.session_state["setup_loaded"] = True


def _current_setup() -> Setup:
    state = st.session_state
    kept = state.get(_KEPT_OPTIONS, {})
    values = {name: state[name] if name in state else kept.get(name, SPEC_BY_NAME[name].default) for name in _OPTION_KEYS}
    state[_KEPT_OPTIONS] = values
    try:
        options = Options(**values)
    except OptionsError:  # each widget is in range, but not together (c2 <= c1): the defaults for those two
        options = Options(**{**values, "c1": SPEC_BY_NAME["c1"].default, "c2": SPEC_BY_NAME["c2"].default})
    return Setup(function=state["f"], x0_text=state["x0"], methods=tuple(state["methods"]), options=options)


def _option_widgets(methods: tuple[str, ...]) -> None:
    """One number input per option the chosen methods read (core.options.SPEC: label, range, help).
    A hidden option keeps its value: Streamlit forgets a widget's key once it is not drawn."""
    kept = st.session_state.get(_KEPT_OPTIONS, {})
    for name in options_shown(methods):
        spec = SPEC_BY_NAME[name]
        if name not in st.session_state:
            st.session_state[name] = kept.get(name, spec.default)
        users = [METHODS[m].short_label for m in methods if name in METHODS[m].options_used]
        low = math.nextafter(spec.low, spec.high) if spec.low_open else spec.low
        high = math.nextafter(spec.high, spec.low) if spec.high_open else spec.high
        st.number_input(spec.label + (f" ({', '.join(users)})" if users and len(users) < len(methods) else ""),
                        key=name, min_value=spec.kind(low), max_value=spec.kind(high), step=spec.step,
                        format=None if spec.kind is int else spec.number_format,
                        help=f"{spec.help} ({spec.range_text()})", on_change=_clear_link_problems)


def link_query(setup: Setup) -> dict[str, str]:
    """The link's parameters: the setup's, and large text when it is on."""
    return {**setup_to_query(setup), **({LINK_PARAM: "1"} if large_text() else {})}


def render_setup() -> ActiveSetup:
    """Draw the sidebar and return the active setup (once per run; see setup_for_pages)."""
    _load_from_url_once()
    errors: list[str] = []
    problem = x0 = None
    with st.sidebar:
        st.header("Setup")
        for message in st.session_state.get("link_problems", []):
            st.warning(md_escape(message), icon=":material/link:")
        suggestion = st.session_state.get("link_suggestion")
        if suggestion and suggestion != st.session_state.get("f"):
            # A hand-typed link ?f=4x^2+y^2 arrives as "4x^2 y^2" (+ means a space in a URL).
            st.warning(md_escape(f"The link's function has a space between two terms, read as a product. In a link a "
                                 f"+ must be written %2B (a bare + arrives as a space). Did you mean {suggestion}?"),
                       icon=":material/link:")
            st.button(f"Use {suggestion[:60]}", key="use_link_suggestion", on_click=_use_suggestion,
                      args=(suggestion,), width="stretch")
        with st.expander("Presets (one click each)", expanded=False):
            for i, preset in enumerate(PRESETS):
                st.button(preset.label, key=f"preset_{i}", on_click=_apply_preset, args=(preset,),
                          help=preset.lesson, width="stretch")
        st.text_input("Function f", key="f", on_change=_clear_link_problems, max_chars=MAX_LENGTH,
                      help="e.g. 4x^2 + y^2, (1-x)^2 + 100(y-x^2)^2, sin(x)*exp(-y^2). "
                           "Variables: letters or x1..x20. Functions: sin cos tan asin acos atan sinh "
                           "cosh tanh exp log sqrt abs; constants pi, e; ^ or ** for powers.")
        problem, parse_error = load_problem(st.session_state["f"])
        if parse_error:
            st.error(md_escape(parse_error), icon=":material/edit:")
            errors.append(f"The function could not be read: {parse_error}")
        st.text_input("Start point x₀", key="x0", on_change=_clear_link_problems,
                      help="comma-separated, one number per variable, e.g. 15, 15")
        try:
            x0 = parse_point(st.session_state["x0"])
        except ValueError as err:
            st.error(md_escape(str(err)), icon=":material/edit:")
            errors.append(str(err))
        if problem is not None and x0 is not None:
            mismatch = check_start(problem, x0)
            if mismatch:
                st.error(md_escape(mismatch), icon=":material/edit:")
                errors.append(mismatch)
        st.multiselect("Methods to compare", options=list(METHODS), key="methods",
                       format_func=lambda m: METHODS[m].short_label, on_change=_clear_link_problems)
        if not st.session_state["methods"]:
            st.error("Choose at least one method.", icon=":material/edit:")
            errors.append("no method is selected")
        with st.expander("Options", expanded=True):
            _option_widgets(tuple(st.session_state["methods"]))
        setup = _current_setup()
        st.toggle("Large text (projector)", key=LARGE_TEXT,
                  help="bigger text in tables, charts and formulas, for everyone who opens the link")
        query = link_query(setup)
        st.caption("Share link (reproduces this setup)")
        st.code(f"{(st.context.url or '').rstrip('/')}?{urlencode(query)}", language=None, wrap_lines=True)
    page_style()

    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    preset = next((p for p in PRESETS if p.setup == setup), None)
    return ActiveSetup(setup=setup, problem=problem, x0=x0, errors=tuple(errors), preset=preset)


_ACTIVE = "active_setup"


@contextmanager
def setup_for_pages() -> Iterator[ActiveSetup]:
    """app.py: draw the sidebar once, then run the page inside this block."""
    fairshare.join()  # this page run's thread competes with other visitors' as the least served first
    # Marks this thread as running app.py's page (get_active; Play's frames leave it room): per
    # thread, not in session state, since after st.stop() every Streamlit call raises again, so a
    # `finally` could not reset a session-state flag.
    with fairshare.page_run():
        st.session_state[_ACTIVE] = active = render_setup()
        yield active


def _leave_legacy_multipage_mode() -> None:
    """Streamlit decides once per server process that a ``pages/`` folder means its legacy
    multipage mode, and switches to ``st.navigation`` only when app.py first runs. So when the
    very first request after a server start is a page URL (a share link to /derivatives on a
    freshly woken host), that page runs alone under the legacy navigation. Switch the flag
    ourselves and rerun: app.py then runs and its navigation serves the same URL."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without this internal: nothing to fix
        return
    # AppTest resets this flag before every run, so there a rerun would only loop; its page
    # runs are served by drawing the sidebar in the page (below). tests/e2e checks the server.
    if getattr(PagesManager, "uses_pages_directory", False) and not st.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()


def open_page_with(page: str, setup: Setup) -> None:
    """Go to ``page`` showing ``setup``, as a share link would: the URL carries it and the sidebar
    reads it again on the next run. (Setting the widgets and switching pages is not enough: a
    switch made by the server does not carry the browser's widget values, and the sidebar's
    function and methods came up empty.)"""
    st.session_state["setup_loaded"] = False
    st.switch_page(page, query_params=link_query(setup))


def get_active() -> ActiveSetup:
    """The active setup for this run. A page run on its own (``streamlit run pages/x.py``, or
    ``AppTest.from_file("pages/x.py")``) draws the sidebar itself."""
    if not fairshare.in_page_run():
        _leave_legacy_multipage_mode()
        st.session_state[_ACTIVE] = render_setup()
    return st.session_state[_ACTIVE]


def require_ready() -> ActiveSetup:
    """Return the active setup, or explain what to fix and stop the page (no traceback)."""
    active = get_active()
    if active.ok:
        return active
    st.error("**Nothing to show yet.** " + " · ".join(md_escape(e) for e in active.errors))
    st.markdown(
        "**What to type:** an expression in your variables, for example\n"
        "- `4x^2 + y^2` (implicit multiplication: `2xy` is 2·x·y)\n"
        "- `(1-x)^2 + 100(y-x^2)^2` (Rosenbrock)\n"
        "- `sin(x)*exp(-y^2)`, `x1^2 + x2^2 + x3^2`\n\n"
        "Powers with `^` or `**`; functions `sin cos tan asin acos atan sinh cosh tanh exp log sqrt abs`; "
        "constants `pi` and `e`. The start point needs one number per variable, e.g. `15, 15`. "
        "Or pick a preset in the sidebar."
    )
    st.stop()
