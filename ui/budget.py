"""What one page run may cost the server, whatever a link asks: the one place for these limits.

A class shares one server process: one Python, one GIL, so a page that computes for 40 s makes
every other visitor wait. Every page run is therefore bounded in the work it does (method runs
and sweeps stop at a CPU-time budget with the status ``time_limit``; work stops when its
visitor leaves or asks for something else) and in the bytes it sends (tables are sent a page of
rows at a time, charts draw thinned traces, long formulas are shown entry by entry). README
"Hosting a class" gives what these limits cost and buy, measured.
"""

from __future__ import annotations

# CPU seconds of the script's thread (what the work costs the server, the same on a busy machine
# as on an idle one: a wall-clock budget cut ordinary runs short whenever the machine was busy).
# 0.8 s: ordinary runs need a tenth of that (the default sweep, 25 rates x 1000 steps: 0.17 s), and
# a page with both (Learning rate) stays under 3 CPU-s with compile and views on a busy machine.
RUNS_BUDGET_S = 0.8  # all method runs of one page run, shared among the methods
SWEEP_BUDGET_S = 0.8  # all runs of one learning-rate sweep
# all runs of one basin picture, every method from every start, trial runs included (a coarser grid
# when f or a method is slow): the default methods on Himmelblau need ~1 s at 200 x 200
BASINS_BUDGET_S = 2.0
GROWTH_BUDGET_S = 1.2  # all runs of one "cost vs n" measurement (asked for by a button; cached server-wide)
WALL_FACTOR = 4.0  # ... and at most this many times as long in wall time, on a starved machine
TABLE_ROWS = 100  # rows of an iteration table sent at once (the window follows the selected k)
PLAYING_TABLE_ROWS = 12  # while k plays: row k near the top, in view, and a frame stays small
TABLE_IN_VIEW = 6  # rows an iteration table shows without scrolling (280 px high): row k is kept among them
ROWS_ABOVE_K = 2  # ... below this many rows before it (k-1 and k-2 to compare with)
CHART_POINTS = 400  # iterates per method drawn in a chart; longer traces are thinned
LATEX_CHARS = 4_000  # a formula longer than this is not typeset as one block
TEXT_CHARS = 20_000  # ... and at most this much of its source is shown as text
TRACE_CACHE_BYTES = 96 * 2 ** 20  # pickled traces kept for reruns (server-wide)
SWEEP_CACHE_BYTES = 16 * 2 ** 20  # pickled sweep summaries kept (server-wide)
BASINS_CACHE_BYTES = 24 * 2 ** 20  # basin pictures kept (6 bytes a start a method: ~0.7 MB for 200x200, 3 methods)
PROBLEM_CACHE_BYTES = 12 * 2 ** 20  # compiled problems kept, counted by their pickled derivation (~7x that resident)
