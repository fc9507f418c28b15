"""Build notebook 09's warm start from the tiny model: a coin collector that takes a wrong turn now and then.

    python data/build_long_horizon_model.py                        # measured time in the model card
    python data/build_long_horizon_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model never saw the coin collector (`long_horizon.CoinRoomsEnv`). This script fine-tunes it on
`long_horizon.demonstration` episodes (train split), turn budgets H drawn from 5 to 20: the expert's, except that
at MISTAKE_RATE of the turns it does something else (a dead end, a wall, a step back, a take out of place) and
goes on from there. So the warm start knows the task, knows how to recover, and wastes turns: the waste that
notebook 09's three ways of assigning credit have to remove, and that costs more the longer the route. (A first
build with a mistake at 20% of the turns succeeded on 1% of held-out H = 20 worlds sampled at T = 1.)

Deterministic (fixed seeds for the worlds, the mistakes and the batch order). The folder is replaced atomically,
with its model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.long_horizon import HORIZONS, MISTAKE_RATE, WARM_START, demonstration, horizon_report  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 400
EVAL_TASKS = 200        # held-out worlds per horizon
TRAIN_HORIZONS = (5, 20)  # H drawn uniformly from this range for each demonstration


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n demonstrations (messages, no tools): the same on every machine."""
    rng = random.Random(SEED)
    out = []
    for k in range(n):
        env = gym.make("agentic_lab/CoinRooms-v0", horizon=rng.randint(*TRAIN_HORIZONS), split="train")
        out.append((demonstration(env, seed=k, rng=rng, mistake_rate=MISTAKE_RATE), []))
    return out


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/CoinRooms-v0", {"mistake_rate": MISTAKE_RATE}, episodes,
                     horizon_report, model_card, eval_kwargs=tuple({"horizon": h} for h in HORIZONS))


def model_card(stats: dict) -> str:
    def row(decoding: str, horizon: str) -> str:
        r = stats["held_out"][decoding][horizon]
        extra = "-" if r["extra_turns"] is None else f"{r['extra_turns']:.2f}"
        return f"| {horizon} | {decoding} | {r['n']} | {r['success']:.0%} ± {r['stderr']:.0%} | {extra} |"
    rows = "\n".join(row(d, str(h)) for d in ("greedy", "sampled_t1") for h in HORIZONS)
    return f"""# coinrooms-warm

Notebook 09's warm start: the tiny model (`data/tiny-agent`) fine-tuned on demonstrations of the coin collector
(`agentic_lab/CoinRooms-v0`, train split, turn budgets 5 to 20): follow the route given as `room direction` pairs
through a chain of rooms with a dead end beside each, and take the coin in the last. Each demonstration is the
expert's episode with a mistake at {stats['mistake_rate']:.0%} of its turns (any other action; the expert goes on
from where it led), so the model knows the task, how to recover, and wastes turns: the waste notebook 09's credit
assignment has to remove. Built by `data/build_long_horizon_model.py`, deterministically from seed {stats['seed']}.
(A first build with a mistake at 20% of the turns took the coin on 31%, 8% and 1% of held-out worlds at H = 5, 10
and 20 sampled at temperature 1: at H = 20 almost every GRPO group would have had no success to learn from.)

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch {stats['batch_size']} with lengths
mixed in every batch, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split worlds per turn budget H, greedy and sampled at temperature 1: success ± one standard
error, and the turns a success took beyond the fewest possible:

| H | decoding | n | success | extra turns |
|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/coinrooms-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out worlds per horizon")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
