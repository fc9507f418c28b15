"""Rollout throughput: the batched multi-turn engine against what a learner would otherwise write.

    python benchmarks/rollout_throughput.py [--episodes 96] [--long-episodes 64] [--loop-episodes 16] [--threads 1]

Two cases, each measured against baselines in the same run, with the same model, seeds and greedy decoding,
so every method must produce the same tokens (checked and printed):

* short: Calculator, SearchQA and WordProblem episodes (1-3 turns). The engine against a per-episode
  loop of `model.generate` calls, one per turn.
* long: KeyDoor, a grid walked one move per turn, played until the goal, 16 turns, or the model's context
  (1,024 positions) is full; the tiny model plays 11-14 turns. The engine keeping each episode's KV cache
  between turns (`reuse_cache=True`), the same engine re-prefilling every history each turn
  (`reuse_cache=False`), and the per-episode `model.generate` loop, which also re-prefills each turn. The
  loop is timed on the first `--loop-episodes` episodes only (it takes about a second per turn); its
  figure is a ratio of generated tokens per second.

Torch runs on `--threads` threads (default 1: the ratios are what counts, and one thread is steadier on a
shared machine). Figures: the speed-ups; the last line is the long case's speed-up over the loop.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model
from agentic_lab.rollout import observation_ids, rollout, stop_token_ids

SHORT_ENV_IDS = ["agentic_lab/Calculator-v0", "agentic_lab/SearchQA-v0", "agentic_lab/WordProblem-v0"]
LONG_ENV_ID, LONG_MAX_TURNS = "agentic_lab/KeyDoor-v0", 16
MAX_NEW_TOKENS = 96


@torch.no_grad()
def generate_loop(model, tokenizer, env: gym.Env, seed: int) -> list[int]:
    """The baseline: one episode at a time, one `model.generate` call per turn, stopping where the engine
    stops (the episode ends, or the context has no room for another message)."""
    observation, info = env.reset(seed=seed)
    ids = tokenizer.apply_chat_template([{"role": "user", "content": observation}], tools=info["tools"] or None,
                                        add_generation_prompt=True, return_dict=False)
    stop_ids = stop_token_ids(model, tokenizer)
    while True:
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=MAX_NEW_TOKENS, do_sample=False, eos_token_id=stop_ids,
                             pad_token_id=tokenizer.pad_token_id)
        new = out[0, len(ids):].tolist()
        ids += new
        stopped = new[-1] in stop_ids
        observation, _, terminated, truncated, _ = env.step(tokenizer.decode(new[:-1] if stopped else new))
        if terminated or truncated:
            return ids
        ids += observation_ids(tokenizer, observation)
        if len(ids) + MAX_NEW_TOKENS > model.config.max_position_embeddings:
            return ids


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=96, help="short case")
    parser.add_argument("--long-episodes", type=int, default=64)
    parser.add_argument("--loop-episodes", type=int, default=16, help="long-case episodes the generate loop plays")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model()
    print(f"torch threads: {torch.get_num_threads()}")

    # Short episodes: the engine against the per-episode loop
    env_ids = [SHORT_ENV_IDS[k % len(SHORT_ENV_IDS)] for k in range(args.episodes)]
    seeds = list(range(args.episodes))
    loop, loop_seconds = timed(lambda: [generate_loop(model, tokenizer, gym.make(e), s) for e, s in zip(env_ids, seeds)])
    engine, engine_seconds = timed(lambda: rollout(model, tokenizer, [gym.make(e) for e in env_ids], seeds,
                                                   temperature=0.0, max_new_tokens=MAX_NEW_TOKENS))
    same = sum(t.token_ids == b for t, b in zip(engine, loop))
    generated = sum(sum(t.loss_mask) for t in engine)
    turns = sum(len(t.turns) for t in engine) / len(engine)
    print(f"\nshort: {args.episodes} episodes ({', '.join(SHORT_ENV_IDS)}), {turns:.1f} turns each, greedy, "
          f"{generated} generated tokens")
    print(f"  per-episode model.generate loop: {loop_seconds:7.2f} s  {generated / loop_seconds:8.0f} tokens/s")
    print(f"  batched engine:                  {engine_seconds:7.2f} s  {generated / engine_seconds:8.0f} tokens/s")
    print(f"  identical trajectories: {same}/{args.episodes}")
    short_speedup = loop_seconds / engine_seconds

    # Long episodes: KV reuse against re-prefill against the per-episode loop
    seeds = list(range(args.long_episodes))

    def play(reuse_cache: bool):
        envs = [gym.make(LONG_ENV_ID, max_turns=LONG_MAX_TURNS) for _ in seeds]
        return rollout(model, tokenizer, envs, seeds, temperature=0.0, max_new_tokens=MAX_NEW_TOKENS,
                       reuse_cache=reuse_cache)
    reused, reuse_seconds = timed(lambda: play(True))
    fresh, fresh_seconds = timed(lambda: play(False))
    loop, loop_seconds = timed(lambda: [generate_loop(model, tokenizer, gym.make(LONG_ENV_ID, max_turns=LONG_MAX_TURNS), s)
                                        for s in seeds[:args.loop_episodes]])
    generated = sum(sum(t.loss_mask) for t in reused)
    loop_generated = sum(sum(t.loss_mask) for t in reused[:args.loop_episodes])
    turns = [len(t.turns) for t in reused]
    print(f"\nlong: {args.long_episodes} episodes of {LONG_ENV_ID} (max_turns={LONG_MAX_TURNS}), "
          f"{sum(turns) / len(turns):.1f} turns each (min {min(turns)}, max {max(turns)}), greedy, "
          f"{generated} generated tokens")
    print(f"  engine, KV reused across turns:  {reuse_seconds:7.2f} s  {generated / reuse_seconds:8.0f} tokens/s")
    print(f"  engine, re-prefill every turn:   {fresh_seconds:7.2f} s  {generated / fresh_seconds:8.0f} tokens/s")
    print(f"  per-episode model.generate loop: {loop_seconds:7.2f} s  {loop_generated / loop_seconds:8.0f} tokens/s "
          f"(first {args.loop_episodes} episodes)")
    print(f"  identical trajectories: reuse = re-prefill {sum(a.token_ids == b.token_ids for a, b in zip(reused, fresh))}"
          f"/{len(seeds)}, reuse = loop {sum(a.token_ids == b for a, b in zip(reused, loop))}/{len(loop)}")

    print(f"\nRESULT rollout_speedup {short_speedup:.1f}")
    print(f"RESULT long_horizon_reuse_over_reprefill {fresh_seconds / reuse_seconds:.1f}")
    print(f"RESULT long_horizon_reuse_over_generate_loop "
          f"{(generated / reuse_seconds) / (loop_generated / loop_seconds):.1f}")


if __name__ == "__main__":
    main()
