"""Imported once per server process (by app.py): load what the pages use, then freeze it.

Streamlit runs a full ``gc.collect(2)`` after every script run, a fragment's run (a frame of
Play) included. Over the ~170,000 objects of sympy, altair, pandas and streamlit that walk cost
~0.1-0.2 s of CPU per run (py-spy: 75% of a frame), and Python's own collector walks them too,
in the middle of a budgeted computation. Objects created by imports live as long as the process:
``gc.freeze()`` moves them out of every later collection. What was left of Streamlit's collection
(~4 ms a run, over what the process made since) is switched off in .streamlit/config.toml
(``runner.postScriptGC``); Python's own collector runs as usual.
"""

import gc

import altair  # noqa: F401
import pandas  # noqa: F401
import pyarrow  # noqa: F401
import sympy  # noqa: F401

from . import basins, charts, compute, kcharts, panels, player, sidebar, teaching  # noqa: F401

gc.freeze()
