"""Rollout throughput: the batched multi-turn engine against a per-episode `model.generate` loop.

    python benchmarks/rollout_throughput.py [--episodes 64]

Both play the same environments with the same seeds and the same model, greedily, so they must produce
the same tokens (checked); the baseline is measured in the same run. Figure: the engine's speed-up.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model
from agentic_lab.rollout import observation_ids, rollout, stop_token_ids

ENV_IDS = ["agentic_lab/Calculator-v0", "agentic_lab/SearchQA-v0", "agentic_lab/WordProblem-v0"]


@torch.no_grad()
def generate_loop(model, tokenizer, env_id: str, seed: int, max_new_tokens: int = 96) -> list[int]:
    """The baseline: one episode at a time, one `model.generate` call per turn."""
    env = gym.make(env_id)
    observation, info = env.reset(seed=seed)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": observation}], tools=info["tools"] or None,
                                        add_generation_prompt=True, return_dict=False)
    stop_ids = stop_token_ids(model, tokenizer)
    while True:
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop_ids,
                             pad_token_id=tokenizer.pad_token_id)
        new = out[0, len(ids):].tolist()
        ids += new
        stopped = new[-1] in stop_ids
        text = tokenizer.decode(new[:-1] if stopped else new)
        observation, _, terminated, truncated, _ = env.step(text)
        if terminated or truncated:
            return ids
        ids += observation_ids(tokenizer, observation)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=96)
    args = parser.parse_args()
    model, tokenizer = load_model()
    env_ids = [ENV_IDS[k % len(ENV_IDS)] for k in range(args.episodes)]
    seeds = list(range(args.episodes))

    start = time.perf_counter()
    baseline = [generate_loop(model, tokenizer, env_id, seed) for env_id, seed in zip(env_ids, seeds)]
    baseline_seconds = time.perf_counter() - start

    start = time.perf_counter()
    trajectories = rollout(model, tokenizer, [gym.make(e) for e in env_ids], seeds, temperature=0.0)
    engine_seconds = time.perf_counter() - start

    same = sum(t.token_ids == b for t, b in zip(trajectories, baseline))
    generated = sum(sum(t.loss_mask) for t in trajectories)
    print(f"{args.episodes} episodes ({', '.join(ENV_IDS)}), greedy, {generated} generated tokens")
    print(f"per-episode model.generate loop: {baseline_seconds:7.2f} s  {generated / baseline_seconds:8.0f} tokens/s")
    print(f"batched engine (KV cache):       {engine_seconds:7.2f} s  {generated / engine_seconds:8.0f} tokens/s")
    print(f"identical trajectories: {same}/{args.episodes}")
    print(f"RESULT rollout_speedup {baseline_seconds / engine_seconds:.1f}")


if __name__ == "__main__":
    main()
