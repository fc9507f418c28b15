"""Build notebook 12's warm start from the tiny model: an agent that answers a navigation task twice.

    python data/build_reflection_model.py                        # measured time in the model card
    python data/build_reflection_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model answers a task once: after its answer and a "check it and answer again" it writes nonsense (tool
calls, stray tags: 0.7% right at the second attempt, sampled). This script fine-tunes it on
`reflection.demonstrations`: two-attempt conversations on train-split navigation tasks whose every answer the tiny
model itself sampled, the second attempt copying the first half the time after the bare RETRY and being another of
its answers otherwise (a different one after "Wrong" or the check's message). So the warm start knows the format
and answers the second time about as well as the first, without knowing whether the first was right: notebook 12's
base, with something to correct and no skill at correcting it.

Deterministic (fixed seeds for the tasks, the sampling and the batch order). The folder is replaced atomically,
with its model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab import load_model  # noqa: E402
from agentic_lab.reflection import COPY_SHARE, FEEDBACKS, WARM_START, attempts_report, demonstrations  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 300
EVAL_TASKS = 300          # held-out tasks per feedback


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n demonstrations (messages, no tools): the same on every machine."""
    model, tokenizer = load_model()
    return [(messages, []) for messages in demonstrations(model, tokenizer, n, seed=SEED)]


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/TwoAttempts-v0", {"copy_share": COPY_SHARE}, episodes,
                     attempts_report, model_card, eval_kwargs=tuple({"feedback": f} for f in FEEDBACKS))


def model_card(stats: dict) -> str:
    def row(decoding: str, feedback: str) -> str:
        r = stats["held_out"][decoding][feedback]
        return (f"| {feedback} | {decoding} | {r['n']} | {r['accuracy_1']:.2f} ± {r['accuracy_1_se']:.2f} | "
                f"{r['accuracy_2']:.2f} ± {r['accuracy_2_se']:.2f} | {r['delta']:+.2f} ± {r['delta_se']:.2f} | "
                f"{r['wrong_to_right']:.2f} | {r['right_to_wrong']:.2f} | {r['edit_distance']:.2f} |")
    rows = "\n".join(row(d, f) for f in FEEDBACKS for d in ("greedy", "sampled_t1"))
    return f"""# reflect-warm

Notebook 12's warm start: the tiny model (`data/tiny-agent`) fine-tuned to answer a navigation task twice
(`agentic_lab/TwoAttempts-v0`). Every answer in its demonstrations is one the tiny model sampled itself: the first
attempt; after the bare "There may be an error in your answer. Check it and answer again." a copy of it with
probability {stats['copy_share']:.0%}, else another of its answers; after "Wrong." or the check's message (which
follow only a wrong first answer) another answer that differs from the first. So it knows the format and answers
the second time about as well as the first, knowing nothing about whether the first was right. Built by
`data/build_reflection_model.py`, deterministically from seed {stats['seed']}.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} two-attempt demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']}, AdamW, peak
learning rate {stats['peak_lr']}, cosine schedule. {stats['train_seconds'] / 60:.0f} minutes at
{stats['mean_tokens_per_s']:,} tokens/s. Final training loss {stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split tasks per feedback, greedy and sampled at temperature 1: accuracy at each attempt
(± one standard error), Δ = attempt 2 − attempt 1 (paired), the rates of wrong → right and right → wrong, and the
mean edit distance between the two answers. With feedback a right first answer ends the episode (its second attempt
is the first).

| feedback | decoding | n | attempt 1 | attempt 2 | Δ | wrong → right | right → wrong | edit distance |
|---|---|---|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/reflect-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out tasks per feedback")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
