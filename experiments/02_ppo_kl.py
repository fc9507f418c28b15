"""Notebook 02's PPO runs, longer: 40 steps of 32 answers instead of the notebook's 20.

Builds the notebook's proxy (`proxy_reward(reference, tokenizer, n_tasks=300, seed=0)`) and standardised gold, and runs
the notebook's PPO (lr 1e-4, 32 answers a step, seed 0) against the proxy at β = 0, 0.05 and 0.2, and against gold
itself (the oracle, β = 0). Prints per run, as the notebook's table: the trained-on reward and gold of the sampled
answers, mean of the first and of the last fifth of the run, gold's change with its standard error (the per-step
spread of each window, added in quadrature), and the KL to the reference over the last fifth. The runs are the
notebook's (same proxy, seeds and settings), made twice as long.

    python experiments/02_ppo_kl.py                 # about 7 min on one core (measured with the other one busy)
    python experiments/02_ppo_kl.py --only "β=0," --steps 60

Reference run, commit 1736029 (data/tiny-agent as rebuilt by issue 34), one thread beside two other jobs, 612 s:
    PPO, 40 steps x 32 answers, lr 1e-4, proxy from 300 prompts; first and last 8 steps, mean ± SE over the steps of each window
    proxy, β=0         trained-on reward -0.20 → +0.69   gold 0.430 → 0.212, change -0.218 ± 0.042   KL  30.9 nats   (180 s)
    proxy, β=0.05      trained-on reward -0.29 → +0.46   gold 0.441 → 0.324, change -0.117 ± 0.037   KL   7.3 nats   (163 s)
    proxy, β=0.2       trained-on reward -0.28 → +0.17   gold 0.473 → 0.437, change -0.036 ± 0.038   KL   2.2 nats   (108 s)
    gold itself, β=0   trained-on reward -0.26 → -0.41   gold 0.467 → 0.400, change -0.067 ± 0.037   KL   8.9 nats   (80 s)
"""
import argparse
import copy
import statistics
import time

import torch

from agentic_lab import load_model, ppo
from agentic_lab import reward_model as rm_lib
from agentic_lab.envs import TaskEnv
from agentic_lab.tasks import sample_tasks


def mean_se(xs):
    return statistics.mean(xs), statistics.stdev(xs) / len(xs) ** 0.5


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--proxy-tasks", type=int, default=300, help="the notebook's proxy: 300 training prompts")
    parser.add_argument("--only", default=None, help="substring of one run's name")
    args = parser.parse_args()
    torch.manual_seed(0)
    reference, tokenizer = load_model()
    proxy = rm_lib.proxy_reward(reference, tokenizer, n_tasks=args.proxy_tasks, seed=0)
    calibration = sample_tasks("word_problem", 200, seed=9, split="train")
    gold = rm_lib.standardised(rm_lib.gold_scores, reference, tokenizer, calibration, seed=9)
    make_env = lambda: TaskEnv("word_problem", split="train", max_turns=1)
    runs = {"proxy, β=0": (proxy, 0.0), "proxy, β=0.05": (proxy, 0.05), "proxy, β=0.2": (proxy, 0.2),
            "gold itself, β=0": (gold, 0.0)}
    window = max(2, args.steps // 5)
    print(f"PPO, {args.steps} steps x 32 answers, lr 1e-4, proxy from {args.proxy_tasks} prompts; first and last "
          f"{window} steps, mean ± SE over the steps of each window", flush=True)
    for name, (score_fn, kl_coef) in runs.items():
        if args.only and args.only not in name:
            continue
        t0 = time.time()
        history = ppo.ppo_train(ppo.PolicyWithValue(copy.deepcopy(reference)), reference, tokenizer, make_env,
                                score_fn, steps=args.steps, batch_size=32, kl_coef=kl_coef, lr=1e-4,
                                gold_fn=rm_lib.gold_reward, seed=0, progress=False)
        first, last = history[:window], history[-window:]
        (g0, g0_se), (g1, g1_se) = mean_se([h["gold"] for h in first]), mean_se([h["gold"] for h in last])
        p0, p1 = statistics.mean(h["proxy"] for h in first), statistics.mean(h["proxy"] for h in last)
        kl = statistics.mean(h["kl"] for h in last)
        change_se = (g0_se ** 2 + g1_se ** 2) ** 0.5
        print(f"{name:18s} trained-on reward {p0:+.2f} → {p1:+.2f}   gold {g0:.3f} → {g1:.3f}, change "
              f"{g1 - g0:+.3f} ± {change_se:.3f}   KL {kl:5.1f} nats   ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
