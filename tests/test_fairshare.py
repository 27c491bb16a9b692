"""core.fairshare: the page run that has cost least goes first (no wall-clock limits here: what is
checked is who yields to whom, counted in slices)."""

from __future__ import annotations

import threading
import time

from core import fairshare
from core.fairshare import PATIENCE, SLACK_S, SLICE_S


def busy(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU time."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


class Other(threading.Thread):
    """A joined thread that computes when told to, and otherwise waits (its clock still)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.go, self.stop, self.joined = threading.Event(), threading.Event(), threading.Event()

    def run(self) -> None:
        fairshare.join()
        self.joined.set()
        while not self.stop.is_set():
            if self.go.wait(0.01):
                busy(0.001)

    def __enter__(self) -> "Other":
        self.start()
        assert self.joined.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.join(10)


def in_thread(fn) -> object:
    """Run ``fn`` in a fresh joined thread (a page run) and return what it returned."""
    out = []

    def body() -> None:
        fairshare.join()
        out.append(fn())
    thread = threading.Thread(target=body)
    thread.start()
    thread.join(30)
    return out[0]


def test_a_thread_that_did_not_join_or_is_alone_never_waits():
    assert fairshare.yield_to_lighter() == 0.0  # the test's own thread never joined
    assert in_thread(lambda: (busy(SLACK_S * 2), fairshare.yield_to_lighter())[1]) == 0.0


def test_a_waiting_lighter_thread_holds_a_heavy_one_back_only_once():
    with Other():  # joined, clock still: it waits for something else
        def heavy() -> tuple[float, float]:
            busy(2 * SLACK_S)
            return fairshare.yield_to_lighter(), fairshare.yield_to_lighter()
        first, second = in_thread(heavy)
    assert first == PATIENCE * SLICE_S  # looked PATIENCE slices for progress, saw none
    assert second == 0.0  # and does not wait for it again until its clock moves


def test_work_done_in_a_worker_counts_as_the_threads_own():
    with Other() as other:
        def charged() -> float:
            fairshare.charge(1.0)  # e.g. its function took 1 CPU-s to differentiate in a worker
            other.go.set()  # the other one now computes: it has cost far less than 1 s
            return fairshare.yield_to_lighter()
        slept = in_thread(charged)
    assert slept > 0  # waited for it (at least until its patience with a starved machine ran out)

    with Other() as other:
        def uncharged() -> float:
            other.go.set()
            return fairshare.yield_to_lighter()  # both have cost ~nothing: nobody is lighter
        assert in_thread(uncharged) == 0.0


def test_threads_that_ended_are_forgotten():
    in_thread(lambda: fairshare.charge(1.0))
    # joining prunes the ended ones (with what they were charged): only live threads are held
    assert in_thread(lambda: (len(fairshare._joined), len(fairshare._charged))) == (fairshare.joined_threads() + 1,) * 2
