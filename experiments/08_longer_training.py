"""Notebook 08 at four times its training budget: do the call rates separate by kind of task with more steps?

    python experiments/08_longer_training.py [--steps 56] [--every 14]     # 910 s measured, partly beside other jobs

Notebook 08 trains each reward for 14 GRPO steps (6 groups × 8, lr 2e-4, from data/toolchoice-warm), and under
every reward the call rates on sums, products and facts rise together. This script continues the outcome-only and
the OTC runs at the same settings in blocks of 14 steps (the first block is the notebook's run) and measures the 288 held-out
tasks of the notebook (sampled at T = 1, same seed) every `--every` steps: accuracy and the call rate by kind. If
OTC's cost teaches *when* to call, calls on sums should fall under OTC while staying high on products and facts.

Reference run, commit 0fce3ff (data/tiny-agent and data/toolchoice-warm as rebuilt by issue 34), one thread beside
two other jobs, 407 s:
    reward   step       accuracy   calls on sums / products / facts   calls per solved
    outcome     0 0.615 ± 0.029             55% / 49% / 54%             0.86
    outcome    14 0.951 ± 0.013             97% / 99% / 97%             1.03
    outcome    28 0.948 ± 0.013            100% / 100% / 100%             1.05
    outcome    42 0.948 ± 0.013            100% / 100% / 99%             1.05
    outcome    56 0.931 ± 0.015            100% / 100% / 95%             1.06
    OTC         0 0.615 ± 0.029             55% / 49% / 54%             0.86
    OTC        14 0.944 ± 0.013             95% / 98% / 97%             1.02
    OTC        28 0.938 ± 0.014            100% / 100% / 98%             1.06
    OTC        42 0.753 ± 0.025            100% / 100% / 99%             1.32
    OTC        56 0.920 ± 0.016             98% / 99% / 100%             1.08
    took 395 s
"""
import argparse
import time

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, rl, tool_use
from agentic_lab.rollout import rollout

ENV_ID = "agentic_lab/ToolChoice-v0"
SEEDS = list(range(10_000, 10_288))  # notebook 08's held-out tasks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=56)
    parser.add_argument("--every", type=int, default=14)
    args = parser.parse_args()
    start = time.time()
    config = rl.RLConfig(n_groups=6, group_size=8, lr=2e-4, max_new_tokens=96)
    print(f"{'reward':8s} {'step':>4s} {'accuracy':>14s}   calls on sums / products / facts   calls per solved")
    for name, reward in {"outcome": {}, "OTC": {"group_reward_fn": tool_use.otc_rewards}}.items():
        policy, tokenizer = load_model(tool_use.WARM_START)
        for block in range(args.steps // args.every + 1):
            # steps 1-14 are the notebook's run (seed 0); each later block is a new grpo_train call with its own
            # seed (new tasks) and fresh AdamW moments
            if block:
                rl.grpo_train(policy, tokenizer, lambda: gym.make(ENV_ID), steps=args.every, config=config,
                              seed=block - 1, progress=False, **reward)
            steps = block * args.every
            played = rollout(policy, tokenizer, [gym.make(ENV_ID, split="test") for _ in SEEDS], SEEDS,
                             temperature=1.0, seed=1)
            r = tool_use.tool_report(played)
            print(f"{name:8s} {steps:4d} {r['all']['accuracy']:.3f} ± {r['all']['stderr']:.3f}   "
                  f"{r['none']['call_rate']:13.0%} / {r['calc']['call_rate']:.0%} / {r['lookup']['call_rate']:.0%}"
                  f"   {r['all']['calls_per_solved']:14.2f}", flush=True)
    print(f"took {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
