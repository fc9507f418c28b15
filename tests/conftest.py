import os

import pytest
import torch

# Tests never touch the network for models: a name that is not a folder or cached fails fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny():
    """The shipped tiny model and its tokenizer, loaded once per test session."""
    from agentic_lab import load_model
    return load_model()


@pytest.fixture(scope="module")
def one_thread():
    """For modules of many tiny forwards: when the other core is busy, a second torch thread waiting on it
    made them up to 50x slower on a 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


_NOTEBOOK_TIMES: dict[str, tuple[float, float]] = {}


@pytest.fixture
def notebook_times():
    """Where each quick-mode notebook run records (wall seconds, 1-minute load average when it ended)."""
    return _NOTEBOOK_TIMES


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
    terminalreporter.write_line(f"{'all notebooks':32s} {total:6.1f} s   (budget {QUICK_MODE_SECONDS} s each)")
