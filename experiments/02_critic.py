"""Can PPO's critic keep up? Notebook 02's oracle run (PPO trained on gold itself) loses gold; the suspect is the
critic: a fresh linear head, its loss clipped at ±0.2 around the rollout's values, 4 minibatch steps a batch.

Runs notebook 02's oracle PPO (standardised gold as the reward, β = 0, 32 answers a step, lr 1e-4) under critic
settings that should let it learn faster, and prints per setting: explained variance 1 - Var[R - V] / Var[R] of
the rollout's values on the batch's returns (over the first fifth of the run, and over the rest), value loss, and
gold of the sampled answers (first and last fifth of the run, and the change). The noise is the per-step spread:
mean ± standard error over the steps of a window (one seed; each step is a fresh batch of 32 answers); with
--seeds > 1, windows are averaged per run and the spread is over seeds.

    python experiments/02_critic.py                 # 1 seed x 40 steps per setting: ~3 CPU-minutes a setting
    python experiments/02_critic.py --seeds 3 --only "λ = 1"

Reference run, commit a900f3f (data/tiny-agent as rebuilt by issue 34), one thread beside two other jobs, 529 s:
    oracle PPO (standardised gold, β = 0), 40 steps x 32 answers, 1 seed(s); EV over steps 1-8 and 9-40, gold over the first and last 8; mean ± SE over those steps
    setting                                                EV first        EV rest  value loss    gold first     gold last         Δ gold
    today (λ 0.95, value clip 0.2, value lr 1e-3)    -0.178 ± 0.062 -0.071 ± 0.009      0.1870 +0.452 ± 0.030 +0.487 ± 0.028 +0.034 ± 0.041   (70 s)
    λ = 1                                            -0.086 ± 0.034 -0.030 ± 0.011      0.3763 +0.473 ± 0.022 +0.382 ± 0.026 -0.091 ± 0.034   (74 s)
    no value clip                                    -0.199 ± 0.059 -1.166 ± 0.707      0.1439 +0.447 ± 0.034 +0.322 ± 0.021 -0.125 ± 0.040   (77 s)
    value lr 1e-2                                    -0.175 ± 0.064 -0.072 ± 0.016      0.1689 +0.482 ± 0.022 +0.369 ± 0.025 -0.113 ± 0.033   (68 s)
    warm-up: 10 value-only steps                     -0.115 ± 0.030 -0.035 ± 0.020      0.1680 +0.455 ± 0.025 +0.428 ± 0.020 -0.027 ± 0.032   (96 s)
    no clip + value lr 1e-2                          -0.191 ± 0.069 -0.119 ± 0.013      0.1605 +0.447 ± 0.032 +0.399 ± 0.024 -0.048 ± 0.040   (137 s)
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

SETTINGS = {  # name -> (ppo_train keyword arguments, critic warm-up steps: value head only, policy lr 0)
    "today (λ 0.95, value clip 0.2, value lr 1e-3)": ({}, 0),
    "λ = 1": ({"lam": 1.0}, 0),
    "no value clip": ({"value_clip": None}, 0),
    "value lr 1e-2": ({"value_lr": 1e-2}, 0),
    "warm-up: 10 value-only steps": ({}, 10),
    "no clip + value lr 1e-2": ({"value_clip": None, "value_lr": 1e-2}, 0),
}


def run(reference, tokenizer, gold, kwargs, warmup, steps, seed):
    make_env = lambda: TaskEnv("word_problem", split="train", max_turns=1)
    policy = ppo.PolicyWithValue(copy.deepcopy(reference))
    torch.manual_seed(seed)
    policy.value_head.reset_parameters()
    common = dict(batch_size=32, kl_coef=0.0, gold_fn=rm_lib.gold_reward, progress=False)
    if warmup:  # the policy's lr is 0: only the value head learns, on the reference policy's own answers
        ppo.ppo_train(policy, reference, tokenizer, make_env, gold, steps=warmup, lr=0.0, seed=seed + 1000,
                      **{**common, **kwargs})
    return ppo.ppo_train(policy, reference, tokenizer, make_env, gold, steps=steps, lr=1e-4, seed=seed,
                         **{**common, **kwargs})


def mean_se(xs):
    m = statistics.mean(xs)
    return m, (statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else float("nan"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--only", default=None, help="substring of one setting's name")
    args = parser.parse_args()
    torch.manual_seed(0)
    reference, tokenizer = load_model()
    calibration = sample_tasks("word_problem", 200, seed=9, split="train")
    gold = rm_lib.standardised(rm_lib.gold_scores, reference, tokenizer, calibration, seed=9)
    window = max(1, args.steps // 5)
    print(f"oracle PPO (standardised gold, β = 0), {args.steps} steps x 32 answers, {args.seeds} seed(s); "
          f"EV over steps 1-{window} and {window + 1}-{args.steps}, gold over the first and last {window}; "
          + ("mean ± SE over those steps" if args.seeds == 1 else "window means, then mean ± SE over seeds"))
    print(f"{'setting':48s} {'EV first':>14s} {'EV rest':>14s} {'value loss':>11s} {'gold first':>13s} "
          f"{'gold last':>13s} {'Δ gold':>14s}")
    for name, (kwargs, warmup) in SETTINGS.items():
        if args.only and args.only not in name:
            continue
        t0 = time.time()
        rows = []
        for seed in range(args.seeds):
            h = run(reference, tokenizer, gold, kwargs, warmup, args.steps, seed)
            first, rest, last = h[:window], h[window:], h[-window:]
            rows.append({"ev0": [x["explained_variance"] for x in first],
                         "ev1": [x["explained_variance"] for x in rest], "vl": [x["value_loss"] for x in h],
                         "g0": [x["gold"] for x in first], "g1": [x["gold"] for x in last]})
        if args.seeds == 1:   # spread over the steps of each window; the change in gold: SEs added in quadrature
            row = rows[0]
            stats = {k: mean_se(v) for k, v in row.items()}
            stats["dg"] = (stats["g1"][0] - stats["g0"][0], (stats["g1"][1] ** 2 + stats["g0"][1] ** 2) ** 0.5)
        else:                 # each run's window means, spread over seeds
            per_run = [{k: statistics.mean(v) for k, v in r.items()} for r in rows]
            for r in per_run:
                r["dg"] = r["g1"] - r["g0"]
            stats = {k: mean_se([r[k] for r in per_run]) for k in per_run[0]}
        cell = lambda key: "{:+.3f} ± {:.3f}".format(*stats[key])
        print(f"{name:48s} {cell('ev0'):>14s} {cell('ev1'):>14s} {stats['vl'][0]:11.4f} "
              f"{cell('g0'):>13s} {cell('g1'):>13s} {cell('dg'):>14s}   ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
