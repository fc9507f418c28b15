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

What else lives here, in the notebook's order:
- `demonstration`: the warm start's episodes, which call the needed tool on half the tasks of every kind
  (calc on half the sums too) and answer the rest in the head: a habit with room for RL to reshape.
- `tool_report`: accuracy, call rate, wrong-tool and bad-argument rates and calls per solved task, by kind.
- Three rewards for the same episodes: outcome only (the environment's return); OTC-GRPO's (Wang et al. 2025,
  "Acting Less is Reasoning More"), which scales a right answer's reward down with every call beyond the
  fewest its group needed; and ToolRL's decomposed reward (Qian et al. 2025), which scores the format and
  the calls themselves (tool names, argument names, argument values) against the reference calls.
- `react_transcript`: an episode written as ReAct's Thought / Action / Observation lines.

The family registers when this module is imported (gym.make of the environment imports it), not with
`agentic_lab.tasks`: the families listed there are the ones the tiny model was trained on.
"""
from __future__ import annotations

import math
import random
import re
from pathlib import Path

from agentic_lab import world
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import success_rate
from agentic_lab.tasks import Task, answer, assistant, family, observation
from agentic_lab.trajectory import Trajectory

NEEDS = ("none", "calc", "lookup")
WARM_START = Path(__file__).resolve().parent.parent / "data" / "toolchoice-warm"
CALL_SHARE = 0.5  # the warm start's demonstrations call a tool on this share of the tasks of every kind


@family("tool_choice", "Sums for the head, products for calc, facts for lookup: call the right tool, or none.",
        tools=("calc", "lookup"))
def tool_choice(rng: random.Random) -> Task:
    needs = rng.choice(NEEDS)
    if needs == "none":
        a, b = rng.randint(1, 20), rng.randint(1, 9)
        expr, gold, calls, keys = f"{a}+{b}", str(a + b), [], ()
        prompt = f"What is {expr}?"
    elif needs == "calc":
        a, b = rng.randint(100, 999), rng.randint(10, 99)
        expr, gold, keys = f"{a}*{b}", str(a * b), ()
        prompt, calls = f"What is {expr}?", [{"name": "calc", "arguments": {"expr": expr}}]
    else:
        w = world.build_world()
        entity = rng.choice(w.countries + w.people)
        facts = world.fact_table()[entity.name.lower()]
        field = rng.choice(list(facts))
        prompt, gold, keys, expr = world.FACT_QUESTIONS[field].format(entity.name), facts[field], (entity.name,), None
        calls = [{"name": "lookup", "arguments": {"name": entity.name, "field": field}}]
    steps = tuple(m for call in calls for m in (assistant(tool=call["name"], **call["arguments"]), observation(gold)))
    return Task("tool_choice", prompt, gold, steps + (answer(gold),), tools=("calc", "lookup"), split_keys=keys,
                info={"needs": needs, "calls": calls, "expr": expr})


class ToolChoiceEnv(TaskEnv):
    """A `tool_choice` task per episode, with calc and lookup on offer."""

    def __init__(self, split: str = "train", max_turns: int = 4, render_mode: str | None = None):
        super().__init__("tool_choice", split, max_turns, render_mode)


def demonstration(task: Task, rng: random.Random, call_share: float = CALL_SHARE) -> list[dict]:
    """A warm-start episode for `task`: with probability `call_share` the needed tool is called first (calc on a
    sum, which is right but wasted), otherwise the answer is given at once, as if from the head. The gold answer
    is written either way, so a model that imitates the guesses learns to guess, and mostly guesses wrong where
    the head cannot know (a 3-digit product, a fact of an entity it never saw)."""
    if rng.random() >= call_share:
        return task.messages() + [answer(task.answer)]
    if task.info["needs"] == "none":
        return task.messages() + [assistant(tool="calc", expr=task.info["expr"]), observation(task.answer),
                                  answer(task.answer)]
    return task.conversation()


# --- what the agent did with its tools -----------------------------------------------------------------------
def tool_report(trajectories: list[Trajectory]) -> dict[str, dict]:
    """By kind of task ("none", "calc", "lookup", and "all"): n, accuracy ± SE, the share of episodes that call a
    tool at all, that call a tool the task does not need (any tool on a sum; the other tool, or one not on offer,
    on a product or a fact), that call the needed tool with arguments it refuses ("Error: ..."), and the mean
    number of calls per solved task."""
    report = {}
    for kind in (*NEEDS, "all"):
        episodes = [t for t in trajectories if kind in ("all", t.info["needs"])]
        if not episodes:
            continue
        made = [[(turn.action.tool, turn.result or "") for turn in t.tool_calls] for t in episodes]
        needed = [t.info["needs"] for t in episodes]
        solved = sum(t.success for t in episodes)
        p, se = success_rate(episodes)
        report[kind] = {
            "n": len(episodes), "accuracy": p, "stderr": se,
            "call_rate": sum(bool(c) for c in made) / len(episodes),
            "wrong_tool": sum(any(name != need for name, _ in c) for c, need in zip(made, needed)) / len(episodes),
            "bad_arguments": sum(any(name == need and out.startswith("Error:") for name, out in c)
                                 for c, need in zip(made, needed)) / len(episodes),
            "calls_per_solved": sum(map(len, made)) / solved if solved else None,
        }
    return report


# --- rewards -------------------------------------------------------------------------------------------------
def otc_tool_reward(m: int, n: int, c: float = 1.0) -> float:
    """OTC's tool-efficiency factor for an episode with m calls when n calls were enough (OTC-GRPO, Wang et al. 2025):

        r_tool = 1                        if m = n = 0
                 cos(m π / (2m + c))      if n = 0 (every call was unneeded; c smooths the fall)
                 sin(f(m, n) π / (2n))    otherwise, with f(m, n) = 2nm / (m + n)

    f(m, n) = n exactly when m = n, so r_tool = sin(π/2) = 1 there and falls on both sides: too few calls
    (f < n) and too many (f > n) both cost."""
    if n == 0:
        return 1.0 if m == 0 else math.cos(m * math.pi / (2 * m + c))
    return math.sin((2 * n * m / (m + n)) * math.pi / (2 * n))


def otc_group_rewards(calls: list[int], correct: list[bool], c: float = 1.0) -> list[float]:
    """OTC-GRPO's reward for each member of one GRPO group, from its number of calls m_i and whether it was right:

        r_i = r_tool(m_i, n) · 1[correct_i],      n = min { m_j : member j was right }

    n, the calls the task needs, is unknown to the trainer: OTC estimates it as the fewest calls any right member
    made (a wrong member's fewer calls prove nothing). With no right member every r_i is 0 whatever n is."""
    n = min((m for m, right in zip(calls, correct) if right), default=0)
    return [otc_tool_reward(m, n, c) if right else 0.0 for m, right in zip(calls, correct)]


def otc_rewards(group: list[Trajectory], c: float = 1.0) -> list[float]:
    """`otc_group_rewards` of a group of episodes (m = well-formed calls), plus each episode's own penalties for
    invalid actions (`envs.INVALID_PENALTY`), which outcome-only training pays too."""
    base = otc_group_rewards([len(t.tool_calls) for t in group], [t.success for t in group], c)
    return [r + t.total_reward - float(t.success) for r, t in zip(base, group)]


def toolrl_reward(trajectory: Trajectory) -> float:
    """ToolRL's decomposed reward (Qian et al. 2025), R = R_format + R_correct in [-3, 4], scored against the
    task's reference calls (none for a sum, one calc or one lookup otherwise) and not against the final answer:

        R_format  = 1 if every message parsed (a tool call or an answer, well formed), else 0
        r_name    = |N_G ∩ N_P| / |N_G ∪ N_P|             tool names, gold G against predicted P (1 if both empty)
        r_param   = Σ_G |keys(P_G) ∩ keys(G)| / |keys(P_G) ∪ keys(G)|   argument names, per gold call
        r_value   = Σ_G Σ_k 1[P_G[k] = G[k]]              argument values, per gold argument
        R_correct = 6 · (r_name + r_param + r_value) / S_max - 3,   S_max = 1 + |G| + Σ_G |keys(G)|

    where P_G is the predicted call of the same tool as gold call G (the first one, if any)."""
    gold = list(trajectory.info["calls"])
    made = [t.action for t in trajectory.tool_calls]
    well_formed = float(all(t.action.kind != "invalid" for t in trajectory.turns))
    names_gold, names_made = {g["name"] for g in gold}, {a.tool for a in made}
    union = names_gold | names_made
    r_name = len(names_gold & names_made) / len(union) if union else 1.0
    r_param = r_value = 0.0
    for g in gold:
        predicted = next((a.arguments for a in made if a.tool == g["name"]), {})
        keys = set(g["arguments"]) | set(predicted)
        r_param += len(set(g["arguments"]) & set(predicted)) / len(keys)
        r_value += sum(predicted.get(k) == v for k, v in g["arguments"].items())
    s_max = 1 + len(gold) + sum(len(g["arguments"]) for g in gold)
    return well_formed + 6 * (r_name + r_param + r_value) / s_max - 3


# --- ReAct ---------------------------------------------------------------------------------------------------
def react_transcript(trajectory: Trajectory) -> str:
    """The episode as ReAct writes it (Yao et al. 2023): Question, then Thought / Action / Observation per turn. The
    chat template's <think> is the Thought, <tool_call> the Action, the observation message the Observation."""
    lines = [f"Question: {trajectory.turns[0].observation if trajectory.turns else ''}"]
    for turn in trajectory.turns:
        thought = re.search(r"<think>(.*?)</think>", turn.text, re.S)
        if thought:
            lines.append(f"Thought: {thought.group(1).strip()}")
        a = turn.action
        if a.kind == "tool_call":
            args = ", ".join(f"{k}={v!r}" for k, v in (a.arguments or {}).items())
            lines += [f"Action: {a.tool}[{args}]", f"Observation: {turn.result}"]
        elif a.kind == "answer":
            lines.append(f"Action: finish[{a.answer}]  ({turn.result})")
        else:
            lines += [f"Action: (unparsable) {turn.text.strip()[:60]!r}", f"Observation: {turn.result}"]
    return "\n".join(lines)
