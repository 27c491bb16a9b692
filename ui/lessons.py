"""A preset as a short lesson on Compare: what to look at, Play to the iterate that shows it, one
question for the class and its answer (folded). The texts live with the presets (ui.links)."""

from __future__ import annotations

import streamlit as st

from .links import Preset
from .player import play_to
from .text import md_escape


def lesson_card(preset: Preset, longest: int, key: str = "k") -> None:
    """The lesson of ``preset``, whose runs' longest has ``longest`` steps; its Play button moves
    the player of session key ``key``."""
    story = preset.story
    stop_at = min(story.stop_at, longest)
    with st.container(border=True, key="lesson"):
        st.markdown(f":material/school: **Lesson · {md_escape(preset.label)}** — {md_escape(preset.lesson)}")
        st.markdown(f"**Look at** {md_escape(story.look)}")
        st.markdown(f"**Ask the class:** {md_escape(story.question)}")
        st.button(f"Play to k = {stop_at}", icon=":material/play_arrow:", key="lesson_play", on_click=play_to,
                  args=(key, stop_at), help="k from 0, one step per frame, stopping where the lesson looks")
        with st.expander("Answer", icon=":material/lightbulb:"):
            st.markdown(md_escape(story.answer))
