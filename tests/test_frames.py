"""ui.frames: what the tables and charts are sent (a window of rows, thinned traces)."""

from __future__ import annotations

import numpy as np
import pytest

from core import Options, build_problem, run
from ui.frames import long_iterates, ordinal, table_window, thinned, thinning_note


def test_a_table_is_sent_whole_while_row_k_is_in_view_else_as_a_window_from_just_above_k():
    # Row k stays among the rows a table shows without scrolling, two rows below the top
    assert table_window(50, 3, rows=100) == slice(0, 50)  # all fit, row 3 in view: all of them
    assert table_window(50, 10, rows=100) == slice(8, 50)
    assert table_window(1001, 0, rows=100) == slice(0, 100)
    assert table_window(1001, 500, rows=100) == slice(498, 598)
    assert table_window(1001, 1000, rows=100) == slice(998, 1001)  # at the end: the last rows, k in view
    assert table_window(1001, 5000, rows=100) == slice(998, 1001)  # k past the end: the last row


def test_short_traces_are_drawn_whole():
    rows, stride = thinned(300, limit=400)
    assert stride == 1 and rows.tolist() == list(range(300))


def test_long_traces_keep_pairs_ends_the_selected_k_and_turning_points():
    f = np.sin(np.arange(20_001) / 500.0)  # a few turning points
    rows, stride = thinned(20_001, limit=400, keep=(12_345,), values=f)
    assert stride > 1 and len(rows) <= 400 + 100 + 3
    assert {0, 20_000, 12_345} <= set(rows.tolist())
    starts = np.arange(0, 20_001, stride)
    assert set(starts.tolist()) <= set(rows.tolist()) and set((starts[:-1] + 1).tolist()) <= set(rows.tolist())
    turning = np.flatnonzero(np.diff(np.sign(np.diff(f))) != 0) + 1
    assert set(turning.tolist()) <= set(rows.tolist())


def test_a_zig_zag_stays_a_zig_zag_when_thinned():
    """gd-optimal on 4x^2 + y^2 alternates sides every step: every m-th point alone would put all
    the drawn points on one side; pairs keep both."""
    trace = run(build_problem("4x^2 + y^2", timeout=None), [15, 15], "gd-optimal", Options(tol=1e-300, max_iter=2000))
    frame = long_iterates({"gd-optimal": trace}, limit=100)
    assert len(frame) < len(trace.f)
    signs = np.sign(frame["x0"].to_numpy())
    assert (signs > 0).any() and (signs < 0).any()


@pytest.mark.parametrize("n, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
                                     (13, "13th"), (21, "21st"), (22, "22nd"), (34, "34th"), (112, "112th")])
def test_ordinals(n, text):
    assert ordinal(n) == text


def test_the_note_names_the_thinned_runs_only():
    p = build_problem("4x^2 + y^2", timeout=None)
    short = run(p, [15, 15], "newton")
    long = run(p, [15, 15], "gd", Options(lr=0.001, max_iter=5000))
    assert thinning_note({"newton": short}) is None
    note = thinning_note({"newton": short, "gd": long})
    assert note.startswith("Long runs are thinned in the charts (gd: every ") and "newton" not in note


def test_while_k_plays_the_table_is_a_short_window_with_row_k_second_from_the_top():
    from ui.budget import PLAYING_TABLE_ROWS
    from ui.frames import playing_window

    assert playing_window(PLAYING_TABLE_ROWS, 5) == slice(0, PLAYING_TABLE_ROWS)  # short: sent whole
    assert playing_window(99, 0) == slice(0, PLAYING_TABLE_ROWS)
    assert playing_window(99, 16) == slice(15, 15 + PLAYING_TABLE_ROWS)
    assert playing_window(99, 98) == slice(97, 99)  # at the end: the last rows, row k second
