"""End-to-end tests: the served app in headless Chromium (browser and load tests).

This folder is a package on purpose: its conftest.py then imports as ``e2e.conftest`` and does
not replace ``tests/conftest.py`` in ``sys.modules["conftest"]`` (the AppTest modules do
``from conftest import run_app``, which would otherwise break whenever this folder is collected
first).
"""
