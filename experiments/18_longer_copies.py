"""Reaching past the support: does RL on copies the base model rarely gets right make longer ones, which it never
gets right, solvable?

    python experiments/18_longer_copies.py [--train-lengths 56 60 64 68] [--test-lengths 64 72 80 88]
                                           [--problems 32] [--samples 256] [--seeds 0 1 2] [--steps 60]
                                           [--base-redraws 1]

Notebook 18's reaching regime. `agentic_lab.support.long_values` asks for one value of a record in the prompt, a
value of `length` characters among two short ones (the copy family the base model learned from has values of at
most 40). For each test length, `--problems` held-out records (their keys never in training) are sampled
`--samples` times at T = 1 by the base model, and by the model GRPO trained for `--steps` steps on the training
lengths (8 groups of 8 a step, lr 1e-4, one message of up to 128 tokens) from each training seed. Per length and
model it prints pass@1, pass@16 and pass@n, the problems no sample solved, and how the samples failed: the share
that answered with the asked value's first 8 characters (the right field), and of those the share copied whole.
Against the base model it prints the problems **newly solved** (no right sample from the base, at least one after
RL) and lost. The luck baseline, `--base-redraws`: the base model sampled again with other seeds, and the problems
that second draw newly solves; a chance too small to show in n samples is not a chance of zero.

Reference run: `python experiments/18_longer_copies.py` at d124f39, one thread beside another one-thread job,
2,050 s:
    L =  64  base          pass@1 0.0364  pass@16 0.294  pass@256 0.625  never solved 12 of 32  right field 0.21, copied whole 0.18
    L =  72  base          pass@1 0.0103  pass@16 0.083  pass@256 0.156  never solved 27 of 32  right field 0.22, copied whole 0.05
    L =  80  base          pass@1 0.0006  pass@16 0.009  pass@256 0.031  never solved 31 of 32  right field 0.17, copied whole 0.00
    L =  88  base          pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  right field 0.19, copied whole 0.00
    RL seed 0: training success, first and last 10 steps 0.058 -> 0.136
    L =  64  RL seed 0     pass@1 0.1907  pass@16 0.523  pass@256 0.750  never solved 8 of 32  right field 0.34, copied whole 0.57  newly solved 7, lost 3
    L =  72  RL seed 0     pass@1 0.0841  pass@16 0.223  pass@256 0.469  never solved 17 of 32  right field 0.15, copied whole 0.55  newly solved 11, lost 1
    L =  80  RL seed 0     pass@1 0.0361  pass@16 0.264  pass@256 0.500  never solved 16 of 32  right field 0.27, copied whole 0.13  newly solved 15, lost 0
    L =  88  RL seed 0     pass@1 0.0182  pass@16 0.063  pass@256 0.156  never solved 27 of 32  right field 0.20, copied whole 0.09  newly solved 5, lost 0
    RL seed 1: training success, first and last 10 steps 0.044 -> 0.102
    L =  64  RL seed 1     pass@1 0.2419  pass@16 0.449  pass@256 0.594  never solved 13 of 32  right field 0.32, copied whole 0.75  newly solved 4, lost 5
    L =  72  RL seed 1     pass@1 0.1019  pass@16 0.250  pass@256 0.406  never solved 19 of 32  right field 0.23, copied whole 0.45  newly solved 9, lost 1
    L =  80  RL seed 1     pass@1 0.0455  pass@16 0.201  pass@256 0.469  never solved 17 of 32  right field 0.25, copied whole 0.18  newly solved 14, lost 0
    L =  88  RL seed 1     pass@1 0.0208  pass@16 0.128  pass@256 0.250  never solved 24 of 32  right field 0.24, copied whole 0.09  newly solved 8, lost 0
    RL seed 2: training success, first and last 10 steps 0.052 -> 0.058
    L =  64  RL seed 2     pass@1 0.0885  pass@16 0.347  pass@256 0.500  never solved 16 of 32  right field 0.21, copied whole 0.41  newly solved 4, lost 8
    L =  72  RL seed 2     pass@1 0.0535  pass@16 0.252  pass@256 0.438  never solved 18 of 32  right field 0.22, copied whole 0.24  newly solved 10, lost 1
    L =  80  RL seed 2     pass@1 0.0293  pass@16 0.158  pass@256 0.312  never solved 22 of 32  right field 0.21, copied whole 0.14  newly solved 9, lost 0
    L =  88  RL seed 2     pass@1 0.0179  pass@16 0.093  pass@256 0.219  never solved 25 of 32  right field 0.20, copied whole 0.09  newly solved 7, lost 0
    L =  64  base, draw 1  pass@1 0.0396  pass@16 0.305  pass@256 0.625  never solved 12 of 32  right field 0.21, copied whole 0.18  newly solved 2, lost 2
    L =  72  base, draw 1  pass@1 0.0094  pass@16 0.087  pass@256 0.219  never solved 25 of 32  right field 0.21, copied whole 0.04  newly solved 2, lost 0
    L =  80  base, draw 1  pass@1 0.0006  pass@16 0.009  pass@256 0.031  never solved 31 of 32  right field 0.16, copied whole 0.00  newly solved 0, lost 0
    L =  88  base, draw 1  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  right field 0.19, copied whole 0.00  newly solved 0, lost 0

    problems at lengths [72, 80, 88] (longer than any trained) that no base sample solved: 90
    newly solved by RL seed 0: 31 (0.344 ± 0.050)
    newly solved by RL seed 1: 31 (0.344 ± 0.050)
    newly solved by RL seed 2: 26 (0.289 ± 0.048)
    newly solved by base, draw 1: 2 (0.022 ± 0.016)
    2050 s
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from agentic_lab import load_model
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import pass_at_k, play_tasks
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.support import long_values  # noqa: F401 - registers the long_values family
from agentic_lab.tasks import sample_tasks

MAX_NEW_TOKENS = 128   # room for the longest value and the answer's tags


def sampled(policy, tokenizer, tasks, n: int, sampling_seed: int = 0) -> list[list]:
    """n episodes of each task at T = 1 (sampling seed 0 for every model unless told), grouped by task."""
    played = play_tasks(policy, tokenizer, [t for t in tasks for _ in range(n)], temperature=1.0, seed=sampling_seed,
                        max_turns=1, max_new_tokens=MAX_NEW_TOKENS)
    return [played[i * n:(i + 1) * n] for i in range(len(tasks))]


def answer_of(episode) -> str:
    action = episode.turns[0].action if episode.turns else None
    return (action.answer or "") if action is not None and action.kind == "answer" else ""


def row(tasks, episodes: list[list], n: int) -> tuple[str, list[int]]:
    """The printed summary of one model at one length, and the right samples per problem."""
    right = [sum(e.success for e in per_task) for per_task in episodes]
    rates = {k: np.mean([pass_at_k(n, c, k) for c in right]) for k in (1, 16, n)}
    answers = [(task.answer, answer_of(e)) for task, per_task in zip(tasks, episodes) for e in per_task]
    started = [(gold, said) for gold, said in answers if said[:8] == gold[:8]]
    whole = np.mean([said == gold for gold, said in started]) if started else float("nan")
    return (f"pass@1 {rates[1]:.4f}  pass@16 {rates[16]:.3f}  pass@{n} {rates[n]:.3f}  never solved "
            f"{sum(c == 0 for c in right)} of {len(right)}  right field {len(started) / len(answers):.2f}, "
            f"copied whole {whole:.2f}"), right


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-lengths", type=int, nargs="+", default=[56, 60, 64, 68])
    parser.add_argument("--test-lengths", type=int, nargs="+", default=[64, 72, 80, 88])
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--base-redraws", type=int, nargs="*", default=[1])
    args = parser.parse_args()
    began, n = time.perf_counter(), args.samples
    base, tokenizer = load_model()
    problems = {length: sample_tasks("long_values", args.problems, seed=0, split="test", length=length)
                for length in args.test_lengths}
    base_right = {}
    for length, tasks in problems.items():
        text, base_right[length] = row(tasks, sampled(base, tokenizer, tasks, n), n)
        print(f"L = {length:3d}  base          {text}", flush=True)
    beyond = [length for length in args.test_lengths if length > max(args.train_lengths)]

    def against_base(name: str, policy, sampling_seed: int = 0) -> int:
        """Print each length's row for one model or draw; return the problems newly solved beyond the training
        lengths."""
        newly = 0
        for length, tasks in problems.items():
            text, right = row(tasks, sampled(policy, tokenizer, tasks, n, sampling_seed), n)
            new = sum(b == 0 and a > 0 for b, a in zip(base_right[length], right))
            lost = sum(b > 0 and a == 0 for b, a in zip(base_right[length], right))
            newly += new if length in beyond else 0
            print(f"L = {length:3d}  {name:12s}  {text}  newly solved {new}, lost {lost}", flush=True)
        return newly

    never = sum(b == 0 for length in beyond for b in base_right[length])
    totals = {}
    for seed in args.seeds:
        trained = copy.deepcopy(base)
        history = grpo_train(trained, tokenizer,
                             lambda: TaskEnv("long_values", max_turns=1, params={"length": tuple(args.train_lengths)}),
                             steps=args.steps, seed=seed, progress=False,
                             config=RLConfig(n_groups=8, group_size=8, lr=1e-4, max_new_tokens=MAX_NEW_TOKENS))
        success = [h["success"] for h in history]
        print(f"RL seed {seed}: training success, first and last 10 steps {np.mean(success[:10]):.3f} -> "
              f"{np.mean(success[-10:]):.3f}", flush=True)
        totals[f"RL seed {seed}"] = against_base(f"RL seed {seed}", trained)
    for draw in args.base_redraws:
        totals[f"base, draw {draw}"] = against_base(f"base, draw {draw}", base, sampling_seed=draw)
    print(f"\nproblems at lengths {beyond} (longer than any trained) that no base sample solved: {never}")
    for name, newly in totals.items():
        p = newly / never if never else float("nan")
        print(f"newly solved by {name}: {newly} ({p:.3f} ± {np.sqrt(p * (1 - p) / never) if never else p:.3f})")
    print(f"{time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
