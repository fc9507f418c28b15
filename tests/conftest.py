import os

import pytest

# Tests never touch the network for models: a name that is not a folder or cached fails fast.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny():
    """The shipped tiny model and its tokenizer, loaded once per test session."""
    from agentic_lab import load_model
    return load_model()
