"""Build notebook 07's BabyAI warm start from the tiny model: the BabyAI bot's own episodes on GoToLocal.

    python data/build_babyai_model.py                        # measured time in the model card
    python data/build_babyai_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

The tiny model never saw BabyAI, and the planning world's warm starts answer in its move letters (U D L R), which
BabyAI refuses. This script fine-tunes the tiny model on `planning.demonstration` episodes of
`agentic_lab/BabyAI-GoToLocal-v0` (train split): the mission and the agent's view as text, then minigrid's BabyAI
bot's actions, one word a turn (`<answer>forward</answer>`), with every view in between. GoToLocal is the level
whose bot episodes fit the tiny model's context (1,024 tokens) with the whole history kept: about 400 tokens on
average, the longest of the training ones about 1,000. Only episodes the bot finished within the level's 16 turns
and that fit the context are kept (almost all of them).

BabyAI has no train and test splits of its own. `BabyAIEnv(split=...)` keeps a level in a split by a hash of its
first observation (`tasks.task_split`, as PlanGrid's maps): the held-out missions differ from the training ones
in what the model first reads, but later views can repeat (a wall two cells ahead looks the same in any level).

Deterministic (fixed seeds for the levels and the batch order). The folder is replaced atomically, with its model
card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab.planning import BABYAI_WARM_START, babyai_report, demonstration  # noqa: E402
from agentic_lab.tokenizer import build_tokenizer  # noqa: E402
from warm_start import build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

LEVEL = "agentic_lab/BabyAI-GoToLocal-v0"
CONTEXT = 1024  # the tiny model's (data/tiny-agent/config.json, max_position_embeddings)
STEPS = 280
EVAL_TASKS = 200  # held-out missions


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n demonstrations (messages, no tools) the bot finished within the context, from training levels
    drawn with seeds 0, 1, 2, ...: the same on every machine."""
    env, tokenizer = gym.make(LEVEL, split="train"), build_tokenizer()
    out, seed = [], 0
    while len(out) < n:
        messages = demonstration(env, seed=seed)
        seed += 1
        if env.unwrapped.success and len(tokenizer.apply_chat_template(messages, return_dict=False)) <= CONTEXT:
            out.append((messages, []))
    return out


def report(trajectories) -> dict[str, dict]:
    return {"GoToLocal": babyai_report(trajectories)}


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, LEVEL, {"max_demonstration_tokens": CONTEXT}, episodes, report,
                     model_card, max_new_tokens=32)


def model_card(stats: dict) -> str:
    def row(decoding: str) -> str:
        r = stats["held_out"][decoding]["GoToLocal"]
        turns = "-" if r["turns_per_success"] is None else f"{r['turns_per_success']:.1f}"
        return (f"| {decoding} | {r['n']} | {r['success']:.0%} ± {r['stderr']:.0%} | {turns} | "
                f"{r['refused_turns']:.0%} | {r['context_full']:.0%} |")
    return f"""# babyai-warm

Notebook 07's BabyAI warm start: the tiny model (`data/tiny-agent`) fine-tuned on the BabyAI bot's own episodes
of `{stats['environment']}` (train split): the mission and the agent's view as text
(`planning.BabyAIEnv`), then one of minigrid's seven action words a turn, `<answer>forward</answer>`, with every
view kept in the context. Built by `data/build_babyai_model.py`, deterministically from seed {stats['seed']}.
BabyAI has no splits of its own: a level is in the train or the test split by a hash of its first observation
(mission and view), so no held-out mission starts as a training one did; later views can repeat.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} bot episodes (the bot finished
each within 16 turns and {stats['max_demonstration_tokens']:,} tokens; {stats['train_tokens'] / 1e6:.2f}M tokens):
{stats['train_steps']} steps of batch {stats['batch_size']} with lengths mixed in every batch, AdamW, peak
learning rate {stats['peak_lr']}, cosine schedule. {stats['train_seconds'] / 60:.0f} minutes at
{stats['mean_tokens_per_s']:,} tokens/s at one thread. Final training loss {stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split GoToLocal missions, 16 turns each, greedy and sampled at temperature 1: success ± one
standard error, the turns a success took, the share of turns refused as malformed, and the share of episodes
stopped because the context (1,024 tokens) was full:

| decoding | n | success | turns per success | refused turns | context full |
|---|---|---|---|---|---|
{row("greedy")}
{row("sampled_t1")}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/babyai-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=BABYAI_WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out missions")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
