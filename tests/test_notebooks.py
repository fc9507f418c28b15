"""Every notebook runs top to bottom, headless, in quick mode, writing nothing into notebooks/; notebooks are stored
clean and numbered."""
import ast
import json
import os
import re
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# The budget is 60 s a notebook in quick mode on an idle 2-core machine; every run's time is printed at the end of
# the session (conftest.py) with the slow ones flagged. What fails the test is a generous ceiling, 3x the budget:
# when another job shared the machine, notebooks that take 40 s alone took up to 170 s, and only load differed.
QUICK_MODE_SECONDS = 60
CEILING_SECONDS = 3 * QUICK_MODE_SECONDS


def test_notebooks_are_numbered_as_in_the_course_plan():
    """Each notebook's number is its row in the course plan (the table in 00_tour), once. The plan's notebooks are
    written in stages, not always in order (10 before 09), so a number may be missing until its notebook exists."""
    names = [p.name for p in NOTEBOOKS]
    assert names, "no notebooks found"
    for name in names:
        assert re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", name), f"{name} is not named NN_topic.ipynb"
    tour = json.loads((NOTEBOOK_DIR / "00_tour.ipynb").read_text())
    plan = {int(n) for cell in tour["cells"] for n in re.findall(r"^\| (\d\d) \|", "".join(cell["source"]), re.M)}
    numbers = [int(n[:2]) for n in names]
    assert len(set(numbers)) == len(numbers), f"duplicate number in {names}"
    assert set(numbers) <= plan and numbers[:1] == [0], f"{names}: numbers not in the course plan {sorted(plan)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_states_its_full_mode_budget_first(path):
    """The first code cell says how long full mode takes, within the course's 5 minutes on 2 cores."""
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    stated = re.search(r"announce\(full_minutes=([0-9.]+)\)", first_code.source)
    assert stated and float(stated.group(1)) <= 5, first_code.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_label_writes_a_count_that_quick_mode_changes(path):
    """A plot title or printed label that says how many episodes a step plays computes it from the run's settings:
    written as a number ("64 episodes a step"), it was wrong in quick mode, which plays fewer."""
    nb = nbformat.read(path, as_version=4)
    literal = [line.strip() for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines()
               if re.search(r"\b\d+ episodes (a|per) step", line)]
    assert not literal, f"{path.name}: {literal}"


TRAINERS = {"grpo_train", "ppo_train", "expert_iteration_round", "train_on_episodes"}   # they update their model


def models_loaded_once(tree: ast.Module) -> set[str]:
    """Names bound to what `load_model` returned outside any loop or function: models that later cells share."""
    names = set()
    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            if (not nested and isinstance(child, ast.Assign) and isinstance(child.value, ast.Call)
                    and getattr(child.value.func, "id", "") == "load_model"):
                names.update(n.id for target in child.targets for n in ast.walk(target) if isinstance(n, ast.Name))
            visit(child, nested or isinstance(child, (ast.For, ast.While, ast.FunctionDef, ast.Lambda)))
    visit(tree, False)
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_training_takes_a_copy_of_a_shared_model(path):
    """A model that `load_model` returned to the whole notebook and then trained in place is measured as trained by
    any earlier cell run again after training: its 'before' would print after-training numbers. Training takes a
    copy, or a model loaded for that run alone (inside its loop)."""
    nb = nbformat.read(path, as_version=4)
    tree = ast.parse("\n".join(c.source for c in nb.cells if c.cell_type == "code" and not c.source.startswith("%")))
    shared = models_loaded_once(tree)
    local = {id(call): {n.id for n in ast.walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
             for function in ast.walk(tree) if isinstance(function, ast.FunctionDef)
             for call in ast.walk(function) if isinstance(call, ast.Call)}    # a function's own names shadow them
    in_place = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args
                and getattr(node.func, "attr", getattr(node.func, "id", "")) in TRAINERS):
            continue
        model = node.args[0]
        name = model.value if isinstance(model, ast.Subscript) else model     # models[arm] trains models
        if isinstance(name, ast.Name) and name.id in shared - local.get(id(node), set()):
            in_place.append(ast.unparse(model))
    assert not in_place, f"{path.name} trains {in_place} in place"


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom_in_quick_mode(path, monkeypatch, record_property):
    monkeypatch.setenv("AGENTIC_LAB_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    files = set(NOTEBOOK_DIR.rglob("*"))
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK_DIR)}}).execute()
    seconds = time.perf_counter() - start
    record_property("quick_mode_run", (path.name, seconds, os.getloadavg()[0]))   # printed at the end (conftest)
    written = sorted(str(p.relative_to(NOTEBOOK_DIR)) for p in set(NOTEBOOK_DIR.rglob("*")) - files)
    assert not written, f"{path.name} wrote {written} into notebooks/: exports go under runs/ at the repository root"
    assert seconds <= CEILING_SECONDS, f"{path.name} took {seconds:.0f} s in quick mode (budget {QUICK_MODE_SECONDS} s)"
