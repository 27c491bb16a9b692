"""Fixtures for the end-to-end tests: a served app on a free loopback port, headless Chromium.

In CI (``CI=true``) a missing Chromium or Playwright is a failure; locally these tests are
skipped with the reason. Select them with ``-m e2e`` (browser) or ``-m load`` (load test).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from .support import CHROMIUM, StreamlitServer, launch_chromium  # noqa: E402

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "e2e: drives the served app in headless Chromium (tests/e2e)")
    config.addinivalue_line("markers", "load: concurrent browser sessions against one served app")


def _missing(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: browser tests must run in CI)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium_ready() -> str:
    """Playwright and Debian's Chromium are there (else skip locally, fail in CI)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing("playwright is not installed (pip install playwright==1.65.2)")
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is absent (apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture(scope="module")
def server(chromium_ready):
    """The app served on a free 127.0.0.1 port for one test module; killed (with its workers) after."""
    srv = StreamlitServer(name="browser").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def browser(chromium_ready):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()
