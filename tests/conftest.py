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
