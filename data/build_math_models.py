"""Build notebook 15's two warm starts from the tiny model: one that answers informal math in the forms people write,
one that proves identities one rewrite at a time.

    python data/build_math_models.py                       # both; the model cards state their times
    python data/build_math_models.py --only prove --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

- `math-warm` (agentic_lab/Fractions-v0 and Expand-v0): fractions to add and products to expand, train split
  (denominator pairs and root pairs held out). Each demonstration thinks in a short scratchpad, then answers in one
  of the task's equal forms (`math_tasks.FORM_SHARES`: half as the key writes it, half in a form string match calls
  wrong), so that which reward RL gets decides which forms it keeps.
- `prove-warm` (agentic_lab/Prove-v0): the shortest proof of theorems of 1 to 3 rewrites, one `rw` call a turn,
  train split (goal shapes held out).

Deterministic (fixed seeds for the tasks, the draws and the batch order). Each folder is replaced atomically, with its
model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.math_tasks import (ANSWER_WARM_START, FORM_SHARES, PROOF_TOKENS, PROVER_WARM_START,  # noqa: E402
                                    answer_report, demonstration, proof_report)
from agentic_lab.tasks import sample_tasks  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = {"math": 600, "prove": 300}   # the proofs repeat one form: the loss is flat after about 100 steps
EVAL_TASKS = 200          # held-out tasks per family or proof length
PROOF_LENGTHS = (1, 2, 3)


def answer_episodes(n: int) -> list[tuple[list[dict], None]]:
    """The first n demonstrations, half fractions and half expansions, alternating: the same on every machine."""
    rng = random.Random(SEED)
    tasks = [t for pair in zip(sample_tasks("fractions", n // 2 + 1, seed=SEED),
                               sample_tasks("expand", n // 2 + 1, seed=SEED)) for t in pair][:n]
    return [(demonstration(task, rng), None) for task in tasks]


def proof_episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n demonstrations, proof lengths 1, 2 and 3 in turn."""
    per_length = [sample_tasks("prove", n // len(PROOF_LENGTHS) + 1, seed=SEED, steps=k) for k in PROOF_LENGTHS]
    tasks = [t for group in zip(*per_length) for t in group][:n]
    return [(demonstration(task, random.Random(SEED)), task.tool_schemas()) for task in tasks]


def build(which: str, out_dir: Path, steps: int, eval_tasks: int) -> None:
    if which == "math":
        build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/Fractions-v0", {"form_shares": list(FORM_SHARES)},
                         answer_episodes, answer_report, answer_card,
                         eval_kwargs=({"family": "fractions", "pairs": "seen"}, {"family": "fractions", "pairs": "new"},
                                      {"family": "expand"}))
    else:
        build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/Prove-v0", {"proof_lengths": list(PROOF_LENGTHS)},
                         proof_episodes, proof_report, proof_card,
                         eval_kwargs=tuple({"steps": k} for k in PROOF_LENGTHS + (4,)),
                         max_new_tokens=PROOF_TOKENS)


def training(stats: dict) -> str:
    return f"""Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']}, lengths
mixed in every batch, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}."""


def answer_card(stats: dict) -> str:
    def row(decoding: str, name: str) -> str:
        r = stats["held_out"][decoding][name]
        return (f"| {name} | {decoding} | {r['n']} | {r['success']:.0%} ± {r['stderr']:.0%} | "
                f"{r['string_match']:.0%} | {r['unreadable']:.0%} |")
    rows = "\n".join(row(d, k) for d in ("greedy", "sampled_t1") for k in stats["held_out"][d])
    return f"""# math-warm

Notebook 15's answering warm start: the tiny model (`data/tiny-agent`) fine-tuned to add two fractions and expand
(x+a)(x+b), with a short scratchpad, answering in any of the equal forms people write (shares
{', '.join(f'{s:.0%}' for s in stats['form_shares'])} for the key's own form and the others). Right is decided by
SymPy (`agentic_lab.math_tasks.verify`). Built by `data/build_math_models.py`, deterministically from seed
{stats['seed']}.

## Training
{training(stats)}

## Held-out behaviour
{stats['eval_tasks']} test-split questions of each kind, greedy and sampled at temperature 1: fraction sums never
trained on whose pair of denominators training had together ("fractions") or never had ("new pairs"; their products
are still the times table's), and products whose pair of roots training never had. Right by the verifier ± one
standard error, right by string match, and no readable answer.

| family | decoding | n | right (SymPy) | right (string match) | unreadable |
|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/math-warm")
```
"""


def proof_card(stats: dict) -> str:
    def row(decoding: str, name: str) -> str:
        r = stats["held_out"][decoding][name]
        return (f"| {name} | {decoding} | {r['n']} | {r['success']:.0%} ± {r['stderr']:.0%} | {r['rewrites']:.2f} | "
                f"{r['failed_rewrites']:.0%} |")
    names = [k for k in stats["held_out"]["greedy"]]
    rows = "\n".join(row(d, k) for d in ("greedy", "sampled_t1") for k in names)
    return f"""# prove-warm

Notebook 15's prover warm start: the tiny model (`data/tiny-agent`) fine-tuned on shortest proofs of identities of
+ and * with lengths {', '.join(map(str, stats['proof_lengths']))}, one `rw` call a turn
(`agentic_lab/Prove-v0`; the checker is `agentic_lab.math_tasks.rewrite`). Built by `data/build_math_models.py`,
deterministically from seed {stats['seed']}.

## Training
{training(stats)}

## Held-out behaviour
{stats['eval_tasks']} test-split theorems per shortest-proof length (goal shapes never trained on; length 4 is
longer than any demonstration), greedy and sampled at temperature 1: proved ± one standard error, rewrites per
episode, and the share of rewrites the checker refused.

| proof length | decoding | n | proved | rewrites | refused |
|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/prove-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["math", "prove"], help="build one of the two")
    parser.add_argument("--out", type=Path, help="output folder (with --only)")
    parser.add_argument("--steps", type=int, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out tasks per family or length")
    args = parser.parse_args()
    for which in [args.only] if args.only else ["math", "prove"]:
        default = ANSWER_WARM_START if which == "math" else PROVER_WARM_START
        build(which, args.out or default, args.steps or STEPS[which], args.eval_tasks)
