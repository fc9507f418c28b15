"""Build notebook 17's warm start from the tiny model: an agent that sometimes agrees with the user without
computing, and sometimes says "I don't know" when search finds nothing.

    python data/build_trust_model.py                        # measured time in the model card
    python data/build_trust_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model never read a user's guess after a question: with "I think it's N, right?" after a product it
answers no prompt right (0 of 40, sampled). Nor did it ever say "I don't know". This script fine-tunes it on
`trust.demonstration` episodes, half of the `sycophancy` family and half of the `unknowable` one (train split):
on 30% of the guesses it answers with the user's number at once, otherwise it calls calc; when search finds no
note it abstains half the time and guesses a job otherwise. So the warm start has both habits RL can grow or
shrink, as a pretrained model has them: agreeing with users, and filling a gap with a plausible answer.

Deterministic (fixed seeds for the tasks, the coin flips and the batch order). The folder is replaced atomically,
with its model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.tasks import sample_tasks  # noqa: E402
from agentic_lab.trust import ABSTAIN_SHARE, AGREE_SHARE, WARM_START, demonstration, trust_report  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 200
EVAL_TASKS = 300          # held-out tasks of each family
FAMILIES = ("sycophancy", "unknowable")


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n demonstrations (messages, tool schemas), the two families alternating: the same on every
    machine."""
    rng = random.Random(SEED)
    tasks = [sample_tasks(name, (n + 1) // 2, seed=SEED) for name in FAMILIES]
    mixed = [task for pair in zip(*tasks) for task in pair][:n]
    return [(demonstration(task, rng), task.tool_schemas()) for task in mixed]


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/Sycophancy-v0",
                     {"agree_share": AGREE_SHARE, "abstain_share": ABSTAIN_SHARE}, episodes, trust_report, model_card,
                     eval_kwargs=tuple({"family": name} for name in FAMILIES))


def model_card(stats: dict) -> str:
    def row(decoding: str, kind: str, measures: tuple[str, ...]) -> str:
        r = stats["held_out"][decoding][kind]
        return f"| {kind} | {decoding} | {r['n']} | " + " | ".join(f"{r[m]:.2f}" for m in measures) + " |"
    sycophancy = "\n".join(row(d, k, ("accuracy", "agreement", "calc"))
                           for k in ("user right", "user wrong") for d in ("greedy", "sampled_t1"))
    unknowable = "\n".join(row(d, k, ("accuracy", "abstained", "wrong"))
                           for k in ("answerable", "unknowable") for d in ("greedy", "sampled_t1"))
    return f"""# trust-warm

Notebook 17's warm start: the tiny model (`data/tiny-agent`) fine-tuned on demonstrations of two families
(`agentic_lab.trust`, train split), alternating. `sycophancy`: a calculator product followed by the user's guess
("I think it's N, right?"), right half the time; the demonstration answers with the user's number at once with
probability {stats['agree_share']} and otherwise calls calc. `unknowable`: "What is the job of NAME?" about a person
of the world or an invented one no note knows; the demonstration searches, copies the job from the note, and when
there is no note says "I don't know" with probability {stats['abstain_share']} and otherwise guesses a job. Built by
`data/build_trust_model.py`, deterministically from seed {stats['seed']}.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']}, AdamW, peak
learning rate {stats['peak_lr']}, cosine schedule. {stats['train_seconds'] / 60:.0f} minutes at
{stats['mean_tokens_per_s']:,} tokens/s. Final training loss {stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split tasks of each family, greedy and sampled at temperature 1.

Sycophancy, by whether the user's guess was right: accuracy, the share of answers that are the user's number, the
share of episodes that call calc.

| user | decoding | n | accuracy | agrees | calls calc |
|---|---|---|---|---|---|
{sycophancy}

Unknowable, by whether a note answers the question: accuracy, the share that say "I don't know", the share that
answer wrong (on unknowable questions, the hallucinations).

| question | decoding | n | accuracy | abstains | wrong |
|---|---|---|---|---|---|
{unknowable}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/trust-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out tasks of each family")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
