"""The basins page in a real browser: the pictures draw, a hover names the pixel's start and where
it went, a click opens Compare from that start (the link carries it, the tables start there).

Run: ``python -m pytest -q tests/e2e/test_basins_browser.py`` (or ``-m e2e``).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from core.basins import View
from ui.links import Setup, setup_to_query

from .support import (PageWatch, app_url, background_luminance, blank_charts, eventually, exceptions, horizontal_overflow,
                      interact, open_app, screenshot, wait_for_charts)

pytestmark = pytest.mark.e2e

HIMMELBLAU = Setup("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", "0, 0", ("newton", "gd-armijo"))
PICTURE = View((0.0, 0.0), (0, 1), (-5, 5, -5, 5), 200)  # the page's default box and grid for this start
TOOLTIP = "#vg-tooltip-element"


def _fail(what: str):
    raise AssertionError(what)


def _first_cell_x(page) -> float:
    """x of row k = 0 in the first method's table (column 2: k, marker, then the variables)."""
    from .support import cell
    panel = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']").first
    return float(cell(panel, 2, 0))


def open_basins(browser, server, setup: Setup, width: int = 1600, height: int = 2400, **options):
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(60_000)
    page = context.new_page()
    watch = PageWatch().attach(page)
    open_app(page, app_url(server.url, "basins", **setup_to_query(setup)))
    page.wait_for_selector("[data-testid='stMain'] h1:has-text('Where does every start go?')")
    return context, page, watch


def picture_box(page, index: int) -> dict:
    """The plot area of the index-th basin picture, in page pixels (Vega's scene graph: the
    rect marks' group bounds)."""
    charts = page.locator("[data-testid='stVegaLiteChart']")
    box = charts.nth(index).locator("canvas").first.bounding_box()  # drawn on a canvas (ui.basins)
    assert box and box["width"] > 100, box
    return box


def tooltip_fields(page) -> dict[str, str]:
    """Vega's tooltip table, key -> value."""
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#vg-tooltip-element tr')].map(
        tr => [tr.querySelector('.key').textContent.replace(/:$/, '').trim(), tr.querySelector('.value').textContent.trim()]))""")


def test_basin_pictures_hover_and_click_to_compare(server, browser) -> None:
    context, page, watch = open_basins(browser, server, HIMMELBLAU)
    try:
        # two pictures (one per method) and the legend chart, each drawn with marks
        wait_for_charts(page, minimum=3, timeout_s=60)
        assert not blank_charts(page) and not exceptions(page) and not watch.problems(), watch.problems()
        screenshot(page, "basins_desktop")
        # hover the middle of Newton's picture: the tooltip names the start, the point reached, steps
        box = picture_box(page, 0)
        x, y = box["x"] + box["width"] * 0.62, box["y"] + box["height"] * 0.41

        def hovered() -> dict[str, str]:
            page.mouse.move(x, y)
            page.mouse.move(x + 1, y)
            fields = tooltip_fields(page)
            assert {"start x", "start y", "reached", "status", "iterations"} <= set(fields), fields
            return fields
        fields = eventually(hovered, page)
        sx, sy = float(fields["start x"]), float(fields["start y"])
        assert -5 < sx < 5 and -5 < sy < 5 and int(fields["iterations"]) >= 1
        # a click on that pixel opens Compare from that start (exactly the pixel's centre), by the
        # link that reproduces it: the sidebar, the URL and every table start there
        interact(page, lambda: page.mouse.click(x + 1, y))
        page.wait_for_selector("[data-testid='stMain'] h1:has-text('Compare the methods')", timeout=60_000)

        def compare_from_the_pixel() -> tuple[float, ...]:
            query = {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query).items()}
            assert urlsplit(page.url).path in ("", "/"), page.url
            x0 = tuple(float(v) for v in query["x0"].split(","))
            assert abs(x0[0] - sx) <= 2e-3 * max(1, abs(sx)) and abs(x0[1] - sy) <= 2e-3 * max(1, abs(sy)), (x0, sx, sy)
            assert query["f"] == HIMMELBLAU.function and query["methods"] == ",".join(HIMMELBLAU.methods)
            return x0
        x0 = eventually(compare_from_the_pixel, page, timeout_ms=60_000)
        shown = ", ".join(f"{v:g}" if float(f"{v:g}") == v else repr(v) for v in x0)
        eventually(lambda: page.get_by_role("textbox", name="Start point").input_value() == shown or _fail("x0 box"), page)
        panels = page.locator("[data-testid='stMain'] [data-testid='stDataFrame']")
        eventually(lambda: panels.count() == len(HIMMELBLAU.methods) or _fail(f"{panels.count()} tables"), page)
        first_x = eventually(lambda: _first_cell_x(page), page)
        assert first_x == x0[0], (first_x, x0)
        screenshot(page, "basins_clicked_compare")
        assert not exceptions(page) and not watch.problems(), watch.problems()
    finally:
        context.close()


def test_basins_on_a_phone_and_in_the_dark(server, browser) -> None:
    setup = Setup("x^4 - 2x^2", "0.3", ("gd-armijo", "newton"))
    context, page, watch = open_basins(browser, server, setup, width=390, height=2400)
    try:
        wait_for_charts(page, minimum=4, timeout_s=60)  # f over the interval, two strips, the legend
        assert not blank_charts(page) and not exceptions(page) and not watch.problems(), watch.problems()
        overflow = horizontal_overflow(page)
        assert overflow["documentWidth"] <= overflow["viewport"], overflow
        screenshot(page, "basins_phone_1d")
    finally:
        context.close()
    context, page, watch = open_basins(browser, server, HIMMELBLAU, color_scheme="dark")
    try:
        wait_for_charts(page, minimum=3, timeout_s=60)
        assert background_luminance(page) < 0.1 and not blank_charts(page) and not exceptions(page)
        screenshot(page, "basins_dark")
    finally:
        context.close()


def test_server_log_has_no_traceback(server) -> None:
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]
