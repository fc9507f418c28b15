"""Build notebook 14's warm start from the tiny model: a code agent that runs its code and fixes what the run shows.

    python data/build_code_model.py                        # the model card states its time
    python data/build_code_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model never saw Python nor the `run` tool: on Code-v0 it passes nothing (notebook 14 shows it). This script
fine-tunes it on `coding.demonstration` episodes of the `code` family (train split: operations and constants held
out together, see `agentic_lab.coding`): some answer at once, some run the code first, some write a bug, read the
failing examples and fix it, and a few hard-code the examples (a habit put there on purpose, for RL to find).
Deterministic (fixed seeds for the tasks, the draws and the batch order). The folder is replaced atomically, with
its model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.coding import (DEMONSTRATION_SHARES, MAX_NEW_TOKENS, WARM_START, code_report,  # noqa: E402
                                demonstration)
from agentic_lab.tasks import sample_tasks  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 600
EVAL_TASKS = 200  # held-out tasks


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n demonstrations (messages, tool schemas): the same on every machine."""
    rng = random.Random(SEED)
    return [(demonstration(task, rng), task.tool_schemas()) for task in sample_tasks("code", n, seed=SEED)]


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/Code-v0", {"shares": DEMONSTRATION_SHARES}, episodes,
                     code_report, model_card, max_new_tokens=MAX_NEW_TOKENS)


def model_card(stats: dict) -> str:
    def row(decoding: str, kind: str) -> str:
        r = stats["held_out"][decoding][kind]
        return (f"| {kind} | {decoding} | {r['n']} | {r['pass_rate']:.0%} ± {r['stderr']:.0%} | "
                f"{r['visible_pass']:.0%} | {r['hard_coded']:.0%} | {r['runs_per_episode']:.2f} |")
    rows = "\n".join(row(d, k) for d in ("greedy", "sampled_t1") for k in ("int", "list", "word", "all")
                     if k in stats["held_out"][d])
    shares = ", ".join(f"{kind.replace('_', ' ')} {share:.0%}" for kind, share in stats["shares"].items())
    return f"""# code-warm

Notebook 14's warm start: the tiny model (`data/tiny-agent`) fine-tuned on demonstrations of the `code` family
(`agentic_lab/Code-v0`, train split): write `f` from one line and three examples, optionally run it on the examples
with the `run` tool (in the sandbox, `agentic_lab/sandbox.py`), and submit; hidden tests score the submission.
Demonstrations: {shares}. Built by `data/build_code_model.py`, deterministically from seed {stats['seed']}.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']}, lengths
mixed in every batch, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split tasks (an operation with a constant never asked together in training), greedy and
sampled at temperature 1: the pass rate on the hidden tests ± one standard error, the share of episodes whose
submission passes the visible examples, the share that hard-coded them, and the runs per episode.

| input | decoding | n | passes hidden tests | passes the examples | hard-coded | runs |
|---|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/code-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out tasks")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
