"""Measure a model on held-out tasks: success rate per task family, with its standard error."""
from __future__ import annotations

import math
import random

import torch

from agentic_lab import world
from agentic_lab.actions import parse_action
from agentic_lab.envs import TaskEnv
from agentic_lab.rollout import generate_turn, rollout, stop_token_ids
from agentic_lab.tasks import FAMILIES, STRING_KINDS, Task, assistant, observation, sample_tasks, unseen_string
from agentic_lab.tools import TOOLS
from agentic_lab.trajectory import Trajectory


def success_rate(trajectories: list[Trajectory]) -> tuple[float, float]:
    """Mean success and its standard error sqrt(p(1-p)/n)."""
    n = len(trajectories)
    p = sum(t.success for t in trajectories) / n
    return p, math.sqrt(p * (1 - p) / n)


def called_tool(trajectory: Trajectory) -> bool:
    """Whether the agent called a tool at least once in this episode."""
    return bool(trajectory.tool_calls)


def call_rate(trajectories: list[Trajectory]) -> float:
    """Share of the episodes in which the agent called a tool at least once."""
    return sum(map(called_tool, trajectories)) / len(trajectories)


def standard_error(values: list[float]) -> float:
    """The standard error of the mean of independent values, sd/sqrt(n) (sd with n - 1): for samples that come in
    clusters (several episodes of one task), pass the clusters' means."""
    n = len(values)
    m = sum(values) / n
    return math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1) / n)


def paired_gain(before: list[float], after: list[float]) -> tuple[float, float]:
    """Mean of after_i - before_i over the same held-out tasks, and its standard error sd(d)/sqrt(n).

    Pairing removes what the two measurements share, each task's own difficulty: a task both models
    solve (or both miss) adds no noise, so the error bar is the one the change itself deserves."""
    diffs = [a - b for b, a in zip(before, after, strict=True)]
    return sum(diffs) / len(diffs), standard_error(diffs)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c are correct (Chen et al. 2021):

        pass@k = 1 - C(n-c, k) / C(n, k)

    the chance that k samples drawn without replacement from the n contain at least one correct one.
    Computed as a product, 1 - Π_{i=n-c+1}^{n} (1 - k/i), so large n does not overflow."""
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def distinct_at_k(answers: list, k: int) -> float:
    """The expected number of different answers among k of the n sampled `answers`, drawn without replacement; a
    sample with no answer (None) is not an answer. By linearity of expectation it is a sum of pass@k's: answer a,
    given by m_a of the n samples, is among the k with probability 1 - C(n - m_a, k) / C(n, k):

        distinct@k = Σ_a pass@k(n, m_a, k)

    1 when every sample gives the same answer, k when all n differ, the number of different answers when k = n."""
    counts: dict = {}
    for a in answers:
        if a is not None:
            counts[a] = counts.get(a, 0) + 1
    return sum(pass_at_k(len(answers), m, k) for m in counts.values())


def play_tasks(model, tokenizer, tasks: list[Task], temperature: float = 0.0, seed: int = 0, max_turns: int = 4,
               progress: bool = False, max_new_tokens: int = 96) -> list[Trajectory]:
    """Play the given tasks (of any families), each in its own `TaskEnv`. The environments draw no task, so the
    trajectories have no environment seed (None); `seed` seeds the sampling."""
    envs = [TaskEnv(task.family, max_turns=max_turns) for task in tasks]
    return rollout(model, tokenizer, envs, seeds=[None] * len(tasks), options=[{"task": t} for t in tasks],
                   temperature=temperature, max_new_tokens=max_new_tokens, seed=seed, progress=progress)


def correct_per_task(model, tokenizer, tasks: list[Task], n: int = 1, temperature: float = 0.0, seed: int = 0,
                     max_turns: int = 4, max_new_tokens: int = 96) -> list[int]:
    """How many of n episodes of each task succeeded (n = 1 with temperature 0: greedy, 0 or 1 per task)."""
    played = play_tasks(model, tokenizer, [t for t in tasks for _ in range(n)], temperature=temperature, seed=seed,
                        max_turns=max_turns, max_new_tokens=max_new_tokens)
    return [sum(t.success for t in played[i * n:(i + 1) * n]) for i in range(len(tasks))]


def pass_at_k_curve(model, tokenizer, tasks: list[Task], n: int, ks: list[int], temperature: float = 1.0,
                    seed: int = 0, max_turns: int = 4) -> dict[int, float]:
    """Mean unbiased pass@k over `tasks`, for each k in `ks` (all ≤ n), from n sampled episodes per task."""
    correct = correct_per_task(model, tokenizer, tasks, n, temperature, seed, max_turns)
    return {k: sum(pass_at_k(n, c, k) for c in correct) / len(tasks) for k in ks}


def evaluate_families(model, tokenizer, families: list[str] | None = None, n: int = 200, temperature: float = 0.0,
                      seed: int = 0, split: str = "test", progress: bool = False) -> dict[str, dict]:
    """Held-out success per family: {family: {"success": p, "stderr": s, "n": n}}."""
    names = families or list(FAMILIES)
    tasks = [t for name in names for t in sample_tasks(name, n, seed=seed, split=split)]
    trajectories = play_tasks(model, tokenizer, tasks, temperature=temperature, seed=seed, progress=progress)
    results = {}
    for k, name in enumerate(names):
        p, se = success_rate(trajectories[k * n:(k + 1) * n])
        results[name] = {"success": p, "stderr": se, "n": n}
    return results


def success_by(trajectories: list[Trajectory], key) -> dict:
    """Success split by `key(trajectory)`: {value: (p, stderr, n)}, for the values that occur."""
    groups: dict = {}
    for t in trajectories:
        groups.setdefault(key(t), []).append(t)
    return {value: (*success_rate(ts), len(ts)) for value, ts in groups.items()}


# --- copying an unseen string (issue 34, experiments/00_copy.py) ----------------------------------------------------
# Three probes, each a conversation in search_qa's format that the model continues with one message; what it should
# write is a search call whose query is an invented string S of L characters it has never seen (S as its answer
# counts too: `copied`):
#   call  "What is the job of S?": copy from the question into the call;
#   near  a two-hop question, after the first search returned "P: lives in S; job ...": copy from the note just read;
#   far   the same, but the search returned COPY_FILLER other notes after P's: S is far back, and a nearer country
#         name is there to be copied instead.
COPY_PROBES = ("call", "near", "far")
COPY_LENGTHS = (4, 8, 16, 32)
COPY_FILLER = 6


def copy_probe(rng: random.Random, probe: str, kind: str, length: int) -> tuple[list[dict], str]:
    """The conversation to continue and the string S its next search call should name."""
    target = unseen_string(rng, kind, length)
    if probe == "call":
        return [{"role": "user", "content": f"What is the job of {target}?"}], target
    person, job = unseen_string(rng, "name", 6), rng.choice(world.JOBS)
    notes = [f"{person}: lives in {target}; job {job}."]
    if probe == "far":
        notes += [p.note() for p in rng.sample(world.build_world().people, COPY_FILLER)]
    return [{"role": "user", "content": f"What is the capital of the country where {person} lives?"},
            assistant(tool="search", query=person), observation("\n".join(notes))], target


def copied(text: str) -> str:
    """The string a message wrote out: its tool call's first text argument (the search query, or the key of a `read`
    call the copy family trains on), or its answer. A model that reads or answers with S where it should search has
    still copied it: this measures copying, not the choice of action. Empty if none."""
    action = parse_action(text)
    if action.kind == "answer":
        return action.answer or ""
    texts = [v for v in (action.arguments or {}).values() if isinstance(v, str)] if action.kind == "tool_call" else []
    return texts[0] if texts else ""


def right_prefix(written: str, target: str) -> int:
    """How many characters of `target` `written` gets right before its first mistake."""
    return next((i for i, (a, b) in enumerate(zip(written, target)) if a != b), min(len(written), len(target)))


@torch.no_grad()
def copy_accuracy(model, tokenizer, n: int = 100, seed: int = 0, batch: int = 64) -> dict:
    """Greedy copying of n unseen strings per probe, kind and length:
    {probe: {kind: {L: {"exact": share copied exactly, "prefix": mean share of S right before the first mistake,
    "searched": share that wrote the search call asked for (not a read call or an answer)}}}}."""
    results: dict = {}
    for probe in COPY_PROBES:
        for kind in STRING_KINDS:
            for length in COPY_LENGTHS:
                rng = random.Random(f"copy/{probe}/{kind}/{length}/{seed}")
                conversations, targets = zip(*(copy_probe(rng, probe, kind, length) for _ in range(n)))
                messages = greedy_messages(model, tokenizer, conversations, [TOOLS["search"].schema()],
                                           length + 64, batch)
                written = [copied(text) for text in messages]
                results.setdefault(probe, {}).setdefault(kind, {})[length] = {
                    "exact": sum(w == t for w, t in zip(written, targets)) / n,
                    "prefix": sum(right_prefix(w, t) / len(t) for w, t in zip(written, targets)) / n,
                    "searched": sum(parse_action(m).tool == "search" for m in messages) / n}
    return results


def greedy_messages(model, tokenizer, conversations, tools: list[dict], max_new_tokens: int, batch: int = 64
                    ) -> list[str]:
    """The next message of each conversation, greedy, as text: one turn, no environment."""
    stop_ids, texts = stop_token_ids(model, tokenizer), []
    for start in range(0, len(conversations), batch):
        contexts = [tokenizer.apply_chat_template(list(messages), tools=tools, add_generation_prompt=True,
                                                  return_dict=False) for messages in conversations[start:start + batch]]
        new_ids, _, _ = generate_turn(model, contexts, None, tokenizer.pad_token_id, stop_ids, max_new_tokens,
                                      temperature=0.0, generator=torch.Generator())
        texts += [tokenizer.decode(ids) for ids in new_ids]
    return texts
