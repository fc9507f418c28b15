"""Outside the base model's support: does RL on the calculator family make new forms of expression solvable?

    python experiments/18_outside_support.py [--templates "(a+b)*(c+d)" "a*b+c*d"] [--problems 32] [--samples 256]
                                             [--seeds 0 1 2] [--steps 10] [--base-redraws 1 2 3]

Notebook 18's section 3 at a larger scale. For each template of `agentic_lab.support` (forms the calculator family
never shows), `--problems` held-out problems are sampled `--samples` times at T = 1 by the base model, and by the
model GRPO trained on the calculator family for `--steps` steps (notebook 18's run: 4 groups of 4 a step, lr 1e-4,
96 tokens a message, up to 3 turns) from each training seed. Per template and model it prints pass@1, pass@16 and
pass@n, the problems no sample solved, and, against the base model, the problems **newly solved** (no right sample
from the base, at least one after RL) and the problems lost. A problem the base never solved in n samples may still
have a chance below about 3/n (the rule of three, 95%): newly solved is a statement about n samples, not about
infinitely many. So `--base-redraws` gives it a baseline: the base model sampled again with each of these sampling
seeds, and the problems that draw newly solves, by luck alone.

Reference run: `python experiments/18_outside_support.py --base-redraws 1 2 3` at de6de8e, one thread beside another
one-thread job, 3,018 s (the RL rows are those of the earlier run at f610532, to the digit):
    (a+b)*(c+d)  base       pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32
    a*b+c*d      base       pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32
    (a+b)*(c+d)  RL seed 0  pass@1 0.0006  pass@16 0.009  pass@256 0.031  never solved 31 of 32  newly solved 1 (right samples [5]), lost 0
    a*b+c*d      RL seed 0  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0
    (a+b)*(c+d)  RL seed 1  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0
    a*b+c*d      RL seed 1  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0
    (a+b)*(c+d)  RL seed 2  pass@1 0.0004  pass@16 0.006  pass@256 0.094  never solved 29 of 32  newly solved 3 (right samples [1, 1, 1]), lost 0
    a*b+c*d      RL seed 2  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0
    (a+b)*(c+d)  base, draw 1  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0
    a*b+c*d      base, draw 1  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0
    (a+b)*(c+d)  base, draw 2  pass@1 0.0001  pass@16 0.002  pass@256 0.031  never solved 31 of 32  newly solved 1 (right samples [1]), lost 0
    a*b+c*d      base, draw 2  pass@1 0.0001  pass@16 0.002  pass@256 0.031  never solved 31 of 32  newly solved 1 (right samples [1]), lost 0
    (a+b)*(c+d)  base, draw 3  pass@1 0.0001  pass@16 0.002  pass@256 0.031  never solved 31 of 32  newly solved 1 (right samples [1]), lost 0
    a*b+c*d      base, draw 3  pass@1 0.0000  pass@16 0.000  pass@256 0.000  never solved 32 of 32  newly solved 0 (right samples []), lost 0

    newly solved by RL, over templates and seeds: 4 of 192 problems the base never solved (0.021 ± 0.010)
    newly solved by base drawn again, over templates and draws: 3 of 192 problems the base never solved (0.016 ± 0.009)
    3018 s
(Notebook 18's first four problems of each form are these problems' first four; its RL run is seed 0's.)
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np

import agentic_lab.support  # noqa: F401 - registers the new_expressions family
from agentic_lab import load_model
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import correct_per_task, pass_at_k
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.tasks import sample_tasks


def right_per_problem(policy, tokenizer, tasks, n: int, sampling_seed: int = 0) -> list[int]:
    """How many of n samples (T = 1; sampling seed 0 for every model unless told) solved each task."""
    return correct_per_task(policy, tokenizer, tasks, n, temperature=1.0, seed=sampling_seed, max_turns=3)


def share(count: int, total: int) -> str:
    p = count / total if total else float("nan")
    return f"{count} of {total} problems the base never solved ({p:.3f} ± {np.sqrt(p * (1 - p) / total):.3f})"


def summary(counts: list[int], n: int) -> str:
    rates = {k: np.mean([pass_at_k(n, c, k) for c in counts]) for k in (1, 16, n)}
    return (f"pass@1 {rates[1]:.4f}  pass@16 {rates[16]:.3f}  pass@{n} {rates[n]:.3f}  "
            f"never solved {sum(c == 0 for c in counts)} of {len(counts)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--templates", nargs="+", default=["(a+b)*(c+d)", "a*b+c*d"])
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--base-redraws", type=int, nargs="*", default=[])
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    began = time.perf_counter()
    base, tokenizer = load_model()
    problems = {t: sample_tasks("new_expressions", args.problems, seed=0, split="test", template=t)
                for t in args.templates}
    base_counts = {t: right_per_problem(base, tokenizer, tasks, args.samples) for t, tasks in problems.items()}
    for template, counts in base_counts.items():
        print(f"{template:12s} base       {summary(counts, args.samples)}", flush=True)
    def against_base(name: str, counts: dict[str, list[int]]) -> tuple[int, int]:
        """Print each template's row for one model or draw; return (newly solved, never solved by the base)."""
        newly = never = 0
        for template, right in counts.items():
            new = [i for i, (b, a) in enumerate(zip(base_counts[template], right)) if b == 0 and a > 0]
            lost = sum(b > 0 and a == 0 for b, a in zip(base_counts[template], right))
            newly, never = newly + len(new), never + sum(b == 0 for b in base_counts[template])
            print(f"{template:12s} {name}  {summary(right, args.samples)}  newly solved {len(new)} "
                  f"(right samples {[right[i] for i in new]}), lost {lost}", flush=True)
        return newly, never

    totals = {"RL": [0, 0], "base drawn again": [0, 0]}
    for seed in args.seeds:
        trained = copy.deepcopy(base)
        grpo_train(trained, tokenizer, lambda: TaskEnv("calculator", max_turns=3), steps=args.steps, seed=seed,
                   config=RLConfig(n_groups=4, group_size=4, lr=1e-4), progress=False)
        counts = {t: right_per_problem(trained, tokenizer, tasks, args.samples) for t, tasks in problems.items()}
        totals["RL"] = [a + b for a, b in zip(totals["RL"], against_base(f"RL seed {seed}", counts))]
    # The luck baseline: the base model itself, sampled again with other seeds. A problem the first n samples never
    # solved can still be solved by the next n, if its chance is small but not zero.
    for draw in args.base_redraws:
        counts = {t: right_per_problem(base, tokenizer, tasks, args.samples, sampling_seed=draw)
                  for t, tasks in problems.items()}
        totals["base drawn again"] = [a + b for a, b in zip(totals["base drawn again"],
                                                            against_base(f"base, draw {draw}", counts))]
    print()
    for name, (newly, never) in totals.items():
        if never:
            print(f"newly solved by {name}, over templates and {'seeds' if name == 'RL' else 'draws'}: "
                  f"{share(newly, never)}")
    print(f"{time.perf_counter() - began:.0f} s")

if __name__ == "__main__":
    main()
