"""Debian's Chromium driven by the playwright package, for the real-browser tests.

playwright's own browser download cannot work offline, so the tests drive /usr/bin/chromium (`make test`
installs it when run as root) and skip, saying why, only where it is missing."""
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def sync_api():
    """playwright.sync_api, or a skip when no browser can be driven here."""
    api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    return api


def launch(playwright):
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
