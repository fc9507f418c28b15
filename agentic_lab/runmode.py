"""Quick mode versus full mode: the one place a notebook learns how much work to do.

Tests set AGENTIC_LAB_QUICK=1 so that every notebook runs top to bottom in at most 60 seconds;
a learner leaves it unset and gets the full run, whose time budget the notebook states up front.
"""
from __future__ import annotations

import os
import time

QUICK_ENV = "AGENTIC_LAB_QUICK"
SITE_ENV = "AGENTIC_LAB_SITE"
# When the package began to import: agentic_lab/__init__.py imports this module before torch and transformers load
# (5-7 s), so a notebook's first `announce` can count that time as the notebook's own.
IMPORT_STARTED = time.time()
_announced = False


def _flag(name: str) -> bool:
    return os.environ.get(name, "0").strip().lower() not in ("", "0", "false", "no")


def is_quick() -> bool:
    return _flag(QUICK_ENV)


def is_site() -> bool:
    """True while `make site` executes the notebooks for the course site (site/build.py sets it)."""
    return _flag(SITE_ENV)


def pick(full, quick):
    """`full` normally, `quick` when AGENTIC_LAB_QUICK=1: `steps = pick(full=300, quick=20)`."""
    return quick if is_quick() else full


def announce(full_minutes: float) -> float:
    """Print the mode and the full-mode budget; returns the start time for `report_time`: the first time, when the
    package began to import (the first cell's imports are part of what the notebook costs), after that, now."""
    global _announced
    mode = "QUICK mode (AGENTIC_LAB_QUICK=1): small steps, at most 60 s" if is_quick() else "FULL mode"
    print(f"{mode}. Full mode takes about {full_minutes:g} min on a 2-core CPU.")
    start = time.time() if _announced else IMPORT_STARTED
    _announced = True
    return start


def report_time(start: float) -> None:
    print(f"This notebook ran in {time.time() - start:.0f} s.")
