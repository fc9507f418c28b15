"""Tool use (notebook 08): one family of tasks where the agent must decide whether to call a tool, and which.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/ToolChoice-v0")     # tools: calc and lookup (agentic_lab.tools)

Three kinds of task, mixed, and `info["needs"]` (in the environment's `info["hidden"]`) says which:
- "none": a small sum, done in the head; a call only costs.
- "calc": a 3-digit by 2-digit product, beyond the head; only a tool gets it right.
- "lookup": a fact of the fictional world; only the fact table knows it, and calc cannot help.
Both tools are on offer in every task, so the call rate per kind, calls on "none" tasks and calls of the
wrong tool are all measurable. Facts are asked about entities split into train and test as in
`tasks.search_qa`, so held-out lookups are about entities never asked about in training.

The family registers when this module is imported (gym.make of the environment imports it), not with
`agentic_lab.tasks`: the families listed there are the ones the tiny model was trained on.
"""
from __future__ import annotations

import random

from agentic_lab import world
from agentic_lab.envs import TaskEnv
from agentic_lab.tasks import Task, answer, assistant, family, observation

NEEDS = ("none", "calc", "lookup")


@family("tool_choice", "Sums for the head, products for calc, facts for lookup: call the right tool, or none.",
        tools=("calc", "lookup"))
def tool_choice(rng: random.Random) -> Task:
    needs = rng.choice(NEEDS)
    if needs == "none":
        a, b = rng.randint(1, 20), rng.randint(1, 9)
        prompt, gold, steps, keys = f"What is {a}+{b}?", str(a + b), (), ()
    elif needs == "calc":
        a, b = rng.randint(100, 999), rng.randint(10, 99)
        prompt, gold, keys = f"What is {a}*{b}?", str(a * b), ()
        steps = (assistant(tool="calc", expr=f"{a}*{b}"), observation(gold))
    else:
        w = world.build_world()
        entity = rng.choice(w.countries + w.people)
        facts = world.fact_table()[entity.name.lower()]
        field = rng.choice(list(facts))
        prompt, gold, keys = world.FACT_QUESTIONS[field].format(entity.name), facts[field], (entity.name,)
        steps = (assistant(tool="lookup", name=entity.name, field=field), observation(gold))
    return Task("tool_choice", prompt, gold, steps + (answer(gold),), tools=("calc", "lookup"), split_keys=keys,
                info={"needs": needs})


class ToolChoiceEnv(TaskEnv):
    """A `tool_choice` task per episode, with calc and lookup on offer."""

    def __init__(self, split: str = "train", max_turns: int = 4, render_mode: str | None = None):
        super().__init__("tool_choice", split, max_turns, render_mode)
