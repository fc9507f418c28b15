"""What notebook 08's and 10's warm-start builds share: fine-tune the tiny model on a capability's demonstrations,
measure it on held-out tasks greedy and at T = 1, and save it with its stats and model card.

    from warm_start import build_warm_start      # in a build script of this folder

Each build script supplies only what is its own: the environment, the demonstrations, the held-out report and
the model card. Batches mix lengths: grouped by length, an episode answered at once (a few tokens) would outweigh
one with tool calls (hundreds) in the mean loss, and the model would call less often than its demonstrations do
(the first build of notebook 08's warm start called on 8.5% of tasks instead of 50%).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import agentic_lab.envs  # noqa: E402,F401 - registers the environments
from agentic_lab import load_model  # noqa: E402
from agentic_lab.models import TINY_MODEL_DIR, fingerprint, save_build  # noqa: E402
from agentic_lab.rollout import rollout  # noqa: E402
from agentic_lab.sft import encode_messages, run_summary, train_sft  # noqa: E402
from agentic_lab.vision import patches_per_image  # noqa: E402

BATCH_SIZE, PEAK_LR, WARMUP, SEED = 32, 1e-3, 20, 0


def held_out(model, tokenizer, env_id: str, report: Callable, n: int, temperature: float,
             eval_kwargs: tuple[dict, ...] = ({},), keep_history: bool = True, max_new_tokens: int = 96) -> dict:
    """`report` of n test-split episodes (seeds 100,000...) under each of `eval_kwargs` (the environment's own
    arguments, e.g. a horizon), numbers rounded for the stats file. keep_history, max_new_tokens: the rollout's."""
    seeds = [100_000 + k for _ in eval_kwargs for k in range(n)]
    envs = [gym.make(env_id, split="test", **kwargs) for kwargs in eval_kwargs for _ in range(n)]
    rows = report(rollout(model, tokenizer, envs, seeds, temperature=temperature, seed=SEED, keep_history=keep_history,
                         max_new_tokens=max_new_tokens))
    return {kind: {k: v if v is None else round(v, 4) for k, v in row.items()} for kind, row in rows.items()}


def build_warm_start(out_dir: Path, steps: int, eval_tasks: int, env_id: str, share: dict[str, float],
                     episodes: Callable[[int], list[tuple]], report: Callable,
                     model_card: Callable[[dict], str], eval_kwargs: tuple[dict, ...] = ({},),
                     keep_history: bool = True, max_new_tokens: int = 96, start: Callable[[], tuple] = load_model
                     ) -> None:
    """Train on the first steps × BATCH_SIZE `episodes` (messages, tool schemas[, images]), then write `out_dir`
    atomically. `share` names the demonstrations' one setting (e.g. {"call_share": 0.5}), recorded in the stats; the
    held-out report plays `eval_tasks` episodes under each of `eval_kwargs`, in one growing context or
    (keep_history=False) a fresh one each turn, as the demonstrations were written, writing up to max_new_tokens a
    turn. `start()` gives the model and tokenizer to fine-tune: the tiny model, or one made from it (a VLM)."""
    model, tokenizer = start()
    examples = [encode_messages(tokenizer, *episode, per_image=patches_per_image(model))
                for episode in episodes(steps * BATCH_SIZE)]
    print(f"{len(examples):,} demonstrations, {sum(len(e['input_ids']) for e in examples):,} tokens")
    start = time.time()
    history = train_sft(model, examples, steps=steps, batch_size=BATCH_SIZE, lr=PEAK_LR, warmup=WARMUP, seed=SEED,
                        pad_id=tokenizer.pad_token_id)
    train_seconds = time.time() - start
    results = {decoding: held_out(model, tokenizer, env_id, report, eval_tasks, temperature, eval_kwargs, keep_history,
                                   max_new_tokens)
               for decoding, temperature in (("greedy", 0.0), ("sampled_t1", 1.0))}
    print(json.dumps(results["sampled_t1"]))
    stats = {
        "environment": env_id, **share,
        "base_model_fingerprint": fingerprint((TINY_MODEL_DIR / "model.safetensors").read_bytes()),
        "episodes_fingerprint": fingerprint(json.dumps(episodes(200)).encode()),
        "train_steps": steps, "batch_size": BATCH_SIZE, "batches": "shuffled, lengths mixed", "peak_lr": PEAK_LR,
        "warmup": WARMUP, "seed": SEED,
        "train_episodes": len(examples), "train_tokens": sum(len(e["input_ids"]) for e in examples),
        **run_summary(history, train_seconds),
        "eval_tasks": eval_tasks, "held_out": results,
    }
    save_build(model, tokenizer, out_dir, stats, [round(h["loss"], 4) for h in history[::10]], model_card(stats))
    print(f"wrote {out_dir}")
