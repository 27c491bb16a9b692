"""Descent Lab: type a function, compare gradient descent and Newton's method side by side.

Run with ``streamlit run app.py``. This entry file draws the setup sidebar (shared by every
page) and hands over to the page chosen in the navigation.
"""

import streamlit as st

import ui.startup  # noqa: F401 - once per process: the libraries loaded, then kept out of garbage collection
from ui.sidebar import setup_for_pages

st.set_page_config(page_title="Descent Lab", page_icon="⛰️", layout="wide")

PAGES = [
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
    st.Page("pages/derivatives.py", title="Derivatives", icon=":material/functions:"),
    st.Page("pages/learning_rate.py", title="Learning rate", icon=":material/speed:"),
    st.Page("pages/theory.py", title="Theory vs measurement", icon=":material/science:"),
    st.Page("pages/one_d.py", title="1-D: optimal rate = Newton", icon=":material/show_chart:"),
    st.Page("pages/basins.py", title="Where every start goes", icon=":material/grain:"),
]

navigation = st.navigation(PAGES)
with setup_for_pages():
    navigation.run()
