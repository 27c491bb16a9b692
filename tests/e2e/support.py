"""Helpers shared by the browser test, the load test and ``scripts/screenshot.py``.

No pytest in here: the screenshot script uses the same code. Everything talks to 127.0.0.1 only:
the server listens there, and Chromium is started with a host resolver that cannot resolve any
other name (and every request a page makes is recorded, so a test can check where it went).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import weakref
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlencode, urlsplit

try:
    from playwright.sync_api import Error as PlaywrightError
except ImportError:  # the browser tests are then skipped (tests/e2e/conftest.py)
    PlaywrightError = AssertionError

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"
LOGS = ARTIFACTS / "logs"

HOST = "127.0.0.1"
RESERVED_PORTS = range(8599, 8611)  # used by other people's servers on this machine
CHROMIUM = os.environ.get("DESCENT_LAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
    # Nothing but the loopback address resolves: the tests cannot reach the outside world.
    f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {HOST}",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLK_TCK = os.sysconf("SC_CLK_TCK")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


# --------------------------------------------------------------------------- the server


def free_port() -> int:
    """A free TCP port on the loopback address (outside the ports other people use here)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in RESERVED_PORTS:
            return port
    raise RuntimeError("no free loopback port found")


def http_get(url: str, timeout: float = 5.0) -> str:
    if urlsplit(url).hostname != HOST:
        raise ValueError(f"refusing to fetch {url}: tests only talk to {HOST}")
    with _NO_PROXY.open(url, timeout=timeout) as response:
        return response.read().decode()


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name (in parentheses) may hold spaces
        children[ppid].append(int(entry))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (the sympy workers are the server's children)."""
    children, tree, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 if it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class StreamlitServer:
    """``python -m streamlit run app.py`` on a free loopback port; ``stop()`` ends it and its workers."""

    def __init__(self, *options: str, script: str = "app.py", name: str = "server") -> None:
        self.options, self.script, self.name = options, script, name
        self.port: int | None = None
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self._seen: set[int] = set()  # every descendant ever observed, to clean up after

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 90.0) -> "StreamlitServer":
        LOGS.mkdir(parents=True, exist_ok=True)
        last_error = ""
        for _attempt in range(3):  # another process may grab the free port before the server does
            self.port = free_port()
            self.log_path = LOGS / f"streamlit-{self.name}-{self.port}.log"
            command = [sys.executable, "-m", "streamlit", "run", self.script, "--server.headless=true",
                       f"--server.port={self.port}", f"--server.address={HOST}",
                       "--browser.gatherUsageStats=false",  # no telemetry requests from the page
                       "--server.fileWatcherType=none",  # others edit the tree while tests run
                       *self.options]
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                                stdin=subprocess.DEVNULL, env=env)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    if http_get(f"{self.url}/_stcore/health", timeout=2).strip() == "ok":
                        return self
                except OSError:
                    pass
                time.sleep(0.2)
            last_error = self.log_text()[-3000:]
            self.stop()
        raise RuntimeError(f"streamlit did not become healthy; log:\n{last_error}")

    def tree(self) -> list[int]:
        if self.process is None or self.process.poll() is not None:
            return []
        pids = process_tree(self.pid)
        self._seen.update(pids[1:])
        return pids

    def rss(self) -> tuple[int, int]:
        """(total RSS in bytes of the server and its descendants, number of processes)."""
        pids = self.tree()
        return sum(rss_bytes(p) for p in pids), len(pids)

    def metrics(self) -> dict[str, float]:
        """The server's /_stcore/metrics (Prometheus text) as {'name{labels}': value}."""
        values = {}
        for line in http_get(f"{self.url}/_stcore/metrics").splitlines():
            if line and not line.startswith("#"):
                key, _, value = line.rpartition(" ")
                try:
                    values[key] = float(value)
                except ValueError:
                    pass
        return values

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace") if self.log_path else ""
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None:
            return
        self.tree()  # remember the current workers
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        # Workers run in their own sessions and exit when their stdin closes; make sure.
        deadline = time.monotonic() + 5
        for pid in sorted(self._seen):
            while time.monotonic() < deadline and "core._worker" in _cmdline(pid):
                time.sleep(0.1)
            if "core._worker" in _cmdline(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self._seen.clear()


@contextmanager
def streamlit_server(*options: str, name: str = "server", timeout: float = 90.0) -> Iterator[StreamlitServer]:
    server = StreamlitServer(*options, name=name)
    try:
        yield server.start(timeout=timeout)
    finally:
        server.stop()


class MemorySampler:
    """Samples the RSS of the server and its children from /proc every ``interval`` seconds."""

    def __init__(self, server: StreamlitServer, interval: float = 0.2) -> None:
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, int, int]] = []  # (monotonic time, bytes, processes)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total, count = self.server.rss()
            self.samples.append((time.monotonic(), total, count))
            self._stop.wait(self.interval)

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak(self) -> int:
        return max((s[1] for s in self.samples), default=0)

    @property
    def peak_processes(self) -> int:
        return max((s[2] for s in self.samples), default=0)

    def settled(self, seconds: float = 2.0) -> int:
        """The median RSS over the next ``seconds`` (a quiet moment after a wave)."""
        start = time.monotonic()
        time.sleep(seconds)
        window = sorted(s[1] for s in self.samples if s[0] >= start)
        if not window:
            return self.server.rss()[0]
        return window[len(window) // 2]


def mib(value: float) -> float:
    return round(value / 2 ** 20, 1)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (and of their reaped children), from /proc."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


# --------------------------------------------------------------------------- links without a browser


@dataclass
class LinkVisit:
    """One page run as the server performs it for a link (no browser: what it costs the server)."""

    page: str
    query: str
    seconds: float = 0.0  # request sent -> script_finished received
    bytes_received: int = 0  # every ForwardMsg: what a browser would download over the socket
    finished: str = ""  # the script_finished status, "" if none arrived
    exceptions: list[str] = field(default_factory=list)  # tracebacks the page would show
    texts: list[str] = field(default_factory=list)  # markdown/alert/caption bodies, for checks


def _element_texts(element) -> tuple[str | None, str | None]:
    """(exception message, visible text) of one new element of a delta."""
    kind = element.WhichOneof("type")
    if kind == "exception":
        return f"{element.exception.type}: {element.exception.message}", None
    if kind == "markdown":
        return None, element.markdown.body
    if kind == "alert":
        return None, element.alert.body
    return None, None


class LinkClient:
    """A Streamlit session opened like a browser would, over the websocket alone. ``visit``
    asks for one page run of a link and reads what the server sends until the run finishes."""

    def __init__(self, base_url: str) -> None:
        from websockets.sync.client import connect

        port = urlsplit(base_url).port
        self._connection = connect(f"ws://{HOST}:{port}/_stcore/stream", subprotocols=["streamlit"],
                                   max_size=None, open_timeout=60, proxy=None)
        self.socket = self._connection.__enter__()

    def visit(self, page: str, query: str, timeout: float = 180.0) -> LinkVisit:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        request = BackMsg()
        request.rerun_script.query_string = query
        request.rerun_script.page_name = page
        visit = LinkVisit(page=page, query=query)
        started = time.perf_counter()
        self.socket.send(request.SerializeToString())
        while True:
            remaining = timeout - (time.perf_counter() - started)
            if remaining <= 0:
                raise TimeoutError(f"{page}?{query[:80]}: no script_finished within {timeout:.0f} s")
            payload = self.socket.recv(timeout=remaining)
            if isinstance(payload, str):
                continue
            visit.bytes_received += len(payload)
            message = ForwardMsg.FromString(payload)
            kind = message.WhichOneof("type")
            if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                error, text = _element_texts(message.delta.new_element)
                if error:
                    visit.exceptions.append(error)
                if text:
                    visit.texts.append(text)
            elif kind == "script_finished" and message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                visit.seconds = time.perf_counter() - started
                visit.finished = ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)
                return visit

    def close(self) -> None:
        self._connection.__exit__(None, None, None)

    def __enter__(self) -> "LinkClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --------------------------------------------------------------------------- pages


def app_url(base: str, path: str = "", **query: str) -> str:
    return f"{base}/{path.lstrip('/')}" + (f"?{urlencode(query)}" if query else "")


# Opened directly at a page's own address (/derivatives), Streamlit's frontend first looks for
# its server under that path (/derivatives/_stcore/health, .../host-config) and gets a 404
# before it falls back to /: streamlit/streamlit#7074 (open). Not an error of this app.
_KNOWN_SUBPAGE_PROBE = re.compile(rf"^http://{re.escape(HOST)}:\d+/[\w-]+/_stcore/[\w-]+$")


# Streamlit's client pings the server before it opens the websocket and, when a ping does not
# answer in time, logs these two errors and tries again (with backoff) until it connects: a
# visitor sees "Connecting" for a while, then the page. On a starved machine (two CPUs, a CI run,
# busy loops and 40 sessions) the pings can wait past the client's timeout. They are counted, not
# failures: whether the page then arrives whole is what the tests check.
_CONNECTION_RETRY = re.compile(r"^(Client error: DoInitPings timed out|Connection timed out\.)$")


@dataclass
class PageWatch:
    """Console errors, uncaught page errors and non-loopback requests of one page."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    connection_retries: int = 0

    def attach(self, page) -> "PageWatch":
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", self._on_request)
        return self

    def _on_console(self, message) -> None:
        if message.type == "error":
            where = (message.location or {}).get("url", "")
            if _KNOWN_SUBPAGE_PROBE.search(where) and "404" in message.text:
                return  # Streamlit's own base-path probe, see _KNOWN_SUBPAGE_PROBE
            if _CONNECTION_RETRY.match(message.text):
                self.connection_retries += 1  # see _CONNECTION_RETRY
                return
            self.console_errors.append(f"{message.text} [{where}]")

    def _on_request(self, request) -> None:
        scheme = urlsplit(request.url).scheme
        if scheme in ("http", "https", "ws", "wss") and urlsplit(request.url).hostname != HOST:
            self.foreign_requests.append(request.url)

    def problems(self) -> list[str]:
        return ([f"console error: {e}" for e in self.console_errors]
                + [f"page error: {e}" for e in self.page_errors]
                + [f"request off the loopback: {u}" for u in self.foreign_requests])


def launch_chromium(playwright):
    """Headless Debian Chromium (Playwright's own browser download does not work here)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class ScriptRuns:
    """Counts the runs the server finished for one page, from the ``script_finished`` messages on
    the page's Streamlit websocket.

    Why not the DOM: the frontend flips ``data-test-script-state`` to 'notRunning' the moment
    that message arrives, but draws the run's elements afterwards. On a busy machine that lag
    reached ~0.8 s (measured: script state 'notRunning' at 5.48 s, the function box still empty
    until 5.85 s, the tables at 6.27 s), so "idle, then a fixed settle delay" read half-drawn
    pages. A run that ends early because another one replaced it is not counted.
    """

    def __init__(self) -> None:
        self.finished = 0
        self.events: list[str] = []  # what went over the socket besides deltas: for failure reports

    def attach(self, page) -> "ScriptRuns":
        page.on("websocket", self._on_socket)
        return self

    def _note(self, event: str) -> None:
        self.events = self.events[-30:] + [f"{time.monotonic():.2f} {event}"]

    def _on_socket(self, socket) -> None:
        if socket.url.endswith("/_stcore/stream"):
            self._note("socket opened")
            socket.on("framereceived", self._on_frame)
            socket.on("framesent", lambda payload: self._note(f"sent {len(payload)} bytes"))
            socket.on("close", lambda _socket: self._note("socket closed"))

    def _on_frame(self, payload) -> None:
        from google.protobuf.message import DecodeError
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if isinstance(payload, str):
            return
        try:
            message = ForwardMsg.FromString(payload)
        except DecodeError:
            return
        kind = message.WhichOneof("type")
        if kind == "script_finished":
            self._note(f"script_finished {ForwardMsg.ScriptFinishedStatus.Name(message.script_finished)}")
            if message.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                self.finished += 1
        elif kind != "delta":
            self._note(kind)


_RUNS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def script_runs(page) -> ScriptRuns:
    """The run counter of ``page`` (attached on first use: before the page navigates)."""
    if page not in _RUNS:
        _RUNS[page] = ScriptRuns().attach(page)
    return _RUNS[page]


def wait_for_run(page, after: int, timeout_ms: float = 60_000) -> None:
    """Wait until the server has finished a run of this page beyond the first ``after`` and the
    frontend shows the script as idle. Polls (Playwright only delivers websocket events while
    one of its calls is waiting); a condition, not a delay."""
    runs = script_runs(page)
    deadline = time.monotonic() + timeout_ms / 1000
    while not (runs.finished > after and page.locator(IDLE).count() == 1):
        if time.monotonic() > deadline:
            shot = screenshot(page, f"timeout-{time.strftime('%H%M%S')}")
            raise TimeoutError(f"no finished run after {timeout_ms / 1000:.0f} s (runs finished: {runs.finished}; "
                               f"now {time.monotonic():.2f}; screenshot {shot}); socket events:\n"
                               + "\n".join(runs.events))
        page.wait_for_timeout(50)


def interact(page, action: Callable[[], object], timeout_ms: float = 60_000) -> None:
    """Do ``action`` (a click, a key press) and wait for the run it triggers to finish."""
    before = script_runs(page).finished
    action()
    wait_for_run(page, before, timeout_ms)


def eventually(check: Callable[[], object], page, timeout_ms: float = 30_000):
    """Retry ``check`` until it stops raising AssertionError (or a Playwright timeout): the
    frontend may still be drawing what the finished run sent. Returns what ``check`` returns."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            return check()
        except (AssertionError, PlaywrightError):
            if time.monotonic() > deadline:
                raise
        page.wait_for_timeout(100)


def open_app(page, url: str, timeout_ms: float = 90_000) -> None:
    """Go to ``url`` and wait until its run has finished: a title in the main area, a
    ``script_finished`` from the server, the script shown idle. What the run drew may still be
    on its way into the DOM: check it with :func:`eventually` or Playwright's ``expect``."""
    before = script_runs(page).finished
    page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_ms)
    wait_for_run(page, before, timeout_ms)


def exceptions(page) -> list[str]:
    return page.locator("[data-testid='stException']").all_inner_texts()


def method_panel(page, title: str):
    """The bordered column of one method on the Compare page, by its heading."""
    return page.locator("[data-testid='stColumn']").filter(
        has=page.get_by_role("heading", name=title, exact=True))


def cell(panel, column: int, row: int) -> str:
    """Text of one data-grid cell (0-based; column 0 is k, 1 the ▶ marker, 2.. x_k). The grid is
    drawn on a canvas; its accessible cells carry the raw values (no display format)."""
    return panel.locator(f"[data-testid='glide-cell-{column}-{row}']").text_content(timeout=10_000) or ""


def latex_sources(page) -> list[str]:
    """The TeX source of every formula on the page (KaTeX keeps it in a MathML annotation)."""
    return [a.text_content() or "" for a in page.locator("annotation[encoding='application/x-tex']").all()]


_CHARTS_JS = """
() => [...document.querySelectorAll("[data-testid='stVegaLiteChart']")].map(el => {
  const box = el.getBoundingClientRect();
  const svg = el.querySelector('svg.marks') || el.querySelector('svg');
  const canvas = el.querySelector('canvas');
  let marks = 0, kind = 'none', w = 0, h = 0;
  if (svg) {
    kind = 'svg';
    const r = svg.getBoundingClientRect(); w = r.width; h = r.height;
    marks = [...svg.querySelectorAll("g[class*='mark-'] path, g[class*='mark-'] line, g[class*='mark-'] rect")]
      .filter(e => (e.getAttribute('d') || e.tagName !== 'path')).length;
  } else if (canvas) {
    kind = 'canvas';
    const r = canvas.getBoundingClientRect(); w = r.width; h = r.height;
    try {
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 3; i < data.length; i += 4 * 7) if (data[i] > 0) marks++;
    } catch (e) { marks = -1; }
  }
  const title = (el.querySelector('.role-title-text') || {}).textContent || '';
  return {kind, width: w, height: h, boxWidth: box.width, boxHeight: box.height, marks, title};
})
"""


def mark_chart_drawings(page) -> None:
    """Mark every chart's drawing (its SVG node): see kept_chart_drawings."""
    page.evaluate("""() => document.querySelectorAll("[data-testid='stVegaLiteChart'] svg.marks")
                          .forEach(svg => { svg.__marked = true; })""")


def kept_chart_drawings(page) -> list[bool]:
    """For each chart on the page, whether its drawing is one mark_chart_drawings marked: a chart
    whose Vega view was kept (only its data replaced) keeps its SVG node."""
    return page.evaluate("""() => [...document.querySelectorAll("[data-testid='stVegaLiteChart'] svg.marks")]
                                 .map(svg => !!svg.__marked)""")


def charts(page) -> list[dict]:
    """Each Vega-Lite chart: renderer, drawn size and how many marks (or painted pixels) it has."""
    return page.evaluate(_CHARTS_JS)


def off_colour_points(page) -> list[dict]:
    """Charts whose point marks have a fill that none of their lines has (a point overlay that
    fell back to the theme's default colour instead of its method's colour)."""
    return page.evaluate("""() => [...document.querySelectorAll("[data-testid='stVegaLiteChart']")].map(el => {
      const title = (el.querySelector('.role-title-text') || {}).textContent || '';
      const lines = new Set([...el.querySelectorAll('g.mark-line path')].map(p => p.getAttribute('stroke')));
      const points = [...new Set([...el.querySelectorAll('g.mark-symbol path')].map(p => p.getAttribute('fill')))];
      // an unfilled symbol (a legend's line swatch, an invisible click target) has fill 'transparent': no colour to check
      return {title, lines: [...lines], stray: points.filter(c => lines.size && c !== 'transparent' && !lines.has(c))};
    }).filter(c => c.stray.length)""")


def blank_charts(page) -> list[dict]:
    return [c for c in charts(page) if c["kind"] == "none" or c["width"] <= 0 or c["height"] <= 0 or c["marks"] <= 0]


def wait_for_charts(page, minimum: int, timeout_s: float = 30) -> list[dict]:
    """Wait until at least ``minimum`` charts are present and none is blank (Vega draws async)."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = charts(page)
        if len(found) >= minimum and not blank_charts(page):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {minimum} drawn charts, got {found}")
        page.wait_for_timeout(250)


def horizontal_overflow(page) -> dict:
    """How far the document and the main block extend past the viewport on the right."""
    return page.evaluate("""() => {
      const vw = document.documentElement.clientWidth;
      const main = document.querySelector("[data-testid='stMain']");
      const over = [...document.querySelectorAll("[data-testid='stMain'] [data-testid]")]
        .filter(e => e.getBoundingClientRect().right > vw + 1 && e.getBoundingClientRect().width > 0)
        .filter(e => !e.closest("[data-testid='stDataFrame']"))  // the grid scrolls inside itself
        .map(e => e.dataset.testid);
      return {viewport: vw, documentWidth: document.documentElement.scrollWidth,
              mainScrollWidth: main ? main.scrollWidth : 0, mainClientWidth: main ? main.clientWidth : 0,
              overflowing: [...new Set(over)]};
    }""")


def background_luminance(page) -> float:
    """Relative luminance (0 black .. 1 white) of the app's background colour."""
    rgb = page.evaluate("getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor")
    r, g, b = (int(v) / 255 for v in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def screenshot(page, name: str, directory: Path = SCREENSHOTS, clip_to_content: bool = False) -> Path:
    """Save the viewport (Streamlit scrolls an inner container, so full_page would miss things;
    use a tall viewport). ``clip_to_content`` cuts the empty space below the last element."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / (name if name.endswith(".png") else f"{name}.png")
    page.evaluate("document.fonts.ready")
    clip = None
    if clip_to_content:
        bottom = page.evaluate("""() => {
          const blocks = document.querySelectorAll(
            "[data-testid='stMainBlockContainer'] [data-testid='stElementContainer']");
          return Math.max(0, ...[...blocks].map(e => e.getBoundingClientRect().bottom));
        }""")
        size = page.viewport_size
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], int(bottom) + 48)}
    page.screenshot(path=str(path), clip=clip, animations="disabled")
    return path


def capture_compare(browser, base_url: str, path: Path, width: int = 1600, height: int = 2600,
                    color_scheme: str = "light", clip_to_content: bool = False, **query: str) -> PageWatch:
    """Open the Compare page (``query`` = setup; default setup if empty), wait until every chart is
    drawn, save a screenshot to ``path``. Used by the browser test and scripts/screenshot.py."""
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=color_scheme)
    try:
        page = context.new_page()
        watch = PageWatch().attach(page)
        open_app(page, app_url(base_url, **query))
        page.wait_for_selector("[data-testid='stDataFrame']", timeout=30_000)
        wait_for_charts(page, minimum=3)
        screenshot(page, path.name, directory=path.parent, clip_to_content=clip_to_content)
        if exceptions(page):
            raise AssertionError(f"exception on the page: {exceptions(page)}")
        return watch
    finally:
        context.close()
