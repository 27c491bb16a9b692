"""ui.compute: the byte-bounded problem cache, the shared run budget, the visitor check."""

from __future__ import annotations

import threading
from dataclasses import astuple
from types import SimpleNamespace

import pytest

from core import Options
from ui import compute
from ui.compute import ByteBoundedCache


def test_cache_evicts_least_recently_used_entries_by_bytes():
    cache: ByteBoundedCache[str] = ByteBoundedCache(max_bytes=100)
    for key in "abc":
        assert cache.get(key, lambda key=key: (key.upper(), 40)) == key.upper()
    # a (40) + b (40) + c (40) > 100: a, the oldest, went
    assert len(cache) == 2 and cache.bytes == 80
    builds = []
    cache.get("b", lambda: builds.append("b") or ("B", 40))  # a hit: no build, b is now the newest
    cache.get("d", lambda: ("D", 40))  # evicts c, not b
    assert builds == []
    assert cache.get("b", lambda: ("rebuilt", 40)) == "B"
    assert cache.get("c", lambda: ("C again", 40)) == "C again"


def test_an_entry_larger_than_the_bound_is_returned_and_kept_alone():
    cache: ByteBoundedCache[str] = ByteBoundedCache(max_bytes=100)
    cache.get("small", lambda: ("s", 10))
    assert cache.get("huge", lambda: ("h", 500)) == "h"
    assert len(cache) == 1 and cache.bytes == 500
    cache.get("next", lambda: ("n", 10))
    assert len(cache) == 1 and cache.bytes == 10


def test_two_sessions_asking_for_one_new_key_share_one_build():
    cache: ByteBoundedCache[int] = ByteBoundedCache(max_bytes=10 ** 6)
    started, release, builds = threading.Event(), threading.Event(), []

    def build() -> tuple[int, int]:
        builds.append(1)
        started.set()
        release.wait(10)
        return 42, 1

    results = []
    first = threading.Thread(target=lambda: results.append(cache.get("f", build)))
    first.start()
    assert started.wait(10)
    second = threading.Thread(target=lambda: results.append(cache.get("f", build)))
    second.start()
    release.set()
    first.join(10)
    second.join(10)
    assert results == [42, 42] and builds == [1]


def test_a_failed_build_lets_the_next_caller_build_again():
    cache: ByteBoundedCache[int] = ByteBoundedCache(max_bytes=100)
    with pytest.raises(RuntimeError):
        cache.get("k", lambda: (_ for _ in ()).throw(RuntimeError("boom")))
    assert cache.get("k", lambda: (7, 1)) == 7


def test_problems_and_errors_are_cached_on_the_normalised_text():
    problem, error = compute.load_problem("4x^2+y^2")
    assert error is None and compute.load_problem("4x^2 + y^2")[0] is problem
    assert compute.load_problem("x.__class__") == (None, compute.load_problem("x.__class__")[1])
    assert "unexpected" in compute.load_problem("x.__class__")[1]


def test_methods_share_the_budget_and_every_one_gets_some(monkeypatch):
    """A fake clock: every run uses its whole share; the page's runs then end at the budget."""
    now, shares = [0.0], []

    def fake_run_method(text, x0, method, options, budget):
        shares.append(budget)
        now[0] += budget
        return method

    monkeypatch.setattr(compute, "time", SimpleNamespace(thread_time=lambda: now[0]))
    monkeypatch.setattr(compute, "run_method", fake_run_method)
    traces = compute.run_methods("x^2", (1.0,), ("gd", "newton", "bfgs", "momentum"), Options(), budget_s=1.0)
    assert traces == {m: m for m in ("gd", "newton", "bfgs", "momentum")}
    assert shares == pytest.approx([0.25] * 4)
    assert now[0] == pytest.approx(1.0)


def test_a_method_after_a_slow_one_still_gets_a_quarter_share(monkeypatch):
    now, shares = [0.0], []

    def fake_run_method(text, x0, method, options, budget):
        shares.append(budget)
        now[0] += 5.0 if method == "gd" else budget  # gd overran (e.g. one huge step)
        return method

    monkeypatch.setattr(compute, "time", SimpleNamespace(thread_time=lambda: now[0]))
    monkeypatch.setattr(compute, "run_method", fake_run_method)
    compute.run_methods("x^2", (1.0,), ("gd", "newton"), Options(), budget_s=1.0)
    assert shares == pytest.approx([0.5, 1.0 / 8])


def test_the_visitor_check_is_inert_outside_a_served_app():
    assert compute.visitor_gone()() is False


def test_the_streamlit_api_the_visitor_check_relies_on_is_there():
    """Runtime.is_active_session: if an upgrade drops it, the check silently never fires."""
    from streamlit.runtime import Runtime

    assert callable(getattr(Runtime, "is_active_session", None))
    assert callable(getattr(Runtime, "exists", None))


def test_a_cached_run_is_one_run(monkeypatch):
    compute.run_method.clear()
    key = astuple(Options(max_iter=50))
    first = compute.run_method("x^2 + 3y^2", (1.0, 1.0), "gd", key, 5.0)
    calls = []
    monkeypatch.setattr(compute, "run", lambda *a, **k: calls.append(1))
    again = compute.run_method("x^2 + 3y^2", (1.0, 1.0), "gd", key, 0.001)  # the budget is not in the key
    assert calls == [] and again.x.tolist() == first.x.tolist()
