"""The scripts behind the notebooks' quoted numbers (experiments/) and the benchmarks stay runnable: each parses, each
name it imports from agentic_lab still exists, each experiment is named by the notebook that quotes it, and each
benchmark ends on its RESULT line. Running them takes minutes to hours, so this is what a test can check cheaply: a
script with a syntax error in its docstring once went unnoticed for a session, its reference runs predating the edit."""
import ast
import importlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENTS = sorted((ROOT / "experiments").glob("*.py"))
BENCHMARKS = sorted((ROOT / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("path", EXPERIMENTS + BENCHMARKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_script_parses_and_what_it_imports_from_the_package_exists(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    assert ast.get_docstring(tree), f"{path.name} has no docstring saying what it measures and how to run it"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "agentic_lab":
            module = importlib.import_module(node.module)
            for alias in node.names:
                submodule = hasattr(module, "__path__") and importlib.util.find_spec(f"{node.module}.{alias.name}")
                assert hasattr(module, alias.name) or submodule, f"{path.name}: {node.module} has no {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "agentic_lab":
                    importlib.import_module(alias.name)


def test_every_experiment_is_named_by_its_notebook_and_every_named_script_exists():
    """experiments/NN_*.py quotes numbers for notebook NN: that notebook names it, and what a notebook or the README
    names is there."""
    notebooks = {p.name[:2]: p.read_text() for p in (ROOT / "notebooks").glob("*.ipynb")}
    for path in EXPERIMENTS:
        number = path.name[:2]
        assert number in notebooks, f"{path.name}: no notebook {number}"
        assert f"experiments/{path.name}" in notebooks[number], f"notebook {number} does not name {path.name}"
    texts = list(notebooks.values()) + [(ROOT / "README.md").read_text()]
    named = {name for text in texts for name in re.findall(r"(?:experiments|benchmarks)/[\w.]+\.py", text)}
    missing = sorted(name for name in named if not (ROOT / name).exists())
    assert not missing, f"named but not in the repository: {missing}"


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_prints_its_result_line_last(path):
    """Every benchmark's last line is `RESULT <name> <value>`: its last print is that line."""
    prints = [node for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)
              and getattr(node.func, "id", None) == "print"]
    last = max(prints, key=lambda node: (node.lineno, node.col_offset))
    assert ast.unparse(last.args[0]).lstrip("f'\"\\n").startswith("RESULT "), f"{path.name}: last print is not RESULT"
