"""Measure a model on held-out tasks: success rate per task family, with its standard error."""
from __future__ import annotations

import math

from agentic_lab.rollout import Episode, run_episodes
from agentic_lab.tasks import FAMILIES, sample_tasks


def success_rate(episodes: list[Episode]) -> tuple[float, float]:
    """Mean success and its standard error sqrt(p(1-p)/n)."""
    n = len(episodes)
    p = sum(e.success for e in episodes) / n
    return p, math.sqrt(p * (1 - p) / n)


def evaluate_families(model, tokenizer, families: list[str] | None = None, n: int = 200, temperature: float = 0.0,
                      seed: int = 0, split: str = "test", progress: bool = False) -> dict[str, dict]:
    """Held-out success per family: {family: {"success": p, "stderr": s, "n": n}}."""
    results = {}
    for name in families or list(FAMILIES):
        tasks = sample_tasks(name, n, seed=seed, split=split)
        episodes = run_episodes(model, tokenizer, tasks, temperature=temperature, seed=seed, progress=progress)
        p, se = success_rate(episodes)
        results[name] = {"success": p, "stderr": se, "n": n}
    return results
