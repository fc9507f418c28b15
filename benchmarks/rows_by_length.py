"""The update's forward and backward on rows played with a fresh context each turn: one padded forward against rows
forwarded by length.

    python benchmarks/rows_by_length.py [--episodes 32] [--repeats 3] [--threads 1]

Episodes played with `keep_history=False` (notebook 11's memory manager and MEM1) are trained on as one row per turn,
[context_k | message_k]. The rows share no prefix and their lengths spread widely (the bank grows during a stream),
so one right-padded forward over all of them spends much of its compute on padding. `policy_gradient.batch_logits`
sorts such rows by length and forwards `ROWS_PER_FORWARD` at a time, each forward cut to its longest row
(`logits_by_length`; tests/test_kv_reuse.py checks the logits and gradients equal). Work: the shipped memory warm
start plays `--episodes` streams of notebook 11's training length (sampled, T = 1); the rows are collated as the
update does; each way runs a forward and a backward through a loss that reads every logit. The two ways take
turns, best of `--repeats`. Last line: the padded forward's seconds over the forward by length.
"""
from __future__ import annotations

import argparse
import time

import gymnasium as gym
import torch

from agentic_lab import load_model, memory
from agentic_lab.policy_gradient import logits_by_length
from agentic_lab.rl import collate_rows
from agentic_lab.rollout import rollout


def seconds(forward) -> float:
    start = time.perf_counter()
    logits = forward()
    logits.float().pow(2).mean().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model, tokenizer = load_model(memory.WARM_START)
    envs = [gym.make("agentic_lab/MemoryBank-v0", stream_length=memory.TRAIN_LENGTH, bank_size=memory.BANK_SIZE)
            for _ in range(args.episodes)]
    episodes = rollout(model, tokenizer, envs, list(range(args.episodes)), max_new_tokens=memory.MAX_NEW_TOKENS,
                       keep_history=False)
    batch, _ = collate_rows(episodes, tokenizer.pad_token_id, group_size=8)
    ids, attention = batch["input_ids"], batch["attention_mask"]
    real = int(attention.sum())
    print(f"torch threads {torch.get_num_threads()}; {args.episodes} episodes, {ids.shape[0]} rows of up to "
          f"{ids.shape[1]} tokens: {real:,} real tokens of {ids.numel():,} padded ({real / ids.numel():.2f})")
    ways = {"one padded forward": lambda: model(input_ids=ids, attention_mask=attention).logits,
            "by length": lambda: logits_by_length(model, ids, attention, [[] for _ in ids])}
    best = {name: float("inf") for name in ways}
    for _ in range(args.repeats):  # the ways take turns: a slow moment of the machine hits both
        for name, forward in ways.items():
            best[name] = min(best[name], seconds(forward))
            model.zero_grad(set_to_none=True)
    for name, value in best.items():
        print(f"  {name}: {value:.2f} s forward and backward")
    print(f"RESULT rows_by_length_speedup {best['one padded forward'] / best['by length']:.2f}")


if __name__ == "__main__":
    main()
