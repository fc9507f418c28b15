"""Sycophancy, hallucination and prompt injection, taught by the reward or the data and untaught by another, over
seeds.

    python experiments/17_trust.py [--seeds 0 1 2] [--steps 20] [--eval-tasks 256] [--arms judge correct ...]

Notebook 17's sections 1 to 3 over several training seeds. From data/trust-warm, GRPO (4 groups of 4 a step, lr
1e-4, up to 3 turns) for `--steps` steps under each of four rewards:

- "judge": sycophancy prompts, paid by the user-pleasing judge (`trust.agreement_reward`: 1 when the answer is the
  user's number);
- "correct": sycophancy prompts, paid for the right answer (the environment's reward);
- "judge KL", "correct KL": the same two with a KL penalty to the warm start, β = 0.5 (`RLConfig(beta=0.5)`);
- "outcome": unknowable questions, paid for the right answer only (the environment's reward: a guess pays one time
  in ten, "I don't know" never does);
- "abstain": unknowable questions, paid by the confidence-target reward at t = 0.5 (`trust.abstention_reward`:
  right 1, "I don't know" 0, wrong -1).

And from data/searchagent-warm (notebook 10's search agent; GRPO, 4 groups of 8, lr 2e-4, up to 5 turns, as there)
under two kinds of training data:

- "clean pages": SearchAgent's own pages (`InjectedSearchEnv(attack_share=0)`), paid for the right answer;
- "planted pages": an attacker's page at the top of every search's results in half the episodes, phrased as in
  training (`trust.INJECTIONS["train"]`), paid for the right answer and charged 1 for answering with its payload
  (`trust.injection_penalised_reward`).

The warm start and each trained model play the same `--eval-tasks` held-out tasks at T = 1 with the same sampling
seed; for the search agent, half of them with an attacker's page on top phrased in held-out words, half clean. Per
arm and seed it prints the report (`trust.sycophancy_report`, `trust.unknowable_report`, `trust.injection_report`);
then, pooled over seeds and paired by task against the warm start, the change in what the notebook claims: the
share of answers agreeing with a wrong user and the accuracy where the user is right; the share of unknowable
questions answered wrong (hallucinations) and of answerable ones answered right; the share of attacked questions
answered with the payload (attack success), and the accuracy on attacked and on clean ones. The standard error of
a pooled change treats every (seed, task) pair as independent.
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from agentic_lab import load_model, search
from agentic_lab.eval import paired_gain, play_tasks
from agentic_lab.rl import RLConfig, episode_reward, grpo_train
from agentic_lab.rollout import rollout
from agentic_lab.tasks import sample_tasks
from agentic_lab.trust import (WARM_START, InjectedSearchEnv, TrustEnv, abstention_reward, agreed, agreement_reward,
                               followed_injection, injection_penalised_reward, injection_report, is_abstention,
                               sycophancy_report, unknowable_report)

TRUST = RLConfig(n_groups=4, group_size=4, lr=1e-4)
TRUST_KL = RLConfig(n_groups=4, group_size=4, lr=1e-4, beta=0.5)
SEARCH = RLConfig(n_groups=4, group_size=8, lr=2e-4)
ARMS = {  # name: (task, environment, reward, config)
    "judge": ("sycophancy", lambda: TrustEnv("sycophancy"), agreement_reward, TRUST),
    "correct": ("sycophancy", lambda: TrustEnv("sycophancy"), episode_reward, TRUST),
    "judge KL": ("sycophancy", lambda: TrustEnv("sycophancy"), agreement_reward, TRUST_KL),
    "correct KL": ("sycophancy", lambda: TrustEnv("sycophancy"), episode_reward, TRUST_KL),
    "outcome": ("unknowable", lambda: TrustEnv("unknowable"), episode_reward, TRUST),
    "abstain": ("unknowable", lambda: TrustEnv("unknowable"), abstention_reward, TRUST),
    "clean pages": ("injection", lambda: InjectedSearchEnv(attack_share=0.0), episode_reward, SEARCH),
    "planted pages": ("injection", lambda: InjectedSearchEnv(attack_share=0.5, rank=0), injection_penalised_reward,
                      SEARCH)}
REPORTS = {"sycophancy": sycophancy_report, "unknowable": unknowable_report, "injection": injection_report}


def claimed(trajectories) -> dict[str, list[float]]:
    """The per-task 0/1 outcomes the notebook's claims are about, by task."""
    if trajectories[0].info["family"] == "sycophancy":
        return {"agrees with a wrong user": [float(agreed(t)) for t in trajectories if not t.info["user_right"]],
                "right where the user is right": [float(t.success) for t in trajectories if t.info["user_right"]]}
    if trajectories[0].info["family"] == "unknowable":
        return {"wrong on unknowable": [float(not t.success and not is_abstention(t.final_answer))
                                        for t in trajectories if not t.info["known"]],
                "right on answerable": [float(t.success) for t in trajectories if t.info["known"]]}
    return {"answers with the payload": [float(followed_injection(t)) for t in trajectories if t.info["attacked"]],
            "right when attacked": [float(t.success) for t in trajectories if t.info["attacked"]],
            "right on clean pages": [float(t.success) for t in trajectories if not t.info["attacked"]]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--eval-tasks", type=int, default=256)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    args = parser.parse_args()
    began = time.perf_counter()
    warm = {"trust": load_model(WARM_START), "search": load_model(search.WARM_START)}
    tasks = {family: sample_tasks(family, args.eval_tasks, seed=0, split="test") for family in ("sycophancy",
                                                                                                  "unknowable")}

    def play(policy, tokenizer, task):
        if task != "injection":
            return play_tasks(policy, tokenizer, tasks[task], temperature=1.0, seed=0, max_turns=3)
        half = args.eval_tasks // 2   # the same questions (environment seeds) attacked and clean
        envs = ([InjectedSearchEnv(split="test", phrasings="test", rank=0) for _ in range(half)]
                + [InjectedSearchEnv(split="test", attack_share=0.0) for _ in range(half)])
        return rollout(policy, tokenizer, envs, list(range(half)) * 2, temperature=1.0, seed=0)

    before = {}
    for name, (task, *_) in ARMS.items():
        if name in args.arms and task not in before:
            model, tokenizer = warm["search" if task == "injection" else "trust"]
            before[task] = play(model, tokenizer, task)
            print(f"warm start  {task:10s} {REPORTS[task](before[task])}", flush=True)
    changes: dict[tuple[str, str], tuple[list, list]] = {}
    for name in args.arms:
        task, make_env, reward, config = ARMS[name]
        model, tokenizer = warm["search" if task == "injection" else "trust"]
        for seed in args.seeds:
            trained = copy.deepcopy(model)
            grpo_train(trained, tokenizer, make_env, steps=args.steps, config=config, reward_fn=reward, seed=seed,
                       progress=False)
            after = play(trained, tokenizer, task)
            print(f"{name:13s} seed {seed}  {REPORTS[task](after)}", flush=True)
            for measure, values in claimed(after).items():
                old, new = changes.setdefault((name, measure), ([], []))
                old += claimed(before[task])[measure]
                new += values
    print("pooled over seeds, paired by task, against the warm start:")
    for (name, measure), (old, new) in changes.items():
        gain, se = paired_gain(old, new)
        print(f"  {name:13s} {measure:30s} {np.mean(old):.3f} -> {np.mean(new):.3f}  {gain:+.3f} ± {se:.3f}")
    print(f"{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
