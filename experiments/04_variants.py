"""Notebook 04's side-by-side run of the GRPO family on Navigation, at the notebook's full-mode settings.

    python experiments/04_variants.py [--seed 0] [--steps 16]

Trains each variant from the same base with the same seeds, then measures held-out success paired with the
base, prompt by prompt (K samples each), and prints one row per variant: the paired gain with its standard
error, the lengths of right and wrong answers on the first and last training step, entropy, clip fraction
and, for DAPO, how often the overlong penalty fired and how many sampling rounds filled the batch.
With --seed 1 it backs the notebook's statement of how the ranking moves with the seed.

Reference runs, commit a900f3f (data/tiny-agent as rebuilt by issue 34), one thread beside two other jobs, 35 s each:
    base held-out 0.450  (80 prompts x 4 samples; seed 0)
    variant   held-out       gain ± SE  len R/W first  len R/W last       entropy   clip
    GRPO         0.350  -0.100 ± 0.043    6.6/7.7       6.2/7.0    0.236→0.170  0.018
    Dr. GRPO     0.309  -0.141 ± 0.043    6.6/7.7       6.2/7.2    0.236→0.219  0.025
    DAPO         0.344  -0.106 ± 0.038    6.6/7.7       6.3/6.6    0.236→0.190  0.023  rounds 1.90, kept groups 6.00/6, overlong-penalised 0.052
    GSPO         0.416  -0.034 ± 0.039    6.6/7.7       6.3/7.2    0.236→0.218  0.278
    RLOO         0.369  -0.081 ± 0.039    6.6/7.7       6.7/6.9    0.236→0.215  0.111
    took 29 s
    base held-out 0.450  (80 prompts x 4 samples; seed 1)
    variant   held-out       gain ± SE  len R/W first  len R/W last       entropy   clip
    GRPO         0.325  -0.125 ± 0.040    6.9/6.9       6.2/7.2    0.298→0.179  0.017
    Dr. GRPO     0.369  -0.081 ± 0.036    6.9/6.9       6.4/6.5    0.298→0.182  0.020
    DAPO         0.319  -0.131 ± 0.039    6.9/6.9       6.5/6.7    0.298→0.288  0.021  rounds 1.90, kept groups 6.00/6, overlong-penalised 0.054
    GSPO         0.341  -0.109 ± 0.034    6.9/6.9       6.3/6.4    0.298→0.223  0.250
    RLOO         0.375  -0.075 ± 0.040    6.9/6.9       6.3/6.6    0.298→0.223  0.115
    took 28 s
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
COMMON = dict(n_groups=6, group_size=8, lr=1e-4, max_new_tokens=12, num_iterations=2)


def variants() -> dict[str, RLConfig]:
    return {
        "GRPO": RLConfig(**COMMON, loss_type="grpo"),
        "Dr. GRPO": RLConfig(**COMMON, loss_type="dr_grpo", scale_rewards="none"),
        "DAPO": RLConfig(**COMMON, loss_type="dapo", epsilon_high=0.28, dynamic_sampling=True, overlong_cache=4),
        "GSPO": RLConfig(**COMMON, importance_sampling_level="sequence", epsilon_low=3e-4, epsilon_high=4e-4),
        "RLOO": RLConfig(**COMMON, loss_type="rloo"),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=10)
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
    print(f"{'variant':9s} {'held-out':>8s} {'gain ± SE':>15s} {'len R/W first':>14s} {'len R/W last':>13s} "
          f"{'entropy':>13s} {'clip':>6s}")
    for name, config in variants().items():
        policy = copy.deepcopy(base)
        run = grpo_train(policy, tokenizer, lambda: TaskEnv(FAMILY, max_turns=1), steps=args.steps, config=config,
                         seed=args.seed, progress=False)
        after = accuracy(policy)
        gain, se = paired_gain(before, after)
        first, last = run[0], run[-1]
        extra = ""
        if config.dynamic_sampling:
            extra = (f"  rounds {np.mean([h['sampling_rounds'] for h in run]):.2f}, kept groups "
                     f"{np.mean([h['kept_groups'] for h in run]):.2f}/{config.n_groups}, overlong-penalised "
                     f"{np.mean([h['overlong_penalised'] for h in run]):.3f}")
        print(f"{name:9s} {np.mean(after):8.3f} {gain:+7.3f} ± {se:.3f} {first['length_right']:6.1f}/{first['length_wrong']:<6.1f}"
              f" {last['length_right']:6.1f}/{last['length_wrong']:<6.1f} {first['entropy']:.3f}→{last['entropy']:.3f}"
              f" {np.mean([h['clip_region'] for h in run]):6.3f}{extra}", flush=True)
    print(f"took {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
