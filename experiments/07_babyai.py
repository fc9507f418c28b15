"""Notebook 07's BabyAI, measured: the BabyAI bot, uniform random actions, the tiny base model, the BabyAI warm start
(data/babyai-warm, built by data/build_babyai_model.py on the bot's GoToLocal episodes), and GRPO from it.

    python experiments/07_babyai.py [--missions 200] [--grpo-seeds 0] [--grpo-steps 20]

Everything is measured on the same `--missions` held-out GoToLocal missions (split="test", seeds 100,000 + k: the
first missions of the warm start's model card), 16 turns each, the whole history in the context. BabyAI has no
splits of its own: a level's split is decided by a hash of its first observation (`BabyAIEnv(split=...)`), so no
held-out mission starts as a training one did. The bot plays its own actions through the text interface; random
plays `max_turns` actions drawn uniformly from minigrid's seven (one draw per mission); the models play greedily and
sampled at temperature 1 (one sample per mission). GRPO (8 groups of 8, lr 1e-4, 32 new
tokens a turn), on training-split missions, each seed from its own copy of the warm start; its gains are paired by
mission with the warm start, same decoding.

Reference run, warm start of commit 8d2484b, this script as committed with this docstring: the defaults (200
missions, GRPO seed 0), 1,661 s at one thread beside other jobs; then `--skip-baselines --grpo-seeds 1` and
`--skip-baselines --grpo-seeds 2` (their warm start lines, the same as below, left out):

    held out: 200 GoToLocal missions of the test split, 16 turns each; success ± 1 SE
    the BabyAI bot                     success 1.000 ± 0.000 (n=200)
    uniform random over 7 actions      success 0.060 ± 0.017 (n=200)
    tiny base model, greedy            success 0.000 ± 0.000 (n=200); turns refused 0.94; context full 0.74; turns per success nan
    tiny base model, T = 1             success 0.000 ± 0.000 (n=200); turns refused 0.96; context full 0.82; turns per success nan
    BabyAI warm start, greedy          success 0.285 ± 0.032 (n=200); turns refused 0.00; context full 0.65; turns per success 5.5
    BabyAI warm start, T = 1           success 0.335 ± 0.033 (n=200); turns refused 0.00; context full 0.64; turns per success 6.1
    (353 s)
    GRPO seed 0: training success (sampled) 0.47 in the first 3 steps -> 0.22 in the last 3; within-group reward spread 0.46 -> 0.25 (1539 s)
    GRPO seed 0, greedy                success 0.360 ± 0.034 (n=200); turns refused 0.00; context full 0.60; turns per success 5.4; vs warm start +0.075 ± 0.038
    GRPO seed 0, T = 1                 success 0.355 ± 0.034 (n=200); turns refused 0.00; context full 0.58; turns per success 6.3; vs warm start +0.020 ± 0.040
    1661 s
    GRPO seed 1: training success (sampled) 0.30 in the first 3 steps -> 0.18 in the last 3; within-group reward spread 0.35 -> 0.26 (1706 s)
    GRPO seed 1, greedy                success 0.310 ± 0.033 (n=200); turns refused 0.00; context full 0.58; turns per success 5.3; vs warm start +0.025 ± 0.038
    GRPO seed 1, T = 1                 success 0.340 ± 0.033 (n=200); turns refused 0.00; context full 0.56; turns per success 6.1; vs warm start +0.005 ± 0.040
    1784 s
    GRPO seed 2: training success (sampled) 0.34 in the first 3 steps -> 0.37 in the last 3; within-group reward spread 0.32 -> 0.37 (1124 s)
    GRPO seed 2, greedy                success 0.275 ± 0.032 (n=200); turns refused 0.00; context full 0.65; turns per success 5.3; vs warm start -0.010 ± 0.038
    GRPO seed 2, T = 1                 success 0.330 ± 0.033 (n=200); turns refused 0.00; context full 0.57; turns per success 5.5; vs warm start -0.005 ± 0.039
    1201 s

GRPO (8 groups of 8, lr 1e-4) did not move the warm start held out: greedy gains +0.075, +0.025 and -0.010 (each
± 0.038, the first at 2.0 SE, the others within 1), at T = 1 +0.020, +0.005 and -0.005. Seeds 1 and 2 shared the
machine with each other for part of their runs, so their seconds are not comparable. The training success is of
each step's new missions (8 a step), so its first and last three steps differ also in which missions were drawn.
"""
import argparse
import copy
import time

import gymnasium as gym
import numpy as np

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, planning, rl
from agentic_lab.eval import paired_gain
from agentic_lab.rollout import rollout

LEVEL = "agentic_lab/BabyAI-GoToLocal-v0"


def mean_se(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    return values.mean(), values.std() / np.sqrt(len(values))


def play_actions(seed: int, actions_for) -> bool:
    """One held-out mission played with actions decided at its start (the bot's, or random ones)."""
    env = gym.make(LEVEL, split="test")
    env.reset(seed=seed)
    for action in actions_for(env.unwrapped):
        *_, terminated, truncated, _ = env.step(f"<answer>{action}</answer>")
        if terminated or truncated:
            break
    return env.unwrapped.success


def play_model(model, tokenizer, seeds: list[int], temperature: float) -> list:
    return rollout(model, tokenizer, [gym.make(LEVEL, split="test") for _ in seeds], seeds, temperature=temperature,
                   max_new_tokens=32)


def line(name: str, wins, extra: str = "") -> None:
    p, se = mean_se(wins)
    print(f"{name:34s} success {p:.3f} ± {se:.3f} (n={len(wins)}){extra}", flush=True)


def describe(episodes) -> str:
    r = planning.babyai_report(episodes)
    return (f"; turns refused {r['refused_turns']:.2f}; context full {r['context_full']:.2f}; "
            f"turns per success {r['turns_per_success'] or float('nan'):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--missions", type=int, default=200, help="held-out missions")
    parser.add_argument("--grpo-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--grpo-steps", type=int, default=20)
    parser.add_argument("--warm", default=planning.BABYAI_WARM_START, help="the warm start's folder")
    parser.add_argument("--skip-baselines", action="store_true", help="measure only the warm start and GRPO")
    args = parser.parse_args()
    start = time.time()
    seeds = [100_000 + k for k in range(args.missions)]
    print(f"held out: {args.missions} GoToLocal missions of the test split, 16 turns each; success ± 1 SE", flush=True)

    if not args.skip_baselines:
        line("the BabyAI bot", [play_actions(s, lambda env: env.expert_actions()) for s in seeds])
        rng = np.random.default_rng(0)
        line("uniform random over 7 actions",
             [play_actions(s, lambda env: rng.choice(planning.BABYAI_ACTIONS, env.max_turns)) for s in seeds])
        base, tokenizer = load_model()
        for name, temperature in (("greedy", 0.0), ("T = 1", 1.0)):
            episodes = play_model(base, tokenizer, seeds, temperature)
            line(f"tiny base model, {name}", [t.success for t in episodes], describe(episodes))

    warm, tokenizer = load_model(args.warm)
    warm_wins = {}
    for name, temperature in (("greedy", 0.0), ("T = 1", 1.0)):
        episodes = play_model(warm, tokenizer, seeds, temperature)
        warm_wins[name] = [float(t.success) for t in episodes]
        line(f"BabyAI warm start, {name}", warm_wins[name], describe(episodes))
    print(f"({time.time() - start:.0f} s)", flush=True)

    config = rl.RLConfig(n_groups=8, group_size=8, lr=1e-4, max_new_tokens=32)
    for seed in args.grpo_seeds:
        model = copy.deepcopy(warm)
        history = rl.grpo_train(model, tokenizer, lambda: gym.make(LEVEL, split="train"), steps=args.grpo_steps,
                                config=config, seed=seed, progress=True)
        first, last = (np.mean([h["success"] for h in part]) for part in (history[:3], history[-3:]))
        spread = [np.mean([h["reward_spread"] for h in part]) for part in (history[:3], history[-3:])]
        print(f"GRPO seed {seed}: training success (sampled) {first:.2f} in the first 3 steps -> {last:.2f} in the "
              f"last 3; within-group reward spread {spread[0]:.2f} -> {spread[1]:.2f} ({time.time() - start:.0f} s)",
              flush=True)
        model.eval()
        for name, temperature in (("greedy", 0.0), ("T = 1", 1.0)):
            episodes = play_model(model, tokenizer, seeds, temperature)
            wins = [float(t.success) for t in episodes]
            gain, se = paired_gain(warm_wins[name], wins)
            line(f"GRPO seed {seed}, {name}", wins, describe(episodes) + f"; vs warm start {gain:+.3f} ± {se:.3f}")
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
