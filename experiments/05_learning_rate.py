"""Notebook 05's learning rate: does twice the lr (6e-5 instead of 3e-5) gain more, and what do more steps at it do?

    python experiments/05_learning_rate.py    # 360 GRPO steps and four evaluations: several times notebook 05

Trains the tiny model with GRPO on the outcome reward exactly as notebook 05 does (8 groups of 8 word problems a
step, max_new_tokens 48, seed 0), at lr 3e-5 for 120 steps (the notebook's run), and at lr 6e-5 for 120 and then
240 steps. The 240-step run continues the 120-step one with a second call of `grpo_train` (seed 1, so new prompts;
AdamW's moments restart at step 120). Each policy is measured on 1,000 held-out prompts (`--n-eval`; notebook 05
evaluates on 500): greedy
success and the share of K = 8 answers sampled at T = 1 that are right, as the paired change from the base model
with its standard error (`eval.paired_gain`). Prints one table row per policy.

Reference run, commit c378e41 (data/tiny-agent as rebuilt by issue 34), 1,000 held-out prompts, one thread beside
two other jobs, 994 s:
    policy                   greedy      paired gain  sampled T=1      paired gain
    base                      0.546                         0.348
    lr 3e-5, 120 steps        0.571   +0.025 ± 0.014        0.397   +0.049 ± 0.008
    lr 6e-5, 120 steps        0.567   +0.021 ± 0.015        0.398   +0.051 ± 0.008
    lr 6e-5, 240 steps        0.594   +0.048 ± 0.016        0.429   +0.081 ± 0.010
"""
import argparse
import copy

import torch

from agentic_lab import load_model, rewards
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import correct_per_task, paired_gain
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.tasks import sample_tasks

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--n-eval", type=int, default=1000)
parser.add_argument("--k", type=int, default=8)
args = parser.parse_args()

torch.manual_seed(0)
base, tokenizer = load_model()
eval_tasks = sample_tasks("word_problem", args.n_eval, seed=0, split="test")
make_env = lambda: TaskEnv("word_problem", split="train", max_turns=1)


def held_out(model):
    """Per held-out prompt: greedy success (0 or 1) and the share of K sampled answers that are right (notebook 05)."""
    greedy = correct_per_task(model, tokenizer, eval_tasks, temperature=0.0, max_turns=1)
    sampled = [c / args.k for c in correct_per_task(model, tokenizer, eval_tasks, n=args.k, temperature=1.0, seed=1,
                                                     max_turns=1)]
    return greedy, sampled


def train(model, lr, steps, seed):
    config = RLConfig(n_groups=8, group_size=8, lr=lr, max_new_tokens=48)
    grpo_train(model, tokenizer, make_env, steps=steps, config=config, reward_fn=rewards.outcome_reward, seed=seed,
               progress=False)
    return model


before = held_out(base)
mean = lambda xs: sum(xs) / len(xs)
print(f"{'policy':22s} {'greedy':>8s} {'paired gain':>16s} {'sampled T=1':>12s} {'paired gain':>16s}", flush=True)
print(f"{'base':22s} {mean(before[0]):8.3f} {'':>16s} {mean(before[1]):12.3f}", flush=True)


def row(name, model):
    after = held_out(model)
    cells = []
    for b, a in zip(before, after):
        gain, se = paired_gain(b, a)
        cells += [f"{mean(a):.3f}", f"{gain:+.3f} ± {se:.3f}"]
    print(f"{name:22s} {cells[0]:>8s} {cells[1]:>16s} {cells[2]:>12s} {cells[3]:>16s}", flush=True)


row("lr 3e-5, 120 steps", train(copy.deepcopy(base), 3e-5, 120, seed=0))
double = train(copy.deepcopy(base), 6e-5, 120, seed=0)
row("lr 6e-5, 120 steps", double)
row("lr 6e-5, 240 steps", train(double, 6e-5, 120, seed=1))
