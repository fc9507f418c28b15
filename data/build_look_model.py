"""Build notebook 13's warm start from the tiny model: a vision-language agent that sometimes looks closer.

    python data/build_look_model.py                        # measured time in the model card
    python data/build_look_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model has never seen an image. This script gives it eyes (`vision.from_text_model`: the same decoder, a
new two-layer patch projector and patch positions, LLaVA's recipe) and fine-tunes all of it on
`perception.demonstration`s of Look-v0 (train split). A quarter are the one-glance game (no tool offered: answer from
the glance), so the warm start also plays notebook 13's baseline. Of the episodes that offer the tools, half answer
at once from the glance, half first crop the digit's cell and answer from what they see, always rightly. Which half
is drawn at random, not by how hard the scene is: the warm start looks about as often as it guesses, and notebook
13's RL decides which pays.

Deterministic (fixed seeds for the scenes and the batch order). The folder is replaced atomically, with its model
card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab import load_model  # noqa: E402
from agentic_lab.perception import LOOK_WARM_START, demonstration, look_report  # noqa: E402
from agentic_lab.vision import from_text_model  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 1500
EVAL_TASKS = 400
GLANCE_ONLY_SHARE = 0.25     # one-glance games: no tool offered
LOOK_SHARE = 0.5             # of the games with tools, those that crop first


def episodes(n: int) -> list[tuple[list[dict], list[dict], list]]:
    rng = random.Random(SEED)
    out = []
    for seed in range(n):
        tools = rng.random() >= GLANCE_ONLY_SHARE
        look = tools and rng.random() < LOOK_SHARE
        messages, tools, images = demonstration(seed, look, tools=tools)
        out.append((messages, tools, [image.tolist() for image in images]))
    return out


def start():
    text_model, tokenizer = load_model()
    return from_text_model(text_model), tokenizer


def report(trajectories: list) -> dict:
    """The held-out games come as n with the tools, then the same n scenes as one-glance games."""
    half = len(trajectories) // 2
    return {"tools": look_report(trajectories[:half]), "one_glance": look_report(trajectories[half:])}


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/Look-v0",
                     {"glance_only_share": GLANCE_ONLY_SHARE, "look_share": LOOK_SHARE}, episodes, report, model_card,
                     eval_kwargs=({}, {"look": False}), start=start)


def model_card(stats: dict) -> str:
    def row(decoding: str, game: str) -> str:
        r = stats["held_out"][decoding][game]
        def share(key):
            return "-" if r[key] is None else f"{r[key]:.2f}"
        return (f"| {game.replace('_', ' ')} | {decoding} | {r['n']} | {r['accuracy']:.2f} ± {r['accuracy_se']:.2f} | "
                f"{r['look_rate']:.2f} | "
                f"{share('right_cell')} | {share('accuracy_looked')} | {share('accuracy_glanced')} |")
    return f"""# look-warm

Notebook 13's warm start: the tiny model (`data/tiny-agent`) made a vision-language model (its decoder, a new
two-layer patch projector and learned patch positions: `agentic_lab.vision`, LLaVA's recipe) and fine-tuned to name
the digit in a Look-v0 scene (`agentic_lab/Look-v0`, train split): first seen as a 4×4 glance, with a `crop` tool
that shows a box at full size. {stats['glance_only_share']:.0%} of its demonstrations are the one-glance game (no
tool offered, answer from the glance: notebook 13's baseline); of the others, {stats['look_share']:.0%} crop the
digit's cell first and the rest answer from the glance, drawn at random. Built by `data/build_look_model.py`,
deterministically from seed {stats['seed']}.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} demonstrations
({stats['train_tokens'] / 1e6:.2f}M tokens, images as 16 placeholders each): {stats['train_steps']} steps of batch
{stats['batch_size']}, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule, every weight trained.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split scenes (one pixel of the digit's stroke worn to a grey no training scene has), played with the tools and as
the one-glance game, greedy and sampled at temperature 1: accuracy ± one standard error, the share of episodes that
used a visual tool, the share of crops that were the digit's cell, and the accuracy of the episodes that looked and
of those that answered from the glance (at best 0.6: `perception.glance_ceiling`).

Greedy decoding never looked (the first row) although sampling looks about half the time: notebook 13 samples at
T = 1.

| game | decoding | n | accuracy | look rate | right cell | accuracy, looked | accuracy, glanced |
|---|---|---|---|---|---|---|---|
{row("greedy", "tools")}
{row("sampled_t1", "tools")}
{row("greedy", "one_glance")}
{row("sampled_t1", "one_glance")}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/look-warm")      # a TinyVLMForCausalLM
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=LOOK_WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out scenes")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
