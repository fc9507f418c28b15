import os

import pytest
import torch

# Tests never touch the network for models: a name that is not a folder or cached fails fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# `make test` runs the suite in pytest-xdist workers, one per core, each on one torch thread (and so is every process a
# worker starts: notebook kernels, build scripts). A tiny model's ops are too small to keep two threads busy: on 2 cores
# two claim tests took 153 s side by side on one thread each against 189 s one after the other on two, and the whole
# suite 18-21 min of pytest in two workers against 31 min in one process (clean clones). A plain `pytest` is one
# process on all cores, as before.
WORKER = os.environ.get("PYTEST_XDIST_WORKER")
if WORKER:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
TRAINING_THREADS = 1 if WORKER else 2   # what a claim test trains on: the notebooks' 2 cores, or its worker's one


def pytest_collection_modifyitems(items):
    """The long tests first (slow claims, then notebooks), so that workers share them out at the start and the last
    minutes are short tests: a 3-minute claim test started last would keep one worker busy while the other idles."""
    def rank(item):
        return 0 if item.get_closest_marker("slow") else 1 if item.get_closest_marker("notebook") else 2
    items.sort(key=rank)   # stable: within each rank, the collection order


def torch_threads(n: int):
    """Run on n torch threads, then give back what was set (the body of the two fixtures below)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(n)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def training_threads():
    """For a slow claim test: train on TRAINING_THREADS torch threads."""
    yield from torch_threads(TRAINING_THREADS)


@pytest.fixture(scope="session")
def tiny():
    """The shipped tiny model and its tokenizer, loaded once per test session."""
    from agentic_lab import load_model
    return load_model()


@pytest.fixture(scope="module")
def one_thread():
    """For modules of many tiny forwards: when the other core is busy, a second torch thread waiting on it
    made them up to 50x slower on a 2-core machine."""
    yield from torch_threads(1)


_NOTEBOOK_TIMES: dict[str, tuple[float, float]] = {}


def pytest_runtest_logreport(report):
    """Collect each quick-mode notebook's time where the session ends: in the main process, also when the tests ran
    in xdist workers (their reports carry the test's user_properties across)."""
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "quick_mode_run":
                notebook, seconds, load = value
                _NOTEBOOK_TIMES[notebook] = (seconds, load)


def pytest_terminal_summary(terminalreporter):
    """Every notebook's quick-mode time against the 60 s budget, slow ones flagged, and the load they ran under."""
    if not _NOTEBOOK_TIMES:
        return
    from tests.test_notebooks import QUICK_MODE_SECONDS
    terminalreporter.section("quick-mode notebook times")
    for name, (seconds, load) in sorted(_NOTEBOOK_TIMES.items()):
        flag = "  OVER BUDGET" if seconds > QUICK_MODE_SECONDS else ""
        terminalreporter.write_line(f"{name:32s} {seconds:6.1f} s   load {load:4.1f}{flag}")
    total = sum(seconds for seconds, _ in _NOTEBOOK_TIMES.values())
    terminalreporter.write_line(f"{'all notebooks':32s} {total:6.1f} s   (budget {QUICK_MODE_SECONDS} s each, alone)")
