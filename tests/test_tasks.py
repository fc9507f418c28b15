import random

import pytest

from agentic_lab.actions import parse_action
from agentic_lab.tasks import (FAMILIES, Task, answer, family, reaches_goal, read_record, record_note,
                               sample_mixture, sample_tasks, task_split)
from agentic_lab.world import build_world, fact_table


@pytest.mark.parametrize("name", list(FAMILIES))
def test_reference_solutions_pass_their_own_checker(name):
    for task in sample_tasks(name, 200, seed=3) + sample_tasks(name, 50, seed=3, split="test"):
        assert task.check(task.answer), task
        if task.family == "prove":   # a proof ends with the rewrite that closed the goal, and the kernel saying so
            assert task.solution[-1]["content"].endswith("Proved."), task
            continue
        final = parse_action(task.solution[-1]["content"])   # a memory stream ends with an operation, not an answer
        assert final.kind in ("answer", "memory") and final.answer in (None, task.answer), (task, final)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_same_seed_same_tasks_and_splits_are_disjoint(name):
    assert sample_tasks(name, 50, seed=7) == sample_tasks(name, 50, seed=7)
    assert sample_tasks(name, 50, seed=7) != sample_tasks(name, 50, seed=8)
    train = {t.prompt for t in sample_tasks(name, 500, seed=0)}
    test = {t.prompt for t in sample_tasks(name, 100, seed=0, split="test")}
    assert not train & test


def test_search_questions_about_held_out_entities_never_reach_training():
    world = build_world()
    entities = world.countries + world.people
    held_out = [e for e in entities if task_split((e.name,)) == "test"]
    assert 0.1 < len(held_out) / len(entities) < 0.3
    for task in sample_tasks("search_qa", 1000):
        notes_seen = [m["content"] for m in task.solution if m["role"] == "tool"]
        assert not any(e.name in task.split_keys or e.note() in notes_seen for e in held_out)


def test_copy_tasks_hold_out_their_keys_and_every_string_read_under_them():
    """A held-out copy task's keys, and so the records the model reads (a function of the key), never reach
    training; and no invented string names something in the world, which the model might have learned."""
    train = sample_tasks("copy", 2000, seed=0)
    test = sample_tasks("copy", 400, seed=0, split="test")
    train_keys = {k for t in train for k in t.split_keys}
    train_text = "\n".join(t.prompt + "".join(str(m["content"]) for m in t.solution) for t in train)
    assert not train_keys & {k for t in test for k in t.split_keys}
    assert not any(t.answer in train_text for t in test if len(t.answer) >= 8)
    assert not any(k.lower() in fact_table() for t in train + test for k in t.split_keys)
    assert {len(t.answer) for t in train} >= {2, 40}


def test_reading_a_miscopied_key_returns_a_strangers_record():
    task = next(t for t in sample_tasks("copy", 50, seed=1) if t.tools)
    key = task.split_keys[0]
    assert read_record(key) == record_note(key) and task.answer in read_record(key)
    assert task.answer not in read_record(key[:-1])


def test_wrong_answers_are_rejected():
    task = sample_tasks("arithmetic", 1, seed=0)[0]
    assert not task.check(str(int(task.answer) + 1)) and not task.check(None)
    nav = sample_tasks("navigation", 1, seed=0)[0]
    assert not reaches_goal(nav, "") and not reaches_goal(nav, "X" + nav.answer)


def test_navigation_accepts_any_path_that_reaches_the_goal():
    task = Task("navigation", "", "", (), info={"grid": ["S..", "...", "..G"], "start": (0, 0), "goal": (2, 2)})
    assert reaches_goal(task, "RRDD") and reaches_goal(task, "DDRR") and reaches_goal(task, "DRDR")
    assert not reaches_goal(task, "RRD") and not reaches_goal(task, "URRDDD")  # short; leaves the grid


def test_a_new_family_registers_without_touching_the_others():
    @family("_echo", "Repeat a word.")
    def echo(rng: random.Random) -> Task:
        word = rng.choice(["cat", "dog"])
        return Task("_echo", f"Say {word}.", word, (answer(word),))
    try:
        tasks = sample_mixture({"_echo": 1, "arithmetic": 1}, 20, seed=0)
        assert {t.family for t in tasks} == {"_echo", "arithmetic"} and all(t.check(t.answer) for t in tasks)
    finally:
        del FAMILIES["_echo"]


def test_tool_choice_mixes_head_calc_and_lookup_tasks_and_says_which():
    import agentic_lab.tool_use  # noqa: F401 - registers the family
    tasks = sample_tasks("tool_choice", 300, seed=0)
    assert {t.info["needs"] for t in tasks} == {"none", "calc", "lookup"}
    for task in tasks:
        called = [m["tool_calls"][0]["function"]["name"] for m in task.solution if m.get("tool_calls")]
        assert called == ([] if task.info["needs"] == "none" else [task.info["needs"]])
    held_out = {e.name for e in build_world().countries + build_world().people if task_split((e.name,)) == "test"}
    assert not any(held_out & set(t.split_keys) for t in tasks)
    assert any(held_out & set(t.split_keys) for t in sample_tasks("tool_choice", 100, seed=0, split="test"))
