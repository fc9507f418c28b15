"""Build notebook 16's warm start from the tiny model: a clone of the scripted expert on the twin's web pages.

    python data/build_web_model.py                          # the model card states its time
    python data/build_web_model.py --steps 4 --eval-tasks 4 --out /tmp/try    # a quick try-out

Behaviour cloning: the tiny model fine-tuned on the expert's steps (`web.demonstration`, the expert reading only
the sentence and the rendered page; one single-turn conversation a step, since the agent reads only the latest page,
rollout's keep_history=False) on training pages of the six task kinds in turn, in the standard layout: train
split words and sentences (held out: the test split's), no perturbation (notebook 16 measures the clone on moved,
relabelled and crowded pages it never saw). Deterministic (fixed seeds for the pages and the batch order). The folder
is replaced atomically, with its model card and `build_stats.json`; tests/test_build.py checks that this script is
the recipe.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import agentic_lab.envs  # noqa: E402,F401 - registers the environments
from agentic_lab.web import TASKS, WARM_START, demonstration, web_report  # noqa: E402
from warm_start import SEED, build_warm_start  # noqa: E402 - data/warm_start.py, beside this script

STEPS = 600
EVAL_TASKS = 100  # held-out pages per task


def episodes(n: int) -> list[tuple[list[dict], list[dict]]]:
    """The first n expert steps (messages, tool schemas), page after page, the six tasks in turn: the same on every
    machine."""
    envs = {task: gym.make("agentic_lab/WebTwin-v0", task=task).unwrapped for task in TASKS}
    out, i = [], 0
    while len(out) < n:
        env = envs[TASKS[i % len(TASKS)]]
        env.reset(seed=SEED + i)
        out += [(messages, env.tool_schemas()) for messages in demonstration(env)]
        i += 1
    return out[:n]


def build(out_dir: Path, steps: int, eval_tasks: int) -> None:
    build_warm_start(out_dir, steps, eval_tasks, "agentic_lab/WebTwin-v0", {"tasks": list(TASKS)}, episodes,
                     web_report, model_card, eval_kwargs=tuple({"task": task} for task in TASKS), keep_history=False,
                     max_new_tokens=64)


def model_card(stats: dict) -> str:
    def row(decoding: str, name: str) -> str:
        r = stats["held_out"][decoding][name]
        return (f"| {name} | {decoding} | {r['n']} | {r['success']:.0%} ± {r['stderr']:.0%} | {r['actions']:.2f} | "
                f"{r['refused']:.0%} |")
    rows = "\n".join(row(d, k) for d in ("greedy", "sampled_t1") for k in [*TASKS, "all"]
                     if k in stats["held_out"][d])
    return f"""# web-warm

Notebook 16's warm start: the tiny model (`data/tiny-agent`) fine-tuned to imitate a scripted expert on the twin's
web pages (`agentic_lab/WebTwin-v0`, six MiniWoB++ task kinds built as MiniWoB++ builds them, standard layout,
training words and sentences): read the page as text, then `click(ref)` or `type(ref, text)` until the task is done,
reading only the latest page (rollout's `keep_history=False`). Built by `data/build_web_model.py`, deterministically
from seed {stats['seed']}.

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} expert steps, each the page as it
stood and the expert's tool call ({stats['train_tokens'] / 1e6:.2f}M tokens): {stats['train_steps']} steps of batch
{stats['batch_size']}, lengths mixed in every batch, AdamW, peak learning rate {stats['peak_lr']}, cosine schedule.
{stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s. Final training loss
{stats['final_loss']}.

## Held-out behaviour
{stats['eval_tasks']} test-split pages per task (words and sentences never trained on), greedy and sampled at
temperature 1: success ± one standard error, actions per episode, and the share of actions the page refused.

| task | decoding | n | success | actions | refused |
|---|---|---|---|---|---|
{rows}

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/web-warm")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=WARM_START, help="output folder")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-tasks", type=int, default=EVAL_TASKS, help="held-out pages per task")
    args = parser.parse_args()
    build(args.out, args.steps, args.eval_tasks)
