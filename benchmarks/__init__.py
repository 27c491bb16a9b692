"""Performance figures of Descent Lab, measured in one run: ``python -m benchmarks``.

A benchmark, not a test: it prints each figure beside its goal and exits 0. The measurements
live in :mod:`benchmarks.suite`; ``tests/test_benchmarks_smoke.py`` runs them at tiny sizes.
"""

from .suite import (Row, cached_rerun, classic_start, cold_first_view, compiled_vs_symbolic, extended_rosenbrock,
                    fresh_process, fresh_texts, growth, run_loop_overhead, worker_start_up)

__all__ = ["Row", "cached_rerun", "classic_start", "cold_first_view", "compiled_vs_symbolic",
           "extended_rosenbrock", "fresh_process", "fresh_texts", "growth", "run_loop_overhead", "worker_start_up"]
