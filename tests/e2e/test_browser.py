"""The served app in a real browser (headless Chromium via Playwright's sync API).

Each test opens its own browser context against one server for the module, interacts like a
user (keyboard and clicks), waits for the script to finish, and checks what is drawn against the
engine (``core``) computed in this process. Screenshots go to artifacts/screenshots/.

Run: ``python -m pytest -q tests/e2e/test_browser.py`` (or ``-m e2e``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from core import METHODS, Options, build_problem, run
from ui.links import PRESETS, Setup, setup_to_query

from .support import (IDLE, SCREENSHOTS, PageWatch, app_url, background_luminance, blank_charts, capture_compare, cell,
                      eventually, exceptions, horizontal_overflow, interact, kept_chart_drawings, latex_sources,
                      mark_chart_drawings, method_panel, off_colour_points, open_app, screenshot, script_runs,
                      wait_for_charts)

pytestmark = pytest.mark.e2e

DEFAULT = Setup()
TABLE_ROWS_CHECKED = 6  # the grid only puts its visible rows into the DOM


# --------------------------------------------------------------------------- helpers


@lru_cache(maxsize=None)
def problem_for(text: str):
    return build_problem(text)


def trace_for(setup: Setup, method: str):
    return run(problem_for(setup.function), list(setup.x0()), method, setup.options)


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query, keep_blank_values=True).items()}


def vector_text(v) -> str:  # as ui.panels shows x_k
    return "(" + ", ".join(f"{x:.6g}" for x in v) + ")"


def expected_chart_count(setup: Setup) -> int:
    """Picture of f (1 or 2 variables) + 2 convergence charts + a step-size chart per method with
    finite step sizes, each twice: the chart and its overlay at iterate k (ui.kcharts). The
    charts of a step along its line are drawn only when their expander is opened."""
    problem = problem_for(setup.function)
    steps = sum(bool(np.isfinite(trace_for(setup, m).step_size).any()) for m in setup.methods)
    return 2 * ((1 if problem.n <= 2 else 0) + 2 + steps)


def assert_tables_match_engine(page, setup: Setup) -> None:
    """Every method panel's first rows: k, and x_k exactly as the engine computes them (waits
    until the frontend has drawn them)."""
    eventually(lambda: _tables_match_engine(page, setup), page)


def _tables_match_engine(page, setup: Setup) -> None:
    panels = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']")
    assert panels.count() == len(setup.methods), f"{panels.count()} tables for {setup.methods}"
    n = problem_for(setup.function).n
    for method in setup.methods:
        trace = trace_for(setup, method)
        panel = method_panel(page, METHODS[method].label)
        assert panel.count() == 1, f"no panel for {method}"
        for row in range(min(TABLE_ROWS_CHECKED, trace.iterations + 1)):
            assert cell(panel, 0, row) == str(row)
            shown = [float(cell(panel, 2 + j, row)) for j in range(n)]
            assert shown == list(trace.x[row]), f"{method} row {row}: {shown} != {list(trace.x[row])}"


def assert_healthy(page, watch: PageWatch, charts: int | None = None) -> None:
    assert not exceptions(page), exceptions(page)
    assert not watch.problems(), watch.problems()
    if charts is not None:
        found = wait_for_charts(page, minimum=charts)
        assert len(found) == charts, found
        assert not blank_charts(page)
        assert not off_colour_points(page), off_colour_points(page)  # each method keeps its colour


def submit_function(page, text: str) -> None:
    box = page.get_by_role("textbox", name="Function f")
    box.fill(text)
    interact(page, lambda: box.press("Enter"))


def input_values(page, labels: dict[str, str]) -> dict[str, str]:
    """{label: value} of text boxes ('textbox') and number inputs ('spinbutton')."""
    return {label: page.get_by_role(role, name=label).input_value() for label, role in labels.items()}


@pytest.fixture
def open_page(server, browser):
    """open_page(url=None, **context options) -> (page, watch); the context closes after the test."""
    contexts = []

    def opener(url: str | None = None, width: int = 1600, height: int = 2600, **options):
        context = browser.new_context(viewport={"width": width, "height": height}, **options)
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        watch = PageWatch().attach(page)
        open_app(page, url or server.url)
        return page, watch

    yield opener
    for context in contexts:
        context.close()


# --------------------------------------------------------------------------- tests


def has_formula(page, source: str) -> None:
    assert source in latex_sources(page), latex_sources(page)


def test_default_compare_page(open_page, server) -> None:
    page, watch = open_page()
    assert page.get_by_role("heading", name="Compare the methods").is_visible()
    assert query(page) == setup_to_query(DEFAULT)  # the address bar spells out the setup
    eventually(lambda: has_formula(page, f"f(x, y) = {problem_for(DEFAULT.function).latex['f']}"), page)
    assert_tables_match_engine(page, DEFAULT)

    def share_link() -> None:
        share = page.locator("[data-testid='stSidebar'] [data-testid='stCode']").inner_text().replace("\n", "")
        assert share.startswith(server.url) and "max_iter=1000" in share, share
    eventually(share_link, page)
    assert_healthy(page, watch, charts=expected_chart_count(DEFAULT))
    screenshot(page, "compare_default")


def test_type_a_function(open_page) -> None:
    page, watch = open_page()
    before = eventually(lambda: cell(method_panel(page, "Newton"), 2, 1) or _missing("Newton's x_1"), page)
    typed = "(x - 1)^2 + 3(y + 2)^2"
    submit_function(page, typed)
    setup = Setup(function=typed)
    assert query(page)["f"] == typed
    eventually(lambda: has_formula(page, f"f(x, y) = {problem_for(typed).latex['f']}"), page)

    def newton_lands_on_the_minimum() -> None:
        newton = method_panel(page, "Newton")
        assert (cell(newton, 2, 1), cell(newton, 3, 1)) == ("1", "-2")
    eventually(newton_lands_on_the_minimum, page)
    assert before == "0"  # ... where it was (0, 0) for the default function
    assert_tables_match_engine(page, setup)
    assert_healthy(page, watch, charts=expected_chart_count(setup))


def _missing(what: str) -> str:
    raise AssertionError(f"{what} is not drawn yet")


def test_choose_a_preset(open_page) -> None:
    page, watch = open_page()
    preset = next(p for p in PRESETS if p.label.startswith("Rosenbrock"))
    page.get_by_text("Presets (one click each)").click()  # opening an expander runs nothing
    interact(page, page.get_by_role("button", name=preset.label, exact=True).click)
    assert query(page) == setup_to_query(preset.setup)

    def sidebar_and_lesson() -> None:
        assert input_values(page, {"Function f": "textbox", "Start point x₀": "textbox"}) == {
            "Function f": preset.setup.function, "Start point x₀": preset.setup.x0_text}
        lesson = page.locator("[data-testid='stMain'] .st-key-lesson").inner_text()
        assert preset.label in lesson and preset.lesson in lesson and preset.story.question in lesson, lesson
    eventually(sidebar_and_lesson, page)
    assert_tables_match_engine(page, preset.setup)
    assert_healthy(page, watch, charts=expected_chart_count(preset.setup))


def test_iteration_slider_moves_the_marker(open_page) -> None:
    page, watch = open_page()
    wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
    start_diamonds = diamonds(page)
    slider = page.get_by_role("slider", name="Iteration k")
    url_before = page.url
    slider.focus()
    for _ in range(3):
        interact(page, lambda: page.keyboard.press("ArrowRight"))
    assert slider.get_attribute("aria-valuetext") == "3"

    def marker_at_3(method: str) -> None:
        trace = trace_for(DEFAULT, method)
        panel = method_panel(page, METHODS[method].label)
        row = min(3, trace.iterations)
        line = panel.locator("p").filter(has_text=re.compile(r"^k = \d+")).inner_text()
        assert line.startswith(f"k = {row}"), line
        assert f"x = {vector_text(trace.x[row])}" in line, line
        if row < 3:
            assert f"it stopped at k = {trace.iterations}" in line
        assert cell(panel, 1, row) == "▶"
        assert cell(panel, 1, 0) == ""
    for method in DEFAULT.methods:
        eventually(lambda method=method: marker_at_3(method), page)

    def diamonds_moved() -> None:  # the ◆ on the contour plot moved too (where to: tests/test_pages_dashboard.py)
        now = diamonds(page)
        assert len(now) == len(DEFAULT.methods) and now != start_diamonds, (now, start_diamonds)
    eventually(diamonds_moved, page)
    assert page.url == url_before  # the slider is view state, not part of the link
    assert_healthy(page, watch)


def _k_line(page, method: str) -> int:
    line = method_panel(page, METHODS[method].label).locator("p").filter(has_text=re.compile(r"^k = \d+")).inner_text()
    return int(re.match(r"k = (\d+)", line).group(1))


def _no_more_runs(page, seconds: float = 1.5) -> None:
    """Nothing runs by itself any more: an absence, so it is watched for a while (at 5 steps a
    second, 7 frames would have come), not waited for."""
    runs, k = script_runs(page).finished, page.get_by_role("slider", name="Iteration k").get_attribute("aria-valuetext")
    page.wait_for_timeout(seconds * 1000)
    assert script_runs(page).finished == runs, "the page still runs by itself:\n" + "\n".join(script_runs(page).events)
    assert page.get_by_role("slider", name="Iteration k").get_attribute("aria-valuetext") == k


def test_play_moves_k_by_itself_and_pause_stops_it(open_page) -> None:
    """Play: with no input, the slider, every panel's row k and the picture's markers move; Pause
    stops them; played to the end, it stops there by itself."""
    page, watch = open_page()
    wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
    start = diamonds(page)
    slider = page.get_by_role("slider", name="Iteration k")
    interact(page, page.get_by_role("button", name="Play", exact=True).click)

    def moved() -> int:
        k = int(slider.get_attribute("aria-valuetext"))
        assert k >= 3, k
        assert _k_line(page, "gd") >= 3
        assert diamonds(page) != start
        return k
    eventually(moved, page, timeout_ms=20_000)
    page.get_by_role("button", name="Pause").click()
    eventually(lambda: page.get_by_role("button", name="Play", exact=True).is_visible() or _missing("the Play button"), page)
    page.wait_for_selector(IDLE)
    _no_more_runs(page)
    paused = int(slider.get_attribute("aria-valuetext"))
    assert _k_line(page, "gd") == paused
    screenshot(page, "compare_paused")

    # To the end, at 20 steps a second: it stops at the longest run's last step by itself.
    page.get_by_role("combobox", name="Speed").click()
    interact(page, page.get_by_role("option", name="20 steps/s").click)
    interact(page, page.get_by_role("button", name="Play", exact=True).click)
    longest = max(trace_for(DEFAULT, m).iterations for m in DEFAULT.methods)

    def at_the_end() -> None:
        assert slider.get_attribute("aria-valuetext") == str(longest)
        assert page.get_by_role("button", name="Play", exact=True).is_visible()
    eventually(at_the_end, page, timeout_ms=60_000)
    page.wait_for_selector(IDLE)
    _no_more_runs(page)
    assert _k_line(page, "gd") == trace_for(DEFAULT, "gd").iterations
    assert_healthy(page, watch)


def test_a_lesson_plays_to_its_iterate_and_stops(open_page, server) -> None:
    """A preset's link shows its lesson; "Play to k = 3" plays from 0 and stops at 3 by itself;
    the answer unfolds."""
    preset = PRESETS[0]
    page, watch = open_page(app_url(server.url, "", **setup_to_query(preset.setup)))
    wait_for_charts(page, minimum=expected_chart_count(preset.setup))
    lesson = page.locator("[data-testid='stMain'] .st-key-lesson")
    assert preset.story.question in lesson.inner_text()
    slider = page.get_by_role("slider", name="Iteration k")
    interact(page, page.get_by_role("button", name=f"Play to k = {preset.story.stop_at}").click)

    def stopped_there() -> None:
        assert slider.get_attribute("aria-valuetext") == str(preset.story.stop_at)
        assert page.get_by_role("button", name="Play", exact=True).is_visible()
        assert _k_line(page, "gd-optimal") == preset.story.stop_at
    eventually(stopped_there, page, timeout_ms=30_000)
    page.wait_for_selector(IDLE)
    _no_more_runs(page)
    lesson.get_by_text("Answer").click()
    eventually(lambda: lesson.get_by_text(re.compile("orthogonal to the old one")).is_visible() or _missing("answer"), page)
    lesson.scroll_into_view_if_needed()
    screenshot(page, "compare_lesson")
    assert_healthy(page, watch)


def test_open_a_share_link(open_page, server) -> None:
    setup = Setup(function="(x - 2)^2 + 2(y + 1)^2 + x y", x0_text="3, -4", methods=("gd", "momentum", "bfgs"),
                  options=Options(lr=0.05, beta=0.8, tol=1e-9, max_iter=500, c2=0.5))
    page, watch = open_page(app_url(server.url, **setup_to_query(setup)))

    def sidebar_shows_the_link() -> None:
        # the options of the chosen methods, each label naming the methods that read it
        lr, beta, c2 = "Learning rate η (GD fixed η, Momentum)", "Momentum β (Momentum)", "Wolfe c₂ (BFGS)"
        values = input_values(page, {
            "Function f": "textbox", "Start point x₀": "textbox", lr: "spinbutton", beta: "spinbutton",
            "Tolerance on ‖g‖": "spinbutton", "Max iterations": "spinbutton", c2: "spinbutton"})
        assert values == {"Function f": setup.function, "Start point x₀": setup.x0_text, lr: "0.05", beta: "0.8",
                          "Tolerance on ‖g‖": "1.0e-9", "Max iterations": "500", c2: "0.5"}, values
        tags = page.locator("[data-testid='stMultiSelect'] [data-testid='stMultiSelectTagsContainer']").inner_text()
        assert [METHODS[m].short_label in tags for m in setup.methods] == [True] * 3, tags
        assert "GD optimal η" not in tags
    eventually(sidebar_shows_the_link, page)
    assert query(page) == setup_to_query(setup)
    assert_tables_match_engine(page, setup)
    assert_healthy(page, watch, charts=expected_chart_count(setup))


def test_bad_input_shows_an_error_and_the_app_recovers(open_page) -> None:
    page, watch = open_page()
    submit_function(page, "x.__class__")
    sidebar_errors = page.locator("[data-testid='stSidebar'] [data-testid='stAlertContentError']")

    def refused() -> None:
        assert "unexpected '.'" in sidebar_errors.first.inner_text()
        assert page.get_by_text("Nothing to show yet.").is_visible()
        assert page.locator("[data-testid='stMain'] [data-testid='stDataFrame']").count() == 0
    eventually(refused, page)
    assert not exceptions(page)
    screenshot(page, "bad_input")
    submit_function(page, "x^2 + y^2")

    def recovered() -> None:
        assert sidebar_errors.count() == 0
        newton = method_panel(page, "Newton")
        assert (cell(newton, 2, 1), cell(newton, 3, 1)) == ("0", "0")
    eventually(recovered, page)
    setup = Setup(function="x^2 + y^2")
    assert_tables_match_engine(page, setup)
    assert_healthy(page, watch, charts=expected_chart_count(setup))


def test_derivatives_page(open_page, server) -> None:
    page, watch = open_page(width=1600, height=1400)
    interact(page, page.get_by_role("link", name="Derivatives").click)
    page.wait_for_url(re.compile(r"/derivatives\?"), timeout=30_000)
    page.wait_for_selector("[data-testid='stMain'] h1:has-text('Derivatives')", timeout=30_000)
    assert query(page) == setup_to_query(DEFAULT)  # the setup travels with the page
    latex = problem_for(DEFAULT.function).latex

    def symbolic_derivatives_shown(latex: dict) -> None:
        sources = latex_sources(page)
        for key, lhs in (("f", "f"), ("gradient", "g"), ("hessian", "H")):
            assert any(s.startswith(lhs) and s.endswith(f"= {latex[key]}") for s in sources), (key, sources)
    eventually(lambda: symbolic_derivatives_shown(latex), page)
    eventually(lambda: page.get_by_text("Eigenvalues of H").is_visible() or _missing("the eigenvalues"), page)
    assert_healthy(page, watch)
    screenshot(page, "derivatives")
    # The page's own address with a link works too.
    setup = Setup(function="x^2 + 3y^2", x0_text="1, 1")
    open_app(page, app_url(server.url, "derivatives", **setup_to_query(setup)))
    page.wait_for_selector("[data-testid='stMain'] h1:has-text('Derivatives')", timeout=30_000)
    eventually(lambda: symbolic_derivatives_shown(problem_for(setup.function).latex), page)
    assert_healthy(page, watch)


def test_phone_width(server, browser) -> None:
    path = SCREENSHOTS / "compare_phone.png"
    watch = capture_compare(browser, server.url, path, width=390, height=2400)
    assert path.stat().st_size > 10_000
    assert not watch.problems(), watch.problems()
    context = browser.new_context(viewport={"width": 390, "height": 2400})
    try:
        page = context.new_page()
        open_app(page, server.url)
        wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
        overflow = horizontal_overflow(page)
        # Nothing pushes the page sideways on a phone (tables scroll inside their own frame).
        assert overflow["documentWidth"] <= overflow["viewport"], overflow
        assert overflow["mainScrollWidth"] <= overflow["mainClientWidth"], overflow
        # The shared charts sit below the method panels: a second picture, scrolled down to them.
        page.get_by_role("heading", name="All methods together").evaluate("e => e.scrollIntoView({block: 'start'})")
        wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
        screenshot(page, "compare_phone_charts")
        assert not blank_charts(page)
    finally:
        context.close()


def test_dark_theme(server, browser) -> None:
    """The app follows the browser's dark colour scheme (Streamlit's default theme setting)."""
    path = SCREENSHOTS / "compare_dark.png"
    watch = capture_compare(browser, server.url, path, color_scheme="dark")
    assert not watch.problems(), watch.problems()
    context = browser.new_context(viewport={"width": 1600, "height": 2600}, color_scheme="dark")
    try:
        page = context.new_page()
        open_app(page, server.url)
        wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
        assert background_luminance(page) < 0.1
        contrast = page.evaluate(CONTRAST_JS)
        assert contrast["title"] >= 7, contrast  # body text on the background
        assert contrast["axisLabels"] >= 4.5, contrast  # chart labels are readable too
    finally:
        context.close()


CONTRAST_JS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).slice(0, 3).map(Number);
  const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = c => { const [r, g, b] = c.map(channel); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p); return (x + 0.05) / (y + 0.05); };
  const bg = rgb(getComputedStyle(document.querySelector("[data-testid='stApp']")).backgroundColor);
  const title = rgb(getComputedStyle(document.querySelector("[data-testid='stMain'] h1")).color);
  const visible = t => !/^(transparent|rgba\\(.*,\\s*0\\))$/.test(getComputedStyle(t).fill);  // an overlay's frame is invisible
  const labels = [...document.querySelectorAll("[data-testid='stVegaLiteChart'] .role-axis-label text")]
    .filter(visible).map(t => ratio(rgb(getComputedStyle(t).fill), bg));
  return {title: ratio(title, bg), axisLabels: labels.length ? Math.min(...labels) : 0};
}"""


def _picture(page):
    """The contour picture (its overlay at iterate k, drawn over it, takes no clicks)."""
    return page.locator("[data-testid='stVegaLiteChart']").filter(has_text="Paths on the contours").first


def _picture_overlay(page):
    return page.locator("[data-testid='stVegaLiteChart']").filter(has_text="Paths on the contours").nth(1)


def diamonds(page) -> list[str]:
    """Where the picture's markers of x_k are drawn (their SVG transforms; one per method)."""
    return _picture_overlay(page).locator("g.mark-symbol.role-mark path").evaluate_all(
        "ps => ps.map(p => p.getAttribute('transform'))")


@pytest.mark.parametrize("touch", [False, True], ids=["mouse", "phone-tap"])
def test_click_on_the_picture_starts_every_method_there(server, browser, touch) -> None:
    """A click (or a tap on a phone) on the contour picture: x0 becomes the nearest point of the
    picture's grid of round numbers, in the sidebar and the link, and every table starts there."""
    from ui.charts import round_step, view_box

    options = {"viewport": {"width": 390, "height": 2600}, "has_touch": True, "is_mobile": True} if touch else \
        {"viewport": {"width": 1600, "height": 2600}}
    context = browser.new_context(**options)
    try:
        page = context.new_page()
        watch = PageWatch().attach(page)
        open_app(page, server.url)
        wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
        picture = _picture(page)
        picture.scroll_into_view_if_needed()
        box = picture.bounding_box()
        assert box and box["width"] > 200, box
        # a point inside the plot area, left of and below the centre (the axes and legend sit outside it)
        x, y = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.45
        # every chart's drawing, marked: the spec does not change with the start, so each chart keeps
        # its Vega view and only its data are replaced (ui.vega: a click redraws ~0.3 s sooner)
        mark_chart_drawings(page)
        if touch:
            interact(page, lambda: page.touchscreen.tap(x, y))
        else:
            interact(page, lambda: page.mouse.click(x, y))
        traces = {m: trace_for(DEFAULT, m) for m in DEFAULT.methods}
        area = view_box(traces, np.array(DEFAULT.x0()))
        steps = [round_step(float(hi - lo)) for lo, hi in area]

        def started_at_the_click() -> tuple[float, ...]:
            x0 = tuple(float(v) for v in query(page)["x0"].split(","))
            assert x0 != DEFAULT.x0(), "x0 did not change"
            for value, (lo, hi), step in zip(x0, area, steps):
                assert lo <= value <= hi, (x0, area)
                assert abs(value / step - round(value / step)) < 1e-9, (value, step)  # a point of the grid
            # left of and below the centre of the box, as clicked
            assert x0[0] < area[0].mean() and x0[1] < area[1].mean() + 0.1 * (area[1][1] - area[1][0]), (x0, area)
            return x0
        x0 = eventually(started_at_the_click, page, timeout_ms=60_000)
        setup = Setup(DEFAULT.function, ", ".join(format(v, "g") for v in x0), DEFAULT.methods)
        assert_tables_match_engine(page, setup)
        assert page.get_by_role("textbox", name="Start point").input_value() == ", ".join(format(v, "g") for v in x0)
        kept = kept_chart_drawings(page)
        assert len(kept) == expected_chart_count(DEFAULT) and all(kept), kept
        assert not exceptions(page) and not watch.problems(), watch.problems()
        screenshot(page, "compare_clicked_start_phone" if touch else "compare_clicked_start")
    finally:
        context.close()


def test_the_quadratic_model_layer_is_drawn(open_page) -> None:
    """The toggle draws the model's contours and both steps on the picture (purple marks in the
    picture's SVG); at k = 0 of the seed setup the optimal step ends at (-9/13, 144/13)."""
    from ui.charts import MODEL_COLOR

    page, watch = open_page()
    wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
    interact(page, page.get_by_text("Draw the quadratic model at x_k").click)

    def drawn() -> int:
        count = _picture_overlay(page).locator(f"path[stroke='{MODEL_COLOR}'], path[fill='{MODEL_COLOR}']").count()
        assert count >= 3, count  # model contours, the two step lines, the two end points
        return count
    eventually(drawn, page)
    assert page.get_by_text(re.compile("quadratic model at x_0")).count() >= 1
    assert not blank_charts(page) and not exceptions(page) and not watch.problems(), watch.problems()
    _picture(page).scroll_into_view_if_needed()
    screenshot(page, "compare_model_layer")


def test_a_line_search_step_is_drawn(open_page, server) -> None:
    """gd-armijo on the seed setup at k = 0: three trials (1, 1/2 rejected; 1/4 accepted, as worked out
    in tests/test_line.py), drawn and said; the accepted eta is the engine's."""
    setup = Setup(DEFAULT.function, DEFAULT.x0_text, ("gd-armijo",))
    page, watch = open_page(app_url(server.url, "", **setup_to_query(setup)))
    wait_for_charts(page, minimum=expected_chart_count(setup))
    interact(page, page.get_by_text("Step k = 0 along its line").click)  # drawn when opened (lazily)
    eta = trace_for(setup, "gd-armijo").step_size[0]
    eventually(lambda: page.get_by_text(f"3 trials (2 rejected), η taken = {eta:.6g}").is_visible() or _missing("caption"), page)
    wait_for_charts(page, minimum=expected_chart_count(setup) + 1)  # the picture of the step among them
    assert not blank_charts(page) and not exceptions(page) and not watch.problems(), watch.problems()
    screenshot(page, "compare_line_search")


# A formula wider than the element that holds it (KaTeX's own box may overhang its glyphs by a
# pixel or two: that is not a cut)
OVERFLOWING_FORMULAS_JS = """() => [...document.querySelectorAll("[data-testid='stMain'] .katex-display")]
  .map(e => ({e, box: e.closest("[data-testid='stElementContainer']")}))
  .filter(({e, box}) => box && e.querySelector('.katex').scrollWidth > box.clientWidth + 1)
  .map(({e, box}) => ({text: e.textContent.slice(0, 60), formula: e.querySelector('.katex').scrollWidth,
                       space: box.clientWidth}))"""


@pytest.mark.parametrize("group", range(0, len(METHODS), 3))
def test_every_update_rule_fits_its_panel_three_abreast(open_page, server, group) -> None:
    """At 1500 px with three panels a row, no method's update rule is cut off (the BFGS rule was)."""
    methods = tuple(list(METHODS)[group:group + 3])
    setup = Setup("(1-x)^2 + 100(y-x^2)^2", "-1.2, 1", methods, Options(lr=1e-3, max_iter=50))
    page, watch = open_page(app_url(server.url, "", **setup_to_query(setup)), width=1500, height=1600)
    wait_for_charts(page, minimum=3)  # the page is drawn: the panels have their final width

    def nothing_cut_off() -> None:
        widths = page.evaluate("""() => [...document.querySelectorAll("[data-testid='stMain'] .katex-display")]
                                       .map(e => e.closest("[data-testid='stElementContainer']").clientWidth)""")
        assert len(widths) >= 1 + len(methods) and min(widths) > 250, widths  # laid out three abreast
        assert page.evaluate(OVERFLOWING_FORMULAS_JS) == []
    eventually(nothing_cut_off, page)
    assert not exceptions(page)


def test_a_class_sees_no_deploy_menu_a_local_reader_does(server, browser) -> None:
    """The same server opened as localhost (a reader's `streamlit run`) shows Streamlit's Deploy
    button; opened by a host name (a class on the hosted app) it does not."""
    from .support import CHROMIUM, CHROMIUM_ARGS

    args = [a for a in CHROMIUM_ARGS if not a.startswith("--host-resolver-rules")]
    args.append("--host-resolver-rules=MAP class.example 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
    # a second Chromium with its own name rules, from the module's Playwright (one per thread)
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=args, headless=True)
    try:
        for base, deploy in ((server.url, 1), (server.url.replace("127.0.0.1", "class.example"), 0)):
            page = chromium.new_context(viewport={"width": 1400, "height": 900}).new_page()
            open_app(page, base)
            page.locator("[data-testid='stMainMenu']").wait_for()  # the toolbar is drawn
            button = page.locator("[data-testid='stAppDeployButton']")
            if deploy:
                button.wait_for()
            assert button.count() == deploy, base
            assert not exceptions(page)
    finally:
        chromium.close()


def test_server_log_has_no_traceback(server) -> None:
    """Runs last in this module: nothing above made the server log a traceback."""
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]


def test_large_text_from_the_link(open_page, server) -> None:
    """?large=1: the page's text, the tables and the charts' labels are larger, the toggle is on,
    the link keeps it, and no update rule is cut off (two panels a row)."""
    page, watch = open_page(app_url(server.url, "", **setup_to_query(DEFAULT), large="1"), width=1500, height=2600)
    wait_for_charts(page, minimum=expected_chart_count(DEFAULT))
    sizes = page.evaluate("""() => ({
      text: parseFloat(getComputedStyle(document.querySelector("[data-testid='stMain'] [data-testid='stMarkdownContainer'] p")).fontSize),
      axis: Math.max(...[...document.querySelectorAll("[data-testid='stVegaLiteChart'] .role-axis-label text")]
                     .map(t => parseFloat(t.getAttribute('font-size') || getComputedStyle(t).fontSize)))})""")
    assert sizes["text"] >= 19 and sizes["axis"] >= 15, sizes
    assert page.get_by_role("switch", name="Large text (projector)").is_checked()
    assert query(page)["large"] == "1"
    assert page.evaluate(OVERFLOWING_FORMULAS_JS) == []
    screenshot(page, "compare_large_text")
    interact(page, page.get_by_text("Large text (projector)").click)  # off: normal sizes, the link drops it
    eventually(lambda: "large" not in query(page) or _missing("the link without large"), page)
    assert not exceptions(page) and not watch.problems(), watch.problems()
