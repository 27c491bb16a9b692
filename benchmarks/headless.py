"""A visitor who presses Play and never draws: Streamlit's websocket protocol spoken from Python.

A class plays on many machines and shares one server; in a benchmark on one machine, a browser
per player would measure the browsers. This client asks the server for exactly what a visitor's
browser asks for - the page's run, a click on Play, then the next frame whenever the fragment's
timer says (Streamlit's ``auto_rerun`` message, as its frontend does) - and counts the frames the
server finished. Nothing is drawn, so the server alone is measured.
"""

from __future__ import annotations

import threading
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class HeadlessPlayer(threading.Thread):
    """Opens ``url``'s page (``query``: its link), presses the button labelled ``play`` once the
    page has run, and keeps asking for frames until ``stop()``. ``frames``: fragment runs the server
    finished; ``error``: what went wrong, if anything."""

    def __init__(self, url: str, query: str = "", play: str = "Play") -> None:
        super().__init__(daemon=True)
        self.stream = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.query, self.play = query, play
        self.frames = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._interval: float | None = None
        self._fragment = ""
        self._play_id: str | None = None
        self._pressed = False
        self._next_frame = 0.0

    def stop(self) -> None:
        self._stop.set()

    def _send(self, socket, fragment: str = "", auto: bool = False, trigger: str | None = None) -> None:
        message = BackMsg()
        state = message.rerun_script
        state.query_string = self.query
        state.page_script_hash = ""
        if fragment:
            state.fragment_id, state.is_auto_rerun = fragment, auto
        if trigger:
            widget = state.widget_states.widgets.add()
            widget.id, widget.trigger_value = trigger, True
        socket.send(message.SerializeToString())

    def _receive(self, socket, payload: bytes) -> None:
        message = ForwardMsg.FromString(payload)
        kind = message.WhichOneof("type")
        if kind == "stop_auto_rerun" and self._fragment in message.stop_auto_rerun.fragment_ids:
            self._interval = None
        elif kind == "auto_rerun":
            self._interval, self._fragment = message.auto_rerun.interval, message.auto_rerun.fragment_id
            self._next_frame = time.monotonic() + self._interval
        elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            if element.WhichOneof("type") == "button" and element.button.label == self.play:
                self._play_id = element.button.id
        elif kind == "script_finished":
            if self._interval is not None and self._pressed:
                self.frames += 1
            if self._play_id and not self._pressed:
                self._pressed = True
                self._send(socket, trigger=self._play_id)

    def run(self) -> None:
        try:
            with connect(self.stream, subprotocols=["streamlit"], max_size=None, open_timeout=60) as socket:
                self._send(socket)
                while not self._stop.is_set():
                    now = time.monotonic()
                    if self._interval is not None and now >= self._next_frame:
                        self._send(socket, fragment=self._fragment, auto=True)
                        self._next_frame = now + self._interval
                    wait = (self._next_frame - now) if self._interval is not None else 0.1
                    try:
                        payload = socket.recv(timeout=max(0.001, min(wait, 0.1)))
                    except TimeoutError:
                        continue
                    if isinstance(payload, bytes):
                        self._receive(socket, payload)
        except (OSError, ConnectionClosed) as err:
            self.error = f"{type(err).__name__}: {err}"
