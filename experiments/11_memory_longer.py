"""Notebook 11's memory manager trained for longer than the notebook can: does RL on the answers alone raise the
held-out answers, and when?

    python experiments/11_memory_longer.py [--steps 40] [--every 10] [--lr 2e-4]   # 1,036 s, one thread beside two jobs

The notebook trains 12 GRPO steps (4 groups × 8 streams of 8 facts, a fresh context each turn, lr 2e-4, seed 0,
from data/memory-warm): about 13 s a step on 2 cores, so 12 is what fits in its five minutes. Here the same run goes
on to --steps, and every --every steps the policy plays the notebook's held-out streams (100 at 8 facts, 100 at
16; sampled at T = 1 with the same seed as the warm start, so each stream pairs with the warm start's). Printed:
the share of questions answered right, the paired gain over the warm start, and what each kind of fact got in
those episodes (NOOP on distractors, UPDATE on changed facts, ADD on new kept ones).

Reference run, commit 4b0110b (data/memory-warm rebuilt by issue 34 on streams whose every name is held out), the
defaults, one thread beside two other jobs, 1,036 s:

    steps   L       answers  gain over warm (paired)       distractor_noop  contradiction_update               new_add
        0   8  0.465 ± 0.030          +0.000 ± 0.000                  0.34                  0.44                  0.56
        0  16  0.315 ± 0.031          +0.000 ± 0.000                  0.37                  0.61                  0.33
       10   8  0.500 ± 0.033          +0.035 ± 0.045                  0.11                  0.69                  0.56
       10  16  0.325 ± 0.030          +0.010 ± 0.039                  0.18                  0.76                  0.33
       20   8  0.575 ± 0.030          +0.110 ± 0.041                  0.06                  0.80                  0.58
       20  16  0.360 ± 0.032          +0.045 ± 0.040                  0.09                  0.89                  0.34
       30   8  0.515 ± 0.035          +0.050 ± 0.043                  0.04                  0.82                  0.57
       30  16  0.345 ± 0.032          +0.030 ± 0.037                  0.05                  0.94                  0.34
       40   8  0.560 ± 0.032          +0.095 ± 0.041                  0.04                  0.83                  0.62
       40  16  0.365 ± 0.032          +0.050 ± 0.037                  0.04                  0.94                  0.35
"""
import argparse
import statistics
import time

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, memory, rl
from agentic_lab.eval import paired_gain

LENGTHS = (memory.TRAIN_LENGTH, 16)
KINDS = ("distractor_noop", "contradiction_update", "new_add")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2e-4)
    args = parser.parse_args()
    start = time.time()
    policy, tokenizer = load_model(memory.WARM_START)
    streams = {n: memory.held_out_streams(n, 100) for n in LENGTHS}
    warm = memory.play_lengths(policy, tokenizer, streams)
    config = rl.RLConfig(n_groups=4, group_size=8, lr=args.lr, max_new_tokens=memory.MAX_NEW_TOKENS,
                         keep_history=False)
    make_env = lambda: gym.make("agentic_lab/MemoryBank-v0", stream_length=memory.TRAIN_LENGTH,  # noqa: E731
                                bank_size=memory.BANK_SIZE)
    print(f"{'steps':>5s} {'L':>3s} {'answers':>13s} {'gain over warm (paired)':>24s}" +
          "".join(f"{k:>22s}" for k in KINDS))
    def row(steps, results):
        for n in LENGTHS:
            answers, report = results[n]
            gain = paired_gain(warm[n][0], answers)
            print(f"{steps:5d} {n:3d} {statistics.mean(answers):6.3f} ± {statistics.stdev(answers) / 10:.3f} "
                  f"{gain[0]:+15.3f} ± {gain[1]:.3f}" + "".join(f"{report[k]:22.2f}" for k in KINDS), flush=True)
    row(0, warm)
    # One optimizer for the whole run: grpo_train is called once, and evaluates through step_metrics every --every
    # steps (on the policy as it is before that step's update).
    done = {"steps": 0}
    def checkpoint(trajectories):
        done["steps"] += 1
        if done["steps"] > 1 and (done["steps"] - 1) % args.every == 0:
            row(done["steps"] - 1, memory.play_lengths(policy, tokenizer, streams))
        return {}
    rl.grpo_train(policy, tokenizer, make_env, steps=args.steps, config=config, seed=0, progress=False,
                  step_metrics=checkpoint)
    row(args.steps, memory.play_lengths(policy, tokenizer, streams))
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
