"""The build script is deterministic and replaces the checkpoint folder atomically."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "data" / "build_tiny_model.py"


def build(out: Path) -> None:
    subprocess.run([sys.executable, str(BUILD), "--steps", "4", "--eval-tasks", "2", "--out", str(out)],
                   check=True, capture_output=True)


@pytest.mark.slow
def test_a_rebuild_gives_identical_weights_and_leaves_no_temporary_folders(tmp_path):
    build(tmp_path / "a")
    build(tmp_path / "b")
    assert (tmp_path / "a" / "model.safetensors").read_bytes() == (tmp_path / "b" / "model.safetensors").read_bytes()
    build(tmp_path / "a")  # over an existing checkpoint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "build_stats.json"} <= \
        {p.name for p in (tmp_path / "a").iterdir()}
