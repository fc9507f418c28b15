"""Build notebook 11's warm start from the tiny model: a memory manager that keeps everything half the time.

    python data/build_memory_model.py                        # measured time in the model card
    python data/build_memory_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out
    python data/build_memory_model.py --asked jobs       # the variant not told what will be asked (below)

The tiny model never saw a memory bank (`memory.MemoryBankEnv`). This script fine-tunes it on
`memory.demonstrations`: streams of 4 to 16 facts (train split) kept in a bank of three slots, each fact handled by
add-only FIFO with probability FIFO_SHARE and by the oracle otherwise (`memory.mixed_manager`), one single-turn
conversation per fact, since the manager sees only the latest observation (rollout's keep_history=False). So the
warm start writes well-formed operations into the right slots, but adds distractors as often as it skips them and
adds a changed fact as often as it updates the old one: the choices notebook 11's RL, rewarded only by the answers
read from the bank at the end, has to make.

With `--asked jobs` it does the same on `asked="jobs"` streams (no `Keep:` line; every question a person's job, no
distractor a job) and writes data/memory-jobs-warm: there a fact's second word tells a distractor from a kept fact,
which the tiny model reads, where matching a name against the `Keep:` line it did not learn.

Deterministic (fixed seeds for the streams, the mixture and the batch order). The folder is replaced atomically,
with its model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.memory import (BANK_SIZE, FACT_KINDS, FIFO_SHARE, JOBS_WARM_START, TEST_LENGTHS,  # noqa: E402
                                WARM_START, bank_report,
                                demonstrations)
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 600
EVAL_TASKS = 200          # held-out streams per length
TRAIN_LENGTHS = (4, 16)   # stream length drawn uniformly from this range for each demonstrated stream


def episodes(n: int, asked: str = "names") -> list[tuple[list[dict], list[dict]]]:
    """The first n single-turn demonstrations (messages, no tools), stream after stream: the same on every machine."""
    rng, out, k = random.Random(SEED), [], 0
    while len(out) < n:
        out += [(messages, []) for messages in demonstrations(rng.randint(*TRAIN_LENGTHS), seed=k, rng=rng,
                                                               asked=asked)]
        k += 1
    return out[:n]


def build(out_dir: Path, steps: int, eval_tasks: int, asked: str = "names") -> None:
    setting = {"fifo_share": FIFO_SHARE} | ({} if asked == "names" else {"asked": asked})   # memory-warm's as built
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/MemoryBank-v0", setting,
                     lambda n: episodes(n, asked), bank_report, model_card,
                     eval_kwargs=tuple({"stream_length": n, "bank_size": BANK_SIZE, "asked": asked}
                                       for n in TEST_LENGTHS),
                     keep_history=False)


def model_card(stats: dict) -> str:
    def row(decoding: str, length: str) -> str:
        r = stats["held_out"][decoding][length]
        ops = " | ".join(f"{r[f'{kind}_{op}']:.0%}" for kind, op in (("new", "add"), ("contradiction", "update"),
                                                                      ("distractor", "noop")))
        return (f"| {length} | {decoding} | {r['n']} | {r['reward']:.2f} ± {r['reward_se']:.2f} | "
                f"{r['success']:.0%} ± {r['success_se']:.0%} | {r['invalid']:.1%} | {ops} |")
    rows = "\n".join(row(d, str(n)) for d in ("greedy", "sampled_t1") for n in TEST_LENGTHS)
    jobs = stats.get("asked") == "jobs"
    name = "memory-jobs-warm" if jobs else "memory-warm"
    variant = ("\n\nThe `asked=\"jobs\"` variant (`--asked jobs`): the observation names no kept entity, every "
               "question is about a\nperson's job and no distractor is a job, so the field word tells what to keep."
               if jobs else "")
    return f"""# {name}

Notebook 11's warm start: the tiny model (`data/tiny-agent`) fine-tuned to manage a memory bank of {BANK_SIZE} slots
(`agentic_lab/MemoryBank-v0`, train split, streams of 4 to 16 facts about two kept names and distractors), one
operation per fact (`<mem_add>`, `<mem_update>`, `<mem_delete>`, `<mem_noop>`), seeing only the latest observation
(the whole bank and the fact to handle). Each demonstrated decision is add-only FIFO's with probability
{stats['fifo_share']:.0%} and the oracle's otherwise (ADD a kept name's fact, UPDATE its slot when it changes,
NOOP a distractor): the model writes well-formed operations, and leaves to RL whether to keep a distractor and
whether to update or add a changed fact. Built by `data/build_memory_model.py`, deterministically from seed
{stats['seed']}.{variant}

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} single-turn demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']} with lengths
mixed in every batch, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split streams per length (every name in them held out from training), greedy and sampled at
temperature 1: the reward (share of the two questions answered right from the bank) and success (both right),
± one standard error; the share of operations the bank refused or could not parse; and how often each kind of
fact got the oracle's operation.

| stream | decoding | n | reward | success | invalid | new: ADD | changed: UPDATE | distractor: NOOP |
|---|---|---|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/{name}")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asked", choices=("names", "jobs"), default="names",
                        help="what the manager is told will be asked (memory.MemoryBankEnv)")
    parser.add_argument("--out", type=Path, help="output folder (default: data/memory-warm, or memory-jobs-warm)")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out streams per length")
    args = parser.parse_args()
    out = args.out or (WARM_START if args.asked == "names" else JOBS_WARM_START)
    build(out, args.steps, args.eval_tasks, args.asked)
