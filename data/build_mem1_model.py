"""Build notebook 11's MEM1 warm start from the tiny model: an agent that looks facts up and keeps them in a state.

    python data/build_mem1_model.py                        # measured time in the model card
    python data/build_mem1_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model calls tools but has never kept a `<state>`. This script fine-tunes it on
`memory.state_demonstrations`: train-split `memory_state` tasks solved by their reference solution (one lookup per
objective, each message writing the state of the jobs found so far, then all answers), half of the episodes as
MEM1 sees them (each turn alone, the observation repeating the latest state and the objectives) and half as a
full-context agent sees them (the whole conversation, each observation the bare result), both with 1 to 3
objectives. One model for both ways of playing, with the same coverage, so notebook 11 compares contexts, not
models, and 4, 8 and 16 objectives are beyond anything either way was shown; notebook 11's RL then trains at 2.
The held-out report plays MEM1's way (a fresh context each turn) at 2, 4, 8 and 16 objectives, with people whose
names are all held out.

A first build (400 steps) whose lookup took the person's name and any field scored 0.05 of objectives at k = 2: the
tiny model, which reads a character a token, miscopied names it never saw into the call ("Trozu" -> "Trotu") and
unseen values into its state. Here lookup takes the objective's number and every value is one of ten jobs.

Deterministic (fixed seeds for the tasks and the batch order). The folder is replaced atomically, with its model
card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.memory import (DEMO_OBJECTIVES, MEM1_WARM_START, OBJECTIVES, STATE_MAX_NEW_TOKENS,  # noqa: E402
                                state_demonstrations, state_report)
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 300
EVAL_TASKS = 200          # held-out tasks per number of objectives


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    return state_demonstrations(n, seed=SEED)


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/MemoryState-v0",
                     {"demo_objectives": DEMO_OBJECTIVES},
                     episodes, state_report, model_card, eval_kwargs=tuple({"objectives": k} for k in OBJECTIVES),
                     keep_history=False, max_new_tokens=STATE_MAX_NEW_TOKENS)


def model_card(stats: dict) -> str:
    def row(decoding: str, k: str) -> str:
        r = stats["held_out"][decoding][k]
        return (f"| {k} | {decoding} | {r['n']} | {r['reward']:.2f} ± {r['reward_se']:.2f} | "
                f"{r['success']:.0%} ± {r['success_se']:.0%} | {r['peak_context_mean']:.0f} | {r['peak_context_max']} |")
    rows = "\n".join(row(d, str(k)) for d in ("greedy", "sampled_t1") for k in OBJECTIVES)
    return f"""# mem1-warm

Notebook 11's MEM1 warm start: the tiny model (`data/tiny-agent`) fine-tuned to find k people's jobs with
`lookup` (by the person's number), writing with every message a `<state>` of the jobs found so far
(`agentic_lab/MemoryState-v0`, train split), then answering all k in order. Half its demonstration episodes show
each turn alone, as MEM1 plays (the observation repeats the latest state and the objectives), half the whole
conversation with bare results, as a full-context agent plays; both 1 to {stats['demo_objectives']} objectives, so
more objectives are new to either way of playing. One model for both. Built by `data/build_mem1_model.py`,
deterministically from seed {stats['seed']}.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']} with lengths
mixed in every batch, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}.

## Held-out behaviour, MEM1's way (a fresh context each turn)
{stats['eval_tasks']} test-split tasks per number of objectives (every name held out from training), greedy and
sampled at temperature 1: the reward (share of objectives right) and success (all right), ± one standard error, and
the peak context in tokens (the longest turn), mean and largest.

| objectives | decoding | n | reward | success | peak context (mean) | peak context (max) |
|---|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/mem1-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=MEM1_WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out tasks per number of objectives")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
