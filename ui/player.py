"""Play k: step back, play / pause, step forward and "to the end" beside an iteration slider.

While k plays, the page's fragment is declared with ``run_every`` (one frame per rerun of the
fragment alone: no sympy, no run loop, the traces are the arguments of the last full run); each
frame moves k by one. Starting, pausing and changing speed rerun the page once, because a
fragment's timer is set where the page declares it. The timer lives in the visitor's browser:
when the tab closes, the frames stop.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext

import streamlit as st

from core import fairshare

SPEEDS = (1, 2, 5, 10, 20)  # steps per second
DEFAULT_SPEED = 5
PACE_FRAMES = 8  # the pace shown is measured over this many frames ...
SLOW_PACE = 0.8  # ... and said when it falls below this share of the speed asked
clock = time.monotonic  # when a frame came (a name of this module's own: tests set the clock)


def _playing(key: str) -> str:
    return f"{key}_playing"


def _speed(key: str) -> str:
    return f"{key}_speed"


def _acted(key: str) -> str:  # set by every control: that rerun is the visitor's, not a frame
    return f"{key}_acted"


def _declared(key: str) -> str:  # the interval the page declared its fragment with
    return f"{key}_declared"


def _value(key: str) -> str:  # k itself; the slider (session key ``key``) shows it when paused
    return f"{key}_value"


def _stop_at(key: str) -> str:  # where Play stops before the end (a lesson's iterate)
    return f"{key}_stop_at"


def _frame_times(key: str) -> str:  # when the last frames came (time.monotonic()), for the pace
    return f"{key}_frame_times"


def _pace(key: str, frame: bool) -> float | None:
    """Steps per second over the last PACE_FRAMES frames (None until there are enough); a run
    that is not a frame starts the count again."""
    times = st.session_state.get(_frame_times(key), []) if frame else []
    if frame:
        times = (times + [clock()])[-PACE_FRAMES:]
    st.session_state[_frame_times(key)] = times
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) == PACE_FRAMES and times[-1] > times[0] else None


def _timer_frame(key: str) -> bool:
    """Whether this run is Play's next frame: playing, and no control of the player touched."""
    return bool(st.session_state.get(_playing(key)) and not st.session_state.get(_acted(key)))


def is_playing(key: str) -> bool:
    return bool(st.session_state.get(_playing(key)))


def play_interval(key: str) -> float | None:
    """Seconds between frames while k plays, else None: the page's full run declares the
    fragment that holds the player with ``st.fragment(run_every=play_interval(key))``."""
    interval = 1.0 / st.session_state.get(_speed(key), DEFAULT_SPEED) if st.session_state.get(_playing(key)) else None
    st.session_state[_declared(key)] = interval
    return interval


def frame_turn(key: str) -> AbstractContextManager:
    """Where a page does its part at k: a frame of Play (the timer's rerun of the fragment alone,
    no control touched) waits for its turn at the server-wide gate (core.fairshare.PLAY_FRAMES:
    one frame at a time, at most half the interpreter while pages run); anything else goes at
    once, the visitor's own clicks while playing (a full run of the page) among them."""
    return fairshare.PLAY_FRAMES.turn() if _timer_frame(key) and not fairshare.in_page_run() else nullcontext()


def _step(key: str, to: int, longest: int) -> None:
    st.session_state[_value(key)] = max(0, min(to, longest))
    st.session_state[_playing(key)] = False
    st.session_state.pop(_stop_at(key), None)
    st.session_state[_acted(key)] = True


def _set_playing(key: str, playing: bool, longest: int) -> None:
    if playing and st.session_state.get(_value(key), 0) >= longest:
        st.session_state[_value(key)] = 0  # play again from the start
    st.session_state[_playing(key)] = playing
    st.session_state.pop(_stop_at(key), None)
    st.session_state[_acted(key)] = True


def play_to(key: str, stop_at: int) -> None:
    """A callback: play k from 0 and stop at ``stop_at`` (a lesson's "Play to k = N")."""
    st.session_state[_value(key)] = 0
    st.session_state[_playing(key)] = stop_at > 0
    st.session_state[_stop_at(key)] = stop_at
    st.session_state[_acted(key)] = True


def _touched(key: str) -> None:
    st.session_state[_acted(key)] = True


def _slid(key: str) -> None:
    st.session_state[_value(key)] = st.session_state[key]
    _touched(key)


def player(label: str, longest: int, key: str, help: str | None = None) -> int:
    """The controls and the slider over k = 0..longest (session key ``key``); returns k."""
    k = min(st.session_state.get(_value(key), st.session_state.get(key, 0)), longest)  # a new setup may be shorter
    frame = _timer_frame(key)
    pace = _pace(key, frame)
    if frame:
        k = min(k + 1, longest)  # a frame: the timer reran the fragment
        if k >= min(longest, st.session_state.get(_stop_at(key), longest)):
            st.session_state[_playing(key)] = False
            st.session_state.pop(_stop_at(key), None)
    st.session_state[_value(key)] = k
    st.session_state[_acted(key)] = False
    playing = st.session_state.get(_playing(key), False)
    still = longest == 0
    with st.container(horizontal=True, vertical_alignment="center", gap="small", key=f"{key}_player"):
        st.button("Back", icon=":material/skip_previous:", key=f"{key}_back", disabled=still or k == 0,
                  on_click=_step, args=(key, k - 1, longest), help="one step back")
        # Two buttons, not one relabelled: Streamlit replays a click whose run the next frame
        # interrupted, with the callback arguments of the latest run; on one shared key a Pause
        # replayed after the button had become Play started playing again.
        if playing:
            st.button("Pause", icon=":material/pause:", key=f"{key}_pause", on_click=_set_playing,
                      args=(key, False, longest), type="primary", help="stop at this k")
        else:
            st.button("Play", icon=":material/play_arrow:", key=f"{key}_play", disabled=still, on_click=_set_playing,
                      args=(key, True, longest), type="primary", help="move k forward by itself, one step per frame")
        st.button("Forward", icon=":material/skip_next:", key=f"{key}_forward", disabled=still or k >= longest,
                  on_click=_step, args=(key, k + 1, longest), help="one step forward")
        st.button("To the end", icon=":material/last_page:", key=f"{key}_end", disabled=still or k >= longest,
                  on_click=_step, args=(key, longest, longest), help=f"k = {longest}, the longest run's last step")
        st.selectbox("Speed", SPEEDS, index=SPEEDS.index(DEFAULT_SPEED), key=_speed(key), on_change=_touched,
                     args=(key,), format_func=lambda s: f"{s} step{'s' if s != 1 else ''}/s", width=150,
                     label_visibility="collapsed", help="steps per second while playing")
    if playing:
        # Shown, not touched: the browser reports a slider's value one frame late, and that stale
        # value must not move k back (a separate key; pause to drag).
        st.session_state[f"{key}_playing_at"] = k
        st.slider(label, 0, max(longest, 1), key=f"{key}_playing_at", disabled=True, help=help)
        speed = st.session_state.get(_speed(key), DEFAULT_SPEED)
        if pace is not None and pace < SLOW_PACE * speed:
            st.caption(f"Playing at {pace:.1f} steps/s, not {speed}: the server takes the frames of everyone "
                       "playing now in turn, so that every other page still answers at once.")
    else:
        st.session_state[key] = k
        k = st.slider(label, 0, max(longest, 1), key=key, disabled=still, help=help, on_change=_slid, args=(key,))
    wanted = 1.0 / st.session_state.get(_speed(key), DEFAULT_SPEED) if st.session_state.get(_playing(key)) else None
    if _declared(key) in st.session_state and wanted != st.session_state[_declared(key)]:
        st.rerun(scope="app")  # start, stop or a new speed: the page declares the fragment's timer again
    return k
