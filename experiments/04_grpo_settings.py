"""Why notebook 04's variants end below the base: GRPO on Navigation at the notebook's settings and at others.

    python experiments/04_grpo_settings.py [--seed 0]          # 55 s measured, 1 thread beside one other job

Notebook 04 trains each variant for 10 steps of 6 groups × 8 with two gradient steps a batch (μ = 2) at learning
rate 1e-4, and every variant ends at or below the base on held-out sampled success. This script changes one knob
at a time from those settings, GRPO only, and measures each run the way the notebook does (80 held-out prompts ×
4 samples at T = 1, paired with the base, prompt by prompt): μ = 1 instead of 2; a third of the learning rate;
a three times longer run at μ = 1 (as notebook 06 trained, at μ = 1, and gained on its own task); and a bigger
batch. It prints one row per setting with the paired gain and its standard error, and the training success of
the first and last three steps.

Reference run, commit a900f3f (data/tiny-agent as rebuilt by issue 34), one thread beside two other jobs, 39 s:
    base held-out 0.450  (80 prompts x 4 samples; seed 0)
    setting                    held-out       gain ± SE  train success first 3 → last 3
    notebook (mu 2, lr 1e-4)      0.350  -0.100 ± 0.043           0.458 → 0.340
    mu 1                          0.388  -0.062 ± 0.033           0.437 → 0.438
    lr 3e-5                       0.466  +0.016 ± 0.032           0.417 → 0.451
    mu 1, 30 steps                0.428  -0.022 ± 0.031           0.437 → 0.500
    mu 1, 16 groups               0.475  +0.025 ± 0.027           0.435 → 0.438
    took 32 s
"""
import argparse
import copy
import time

import numpy as np

from agentic_lab import load_model
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import correct_per_task, paired_gain
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.tasks import sample_tasks

FAMILY = "navigation"
NOTEBOOK = dict(n_groups=6, group_size=8, lr=1e-4, max_new_tokens=12, num_iterations=2)
SETTINGS = {  # name -> (changes to the notebook's settings, steps)
    "notebook (mu 2, lr 1e-4)": ({}, 10),
    "mu 1": ({"num_iterations": 1}, 10),
    "lr 3e-5": ({"lr": 3e-5}, 10),
    "mu 1, 30 steps": ({"num_iterations": 1}, 30),
    "mu 1, 16 groups": ({"num_iterations": 1, "n_groups": 16}, 10),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-eval", type=int, default=80)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    start = time.time()
    base, tokenizer = load_model()
    tasks = sample_tasks(FAMILY, args.n_eval, seed=0, split="test")
    def accuracy(model):  # fraction of K sampled answers that reach the goal, per held-out prompt
        return [c / args.k for c in correct_per_task(model, tokenizer, tasks, n=args.k, temperature=1.0, seed=1,
                                                     max_turns=1)]
    before = accuracy(base)
    print(f"base held-out {np.mean(before):.3f}  ({args.n_eval} prompts x {args.k} samples; seed {args.seed})")
    print(f"{'setting':26s} {'held-out':>8s} {'gain ± SE':>15s} {'train success first 3 → last 3':>31s}")
    for name, (changes, steps) in SETTINGS.items():
        policy = copy.deepcopy(base)
        run = grpo_train(policy, tokenizer, lambda: TaskEnv(FAMILY, max_turns=1), steps=steps,
                         config=RLConfig(**{**NOTEBOOK, **changes}, loss_type="grpo"), seed=args.seed, progress=False)
        after = accuracy(policy)
        gain, se = paired_gain(before, after)
        first, last = (np.mean([h["success"] for h in part]) for part in (run[:3], run[-3:]))
        print(f"{name:26s} {np.mean(after):8.3f} {gain:+7.3f} ± {se:.3f} {first:15.3f} → {last:.3f}", flush=True)
    print(f"took {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
