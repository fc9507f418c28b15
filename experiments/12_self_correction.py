"""Notebook 12's RL runs, longer: naive RL on the second attempt against SCoRe's two stages, from data/reflect-warm.

    python experiments/12_self_correction.py              # about 5 minutes on 2 cores
    python experiments/12_self_correction.py --steps 6    # a quick try-out

Both arms start from the warm start and get the same number of GRPO steps (8 groups of 8 two-attempt episodes, no
feedback between the attempts, learning rate 5e-5): naive RL rewards the second attempt only, every token of the
episode sharing its advantage; SCoRe spends half the steps in stage I (the second attempt's reward, a KL weight of 1
on the first attempt's tokens and 0 on the second's) and half in stage II (each attempt credited by its own reward,
the second's with the bonus α (r2 - r1), α = 10, and a KL weight of 0.1 on both attempts' tokens). Held out: 300
test-split tasks, each played 4 times at T = 1; accuracy at each attempt, Δ, the transition rates and the edit
distance, and the gains paired by task.

Reference run, commit 2f44a0b (SCoRe's attempts counted as answers, not messages; stage II's KL term; standard
errors over tasks), alone on 2 cores, 296 s (naive RL's training 128 s, SCoRe's 152 s) (columns: attempt 1,
attempt 2, Δ, wrong -> right, right -> wrong, edit distance):
    300 held-out tasks × 4 samples at T = 1
    warm start   0.438 ±0.022  0.378 ±0.021  -0.059 ±0.014  0.085  0.144   1.51
    naive        0.497 ±0.024  0.497 ±0.024  +0.000 ±0.015  0.092  0.092   0.92
    score        0.497 ±0.024  0.485 ±0.024  -0.013 ±0.014  0.087  0.099   0.99
    paired by task (gain ± standard error over the 300 tasks):
    naive  attempt 1: +0.059 ± 0.015
    naive  attempt 2: +0.118 ± 0.018
    score  attempt 1: +0.060 ± 0.015
    score  attempt 2: +0.107 ± 0.016
    Δ of SCoRe minus Δ of naive RL: -0.013 ± 0.018
Neither arm learned to correct: both stopped the second attempt doing harm (Δ about 0), mostly by copying the first
(edit distance 1.51 -> 0.92 and 0.99). The earlier reference run (commit bf99df4: attempts counted by message, no KL
in stage II, standard errors over episodes) printed the same accuracies for naive RL, and for SCoRe attempt 1
0.514, attempt 2 0.502, Δ -0.012, edit distance 0.98, Δ minus naive RL's -0.012 ± 0.016.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab import load_model  # noqa: E402
from agentic_lab.eval import paired_gain  # noqa: E402
from agentic_lab.reflection import MAX_NEW_TOKENS, WARM_START, TwoAttemptsEnv, attempts_of, attempts_report  # noqa: E402
from agentic_lab.rl import RLConfig, grpo_train  # noqa: E402
from agentic_lab.rollout import rollout  # noqa: E402

TASKS, SAMPLES, LR, ALPHA, FIRST_ATTEMPT_BETA, STAGE_2_BETA = 300, 4, 5e-5, 10.0, 1.0, 0.1


def held_out(model, tokenizer):
    """The report over TASKS × SAMPLES episodes, and per task the mean correctness of attempt 1, of attempt 2."""
    envs = [TwoAttemptsEnv(split="test") for _ in range(TASKS * SAMPLES)]
    played = rollout(model, tokenizer, envs, [100_000 + k for k in range(TASKS) for _ in range(SAMPLES)],
                     temperature=1.0, max_new_tokens=MAX_NEW_TOKENS, seed=7)
    attempts = [attempts_of(t) for t in played]
    per_task = [[sum(a[k]["correct"] for a in attempts[i * SAMPLES:(i + 1) * SAMPLES]) / SAMPLES for i in range(TASKS)]
                for k in (0, 1)]
    return attempts_report(played)["none"], per_task


def main(steps: int) -> None:
    base, tokenizer = load_model(WARM_START)
    common = dict(n_groups=8, group_size=8, lr=LR, max_new_tokens=MAX_NEW_TOKENS)
    arms = {"naive": [(TwoAttemptsEnv, {}, RLConfig(**common), steps)],
            "score": [(TwoAttemptsEnv, {}, RLConfig(**common, turn_beta=(FIRST_ATTEMPT_BETA, 0.0)), steps // 2),
                      (TwoAttemptsEnv, {"alpha": ALPHA}, RLConfig(**common, credit="turn", beta=STAGE_2_BETA),
                       steps - steps // 2)]}
    results = {"warm start": held_out(base, tokenizer)}
    for name, stages in arms.items():
        model, start = copy.deepcopy(base), time.time()
        for k, (env, kwargs, config, n) in enumerate(stages):
            grpo_train(model, tokenizer, lambda: env(**kwargs), n, config, seed=k, progress=False)
        results[name] = held_out(model, tokenizer)
        print(f"{name}: {steps} steps in {time.time() - start:.0f} s", flush=True)
    print(f"\n{TASKS} held-out tasks × {SAMPLES} samples at T = 1")
    print(f"{'':11s} {'attempt 1':>12s} {'attempt 2':>12s} {'Δ':>13s} {'w→r':>6s} {'r→w':>6s} {'edit':>6s}")
    for name, (row, _) in results.items():
        print(f"{name:11s} {row['accuracy_1']:6.3f} ±{row['accuracy_1_se']:.3f} {row['accuracy_2']:6.3f} "
              f"±{row['accuracy_2_se']:.3f} {row['delta']:+7.3f} ±{row['delta_se']:.3f} {row['wrong_to_right']:6.3f} "
              f"{row['right_to_wrong']:6.3f} {row['edit_distance']:6.2f}")
    print("\npaired by task (gain ± standard error over the 300 tasks):")
    for name in arms:
        for k, label in ((0, "attempt 1"), (1, "attempt 2")):
            gain, se = paired_gain(results["warm start"][1][k], results[name][1][k])
            print(f"{name:6s} {label}: {gain:+.3f} ± {se:.3f}")
    deltas = {name: [b - a for a, b in zip(*results[name][1])] for name in results}
    gain, se = paired_gain(deltas["naive"], deltas["score"])
    print(f"Δ of SCoRe minus Δ of naive RL: {gain:+.3f} ± {se:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=120, help="GRPO steps per arm")
    torch.set_num_threads(2)
    main(parser.parse_args().steps)
