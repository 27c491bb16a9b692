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
        # blocked, not polling: a poll's wake-ups would move its clock (more so on a loaded
        # machine, where each costs more), and a waiting thread's clock must stand still
        self.go.wait()
        while not self.stop.is_set():
            busy(0.001)

    def __enter__(self) -> "Other":
        self.start()
        assert self.joined.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.go.set()
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


def test_a_thread_alone_never_waits():
    assert in_thread(lambda: (busy(SLACK_S * 2), fairshare.yield_to_lighter())[1]) == 0.0


def test_a_thread_that_did_not_join_joins_on_its_first_yield_not_as_an_ended_one_with_its_id():
    # Streamlit runs a fragment's rerun in a new thread that never calls join(), and the id of an
    # ended thread is given to the next one: the newcomer must not inherit the ended one's place
    ended = threading.Thread(target=lambda: None)
    ended.start()
    ended.join()
    out = []

    def fragment_rerun() -> None:
        me = threading.get_ident()
        with fairshare._lock:
            fairshare._joined[me], fairshare._charged[me] = ended, 5.0  # as if the ended one had this id
        before = fairshare._is_joined()
        fairshare.yield_to_lighter()
        out.append((before, fairshare._is_joined(), fairshare._charged[me]))
    thread = threading.Thread(target=fragment_rerun)
    thread.start()
    thread.join(30)
    assert out == [(False, True, 0.0)]


def test_a_waiting_lighter_thread_holds_a_heavy_one_back_only_once():
    with Other():  # joined, clock still: it waits for something else
        def heavy() -> tuple[float, float]:
            busy(2 * SLACK_S)
            return fairshare.yield_to_lighter(), fairshare.yield_to_lighter()
        first, second = in_thread(heavy)
    assert first == PATIENCE * SLICE_S  # looked PATIENCE slices for progress, saw none
    assert second == 0.0  # and does not wait for it again until its clock moves


def test_time_spent_letting_others_go_first_is_not_counted_by_the_wall_clock_backstop():
    with Other():
        def heavy() -> tuple[float, float, float]:
            busy(2 * SLACK_S)
            slept = fairshare.yield_to_lighter()
            wall = fairshare.wall_clock()  # read first: monotonic() after it can only be later
            return slept, wall, time.monotonic()
        slept, wall, monotonic = in_thread(heavy)
    assert slept == PATIENCE * SLICE_S
    assert wall <= monotonic - slept  # the run's backstop clock stood still while it let others go


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


# --------------------------------------------------------------------------- the gate of Play's frames


def test_pieces_at_the_gate_go_one_at_a_time_and_leave_page_runs_their_share() -> None:
    # Two visitors playing while a third visitor's page runs: their frames never overlap, and after
    # one that cost c seconds of CPU the next starts at least c (1/share - 1) later (1/2: c later).
    gate = fairshare.ShareGate(0.5, others_running=lambda: True)
    pieces: list[tuple[float, float, float]] = []  # (start, end, CPU cost)
    both = threading.Barrier(2)

    def play() -> None:
        both.wait()
        for _ in range(4):
            with gate.turn():
                start, cpu = time.monotonic(), time.thread_time()
                busy(0.005)
                pieces.append((start, time.monotonic(), time.thread_time() - cpu))

    threads = [threading.Thread(target=play) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pieces.sort()
    assert len(pieces) == 8
    for (_, end, cost), (next_start, _, _) in zip(pieces, pieces[1:]):
        assert next_start - end >= cost, (next_start - end, cost)


def test_frames_wait_only_while_another_page_runs() -> None:
    # On a clock that stands still, every gap is still to come: a visitor playing alone on a quiet
    # server never waits; while another visitor's page runs, each frame after the first waits
    # c (1/share - 1) for the CPU time c of the one before.
    slept: list[float] = []
    quiet = fairshare.ShareGate(0.5, others_running=lambda: False, clock=lambda: 100.0, sleep=slept.append)
    for _ in range(3):
        with quiet.turn():
            busy(0.002)
    assert slept == []
    busy_server = fairshare.ShareGate(0.25, others_running=lambda: True, clock=lambda: 100.0, sleep=slept.append)
    for _ in range(3):
        with busy_server.turn():
            busy(0.002)
    assert len(slept) == 2 and all(s >= 3 * 0.002 for s in slept), slept  # 1/0.25 - 1 = 3


def test_a_page_run_is_counted_for_the_other_threads_only() -> None:
    # The gate's default test: page runs (app.py's full runs) on other threads; a fragment's rerun
    # (a frame) is not one, even on a thread that served a page run before.
    assert not fairshare.in_page_run() and fairshare.other_page_runs() == 0
    inside, release = threading.Event(), threading.Event()

    def page() -> None:
        with fairshare.page_run():
            inside.set()
            release.wait()

    thread = threading.Thread(target=page)
    thread.start()
    inside.wait()
    try:
        assert fairshare.other_page_runs() == 1 and not fairshare.in_page_run()
        with fairshare.page_run():
            assert fairshare.in_page_run() and fairshare.other_page_runs() == 1  # its own is not counted
    finally:
        release.set()
        thread.join()
    assert fairshare.other_page_runs() == 0


def test_a_share_outside_0_1_is_refused() -> None:
    import pytest

    for share in (0, -0.5, 1.5):
        with pytest.raises(ValueError):
            fairshare.ShareGate(share)
