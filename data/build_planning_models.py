"""Build notebook 07's two warm starts from the tiny model: the same expert episodes, with and without a plan.

    python data/build_planning_models.py                      # about 30 minutes on 2 cores
    python data/build_planning_models.py --steps 4 --eval-worlds 4 --out /tmp/try   # a quick try-out

Both arms imitate the breadth-first planner (`planning.solve`) on PlanGrid-v0 worlds whose optimal plan has 1 to 6
moves (train split). The act-only arm's episodes answer one move a turn, `<answer>R</answer>`; the plan-first arm's
are the same episodes with the whole plan written before the first move, `<plan>RRD</plan><answer>R</answer>`.
Same worlds in the same order, same steps, same seed: the plan is the only difference between the two.

Deterministic like the base model's build (fixed seeds for the worlds and the batch order). Each folder is replaced
atomically, with its model card and `build_stats.json`; tests/test_build.py checks that this script is the recipe.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import agentic_lab.envs  # noqa: E402,F401 - registers the environments
from agentic_lab import load_model  # noqa: E402
from agentic_lab.eval import success_rate  # noqa: E402
from agentic_lab.models import TINY_MODEL_DIR, fingerprint, save_build  # noqa: E402
from agentic_lab.planning import WARM_STARTS, demonstration  # noqa: E402
from agentic_lab.rollout import rollout  # noqa: E402
from agentic_lab.sft import encode_messages, run_summary, train_sft  # noqa: E402

ARMS = {"act-only": False, "plan-first": True}  # arm -> plan_first
TRAIN_LENGTHS, LONG_LENGTHS = (1, 6), (8, 12)
STEPS, BATCH_SIZE, PEAK_LR, WARMUP, SEED = 800, 32, 3e-3, 20, 0
EVAL_WORLDS = 200  # held-out worlds per range of plan lengths


def episodes(plan_first: bool, n: int) -> list[list[dict]]:
    """The expert's episodes on the first n training worlds (seeds 0..n-1: the same worlds for both arms)."""
    env = gym.make("agentic_lab/PlanGrid-v0", lengths=TRAIN_LENGTHS, split="train", plan_first=plan_first)
    return [demonstration(env, seed=s) for s in range(n)]


def held_out_success(model, tokenizer, plan_first: bool, lengths: tuple[int, int], n: int) -> dict:
    seeds = list(range(100_000, 100_000 + n))
    envs = [gym.make("agentic_lab/PlanGrid-v0", lengths=lengths, split="test", plan_first=plan_first) for _ in seeds]
    p, se = success_rate(rollout(model, tokenizer, envs, seeds, temperature=0.0, max_new_tokens=32))
    return {"success": round(p, 4), "stderr": round(se, 4), "n": n}


def build(arm: str, out_dir: Path, steps: int, eval_worlds: int) -> None:
    plan_first = ARMS[arm]
    model, tokenizer = load_model()
    conversations = episodes(plan_first, steps * BATCH_SIZE)
    examples = [encode_messages(tokenizer, c) for c in conversations]
    print(f"{arm}: {len(examples):,} expert episodes, {sum(len(e['input_ids']) for e in examples):,} tokens")

    start = time.time()
    history = train_sft(model, examples, steps=steps, batch_size=BATCH_SIZE, lr=PEAK_LR, warmup=WARMUP, seed=SEED,
                        pad_id=tokenizer.pad_token_id)
    train_seconds = time.time() - start
    success = {f"{a}-{b}": held_out_success(model, tokenizer, plan_first, (a, b), eval_worlds)
               for a, b in (TRAIN_LENGTHS, LONG_LENGTHS)}
    print(f"{arm}: held-out greedy success {success}")

    stats = {
        "arm": arm, "plan_first": plan_first, "environment": "agentic_lab/PlanGrid-v0",
        "train_lengths": list(TRAIN_LENGTHS), "long_lengths": list(LONG_LENGTHS),
        "base_model_fingerprint": fingerprint((TINY_MODEL_DIR / "model.safetensors").read_bytes()),
        "episodes_fingerprint": fingerprint(json.dumps(episodes(plan_first, 200)).encode()),
        "train_steps": steps, "batch_size": BATCH_SIZE, "peak_lr": PEAK_LR, "warmup": WARMUP, "seed": SEED,
        "train_episodes": len(examples), "train_tokens": sum(len(e["input_ids"]) for e in examples),
        "longest_train_episode_tokens": max(len(e["input_ids"]) for e in examples),
        **run_summary(history, train_seconds),
        "eval_worlds": eval_worlds, "held_out_greedy_success": success,
    }
    save_build(model, tokenizer, out_dir, stats, [round(h["loss"], 4) for h in history[::10]], model_card(stats))
    print(f"wrote {out_dir}")


def model_card(stats: dict) -> str:
    short, long = (stats["held_out_greedy_success"][k] for k in ("1-6", "8-12"))
    example = "`<plan>RRD</plan><answer>R</answer>`, then `<answer>R</answer>` a turn" if stats["plan_first"] else \
        "`<answer>R</answer>` a turn, no plan"
    return f"""# plangrid-{stats['arm']}

Notebook 07's {stats['arm']} warm start: the tiny model (`data/tiny-agent`) fine-tuned to imitate the
breadth-first planner on `agentic_lab/PlanGrid-v0` worlds whose optimal plan has {stats['train_lengths'][0]} to
{stats['train_lengths'][1]} moves (train split). Its episodes: {example}. Built by
`data/build_planning_models.py`, deterministically from seed {stats['seed']}, with its twin
`plangrid-{'act-only' if stats['plan_first'] else 'plan-first'}` (the same worlds, with{'out' if stats['plan_first'] else ''} the plan).

## Training
Supervised next-token loss on the assistant's tokens, {stats['train_episodes']:,} expert episodes
({stats['train_tokens'] / 1e6:.2f}M tokens, the longest {stats['longest_train_episode_tokens']} tokens):
{stats['train_steps']} steps of batch {stats['batch_size']}, AdamW, peak learning rate {stats['peak_lr']},
cosine schedule. {stats['train_seconds'] / 60:.0f} minutes at {stats['mean_tokens_per_s']:,} tokens/s.
Final training loss {stats['final_loss']}.

## Held-out success (greedy)
{stats['eval_worlds']} test-split worlds per range of optimal plan lengths, ± one standard error:

| optimal plan | success |
|---|---|
| {stats['train_lengths'][0]}-{stats['train_lengths'][1]} moves (the training range) | {short['success']:.0%} ± {short['stderr']:.0%} |
| {stats['long_lengths'][0]}-{stats['long_lengths'][1]} moves (longer than any in training) | {long['success']:.0%} ± {long['stderr']:.0%} |

Notebook 07 measures both arms by plan length, before and after RL.

## Use
```python
from agentic_lab import load_model
model, tokenizer = load_model("data/plangrid-{stats['arm']}")
```
"""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arm", choices=[*ARMS, "both"], default="both")
    parser.add_argument("--out", type=Path, default=None, help="output folder (one arm) or parent folder (both)")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps")
    parser.add_argument("--eval-worlds", type=int, default=EVAL_WORLDS, help="held-out worlds per range of lengths")
    args = parser.parse_args()
    for arm in ARMS if args.arm == "both" else [args.arm]:
        out = WARM_STARTS[arm] if args.out is None else args.out / f"plangrid-{arm}" if args.arm == "both" else args.out
        build(arm, out, args.steps, args.eval_worlds)
