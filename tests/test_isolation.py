"""The worker pool's two lanes: a cheap parse never waits long behind expensive ones.

Before: at most MAX_WORKERS workers, each held for up to the whole 5 s budget, so four texts that
needed it made an ordinary new function wait 11 s. Now every call gets FAST_SLICE_S in the fast
lane, and only then the rest of its budget in the slow lane. The assertions are orderings (the
honest call is done before any hostile one), which hold however busy the machine is.
"""

from __future__ import annotations

import threading
import time

import pytest

from core import ParseError, build_problem
from core import isolation
from core.isolation import FAST_SLICE_S, MAX_WORKERS, SLOW_WORKERS, WorkerBusy, WorkerTimeout, call_isolated
from core.problem import ServerBusy
from core.symbolic import derive

SLOW_TEXT = "sin(" * 39 + "*".join(f"x{i}" for i in range(1, 21)) + ")" * 39  # derive: over a minute
HOSTILE_BUDGET_S = 5.0  # the app's default budget (core.problem.DEFAULT_TIMEOUT_S)


def test_an_honest_parse_is_served_before_four_hostile_ones_that_arrived_first():
    call_isolated(derive, ("x^2", None), timeout=60)  # a warm worker
    finished: dict[str, float] = {}
    outcomes: dict[str, str] = {}
    peak_workers = [isolation.live_workers()]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            peak_workers.append(isolation.live_workers())
            time.sleep(0.02)

    def hostile(i: int) -> None:
        try:
            call_isolated(derive, (SLOW_TEXT, None), timeout=HOSTILE_BUDGET_S)
            outcomes[f"hostile {i}"] = "finished"
        except WorkerTimeout:
            outcomes[f"hostile {i}"] = "timeout"
        except WorkerBusy:  # waited SLOW_QUEUE_WAIT_S behind the other long calls: refused, fast
            outcomes[f"hostile {i}"] = "busy"
        finished[f"hostile {i}"] = time.monotonic()

    sampler = threading.Thread(target=sample)
    sampler.start()
    threads = [threading.Thread(target=hostile, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # the hostile calls hold (or wait for) every fast-lane worker
    asked = time.monotonic()
    derivation = call_isolated(derive, ("4x^2 + y^2 + 3", None), timeout=HOSTILE_BUDGET_S)
    finished["honest"] = time.monotonic()
    print(f"honest parse behind 4 hostile ones: {finished['honest'] - asked:.2f} s")
    for thread in threads:
        thread.join(60)
    sampling.set()
    sampler.join(10)

    assert derivation.is_quadratic
    assert sorted(outcomes) == [f"hostile {i}" for i in range(4)]
    assert set(outcomes.values()) <= {"timeout", "busy"} and "timeout" in outcomes.values()
    assert finished["honest"] < min(t for name, t in finished.items() if name != "honest")
    # The lanes bound the processes: fast + slow, and one warm replacement starting after a kill.
    assert max(peak_workers) <= MAX_WORKERS + SLOW_WORKERS + 1, max(peak_workers)


def test_a_call_that_overruns_its_fast_slice_gets_the_rest_of_its_budget_in_the_slow_lane(monkeypatch):
    """A text needing longer than the slice but within its budget is served (not refused at the
    slice): the slow lane repeats it from the start with the budget that is left."""
    attempts: list[float] = []
    real = isolation._call_on_a_worker

    def recording(fn, args, timeout):
        attempts.append(timeout)
        return real(fn, args, timeout)

    monkeypatch.setattr(isolation, "_call_on_a_worker", recording)
    with pytest.raises(WorkerTimeout):
        call_isolated(derive, (SLOW_TEXT, None), timeout=FAST_SLICE_S + 0.5)
    assert attempts == [FAST_SLICE_S, pytest.approx(0.5)]
    attempts.clear()
    assert call_isolated(derive, ("x^2", None), timeout=30).is_quadratic
    assert attempts == [FAST_SLICE_S]  # an ordinary text: one attempt, in the fast lane


def test_a_full_slow_lane_says_the_server_is_busy_and_that_is_not_cached(monkeypatch):
    monkeypatch.setattr(isolation, "SLOW_QUEUE_WAIT_S", 0.0)
    taken = isolation._slow_slots.acquire(timeout=10)  # another long call holds the slow lane
    assert taken
    try:
        with pytest.raises(ServerBusy, match="busy"):
            build_problem(SLOW_TEXT, timeout=FAST_SLICE_S + 1.0)
    finally:
        isolation._slow_slots.release()
    assert issubclass(ServerBusy, ParseError)  # the pages show it as any refusal, with its message

    from ui import compute

    calls = []
    monkeypatch.setattr(compute, "build_problem", lambda text: calls.append(text) or (_ for _ in ()).throw(
        ServerBusy("the server is busy")))
    assert compute.load_problem("x^2 + 17y^2") == (None, "the server is busy")
    assert compute.load_problem("x^2 + 17y^2") == (None, "the server is busy")
    assert len(calls) == 2  # asked again: a busy server says nothing about the text
