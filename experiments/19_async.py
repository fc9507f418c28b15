"""Learning per wall-clock second: one process, synchronous workers and one-step-stale workers (notebook 19).

    python experiments/19_async.py [--steps 8] [--seeds 0 1 2] [--latency 0.05] [--out runs/19_async.json]

Four arms train data/tiny-agent with `rl.grpo_train` on notebook 06's calculator task, every step of which first
waits `--latency` seconds (`distributed.Latency`, a tool behind a web API): 4 groups of 4 a step, lr 1e-4, up to
3 turns of 96 tokens, the same seed's tasks and sampling seeds in every arm.
- one process: the loop of every earlier notebook;
- 2 workers, synchronous: `RLConfig(rollout_workers=2)`, Ray actors play each step's episodes with the new weights;
- 2 workers, one step stale, weights capped at 3: `async_rollouts=True, sampler_is_cap=3.0`, step t+1 played
  during step t's update by the policy one update behind, each token reweighted by min(π_old / π_sampler, 3);
- 2 workers, one step stale, uncorrected: the same, `sampler_is_cap=0`.
Every process uses one torch thread. Held out: 128 calculator tasks of the test split, each played once sampled
(T = 1) before and after training with the same sampling seed, so every comparison is paired by task (and pools the
seeds; the per-seed values are printed beside it). Time: `seconds`, the wall-clock time grpo_train records after
each step, from the end of the workers' start-up (printed apart: it is paid once per run, not per step).

Per arm the script prints seconds a step, held-out success and its paired gain over the untrained model, the gain
against one process, the gain per minute of training, the first step (and second) at which the training reward's
mean over two consecutive steps reached 0.9, and for the stale arms the largest sampler gap and the importance
weights. The per-step histories go to `--out` (JSON).

Reference run: `python experiments/19_async.py --steps 10` at 3c66ea7, 2 cores, alone, 302 s:
    untrained: held-out sampled success 0.570 (128 tasks)
    seed 0, one process: 2.05 s a step (+0.0 s start-up and close), held out 0.977
    seed 0, 2 workers, synchronous: 1.52 s a step (+4.3 s start-up and close), held out 0.930
    seed 0, 2 workers, one step stale, capped at 3: 1.27 s a step (+5.3 s start-up and close), held out 0.938
    seed 0, 2 workers, one step stale, uncorrected: 1.30 s a step (+5.3 s start-up and close), held out 0.891
    seed 1, one process: 2.24 s a step (+0.0 s start-up and close), held out 0.867
    seed 1, 2 workers, synchronous: 1.62 s a step (+5.2 s start-up and close), held out 0.906
    seed 1, 2 workers, one step stale, capped at 3: 1.57 s a step (+5.3 s start-up and close), held out 0.891
    seed 1, 2 workers, one step stale, uncorrected: 1.60 s a step (+5.6 s start-up and close), held out 0.766
    seed 2, one process: 2.33 s a step (+0.0 s start-up and close), held out 0.914
    seed 2, 2 workers, synchronous: 1.48 s a step (+5.8 s start-up and close), held out 0.945
    seed 2, 2 workers, one step stale, capped at 3: 1.34 s a step (+6.2 s start-up and close), held out 0.938
    seed 2, 2 workers, one step stale, uncorrected: 1.26 s a step (+5.9 s start-up and close), held out 0.914

    10 steps of 16 episodes, 50 ms wait a step, seeds [0, 1, 2]; held out paired by task over all seeds (128 tasks x 3 seeds)

    one process
      seconds a step 2.21 (seeds 2.05, 2.24, 2.33); start-up and close 0.0 s
      held out 0.919 (seeds 0.977, 0.867, 0.914); gain over untrained +0.349 ± 0.028; per minute of training +0.948 ± 0.076
      training reward's two-step mean first >= 0.9 at: step 8 (15.9 s), step 10 (22.4 s), step 10 (23.3 s)

    2 workers, synchronous
      seconds a step 1.54 (seeds 1.52, 1.62, 1.48); start-up and close 5.1 s
      held out 0.927 (seeds 0.930, 0.906, 0.945); gain over untrained +0.357 ± 0.028; per minute of training +1.390 ± 0.108
      against one process +0.008 ± 0.018
      training reward's two-step mean first >= 0.9 at: step 8 (12.6 s), never, step 9 (12.6 s)

    2 workers, one step stale, capped at 3
      seconds a step 1.39 (seeds 1.27, 1.57, 1.34); start-up and close 5.6 s
      held out 0.922 (seeds 0.938, 0.891, 0.938); gain over untrained +0.352 ± 0.028; per minute of training +1.517 ± 0.121
      against one process +0.003 ± 0.017
      training reward's two-step mean first >= 0.9 at: step 8 (10.3 s), never, never
      largest sampler gap 2.32; importance weight mean 0.996-1.011, largest share capped 0.0047

    2 workers, one step stale, uncorrected
      seconds a step 1.39 (seeds 1.30, 1.60, 1.26); start-up and close 5.6 s
      held out 0.857 (seeds 0.891, 0.766, 0.914); gain over untrained +0.286 ± 0.030; per minute of training +1.239 ± 0.129
      against one process -0.062 ± 0.021
      training reward's two-step mean first >= 0.9 at: step 8 (10.5 s), never, never
      largest sampler gap 2.62
(The pooled standard errors pair by task and treat the three seeds' tasks as independent; per seed, the uncorrected
stale run was 0.086, 0.101 and 0.000 below one process.)
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import torch

from agentic_lab import load_model
from agentic_lab.distributed import Latency, start_local_cluster
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import correct_per_task, paired_gain
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.tasks import sample_tasks

COMMON = dict(n_groups=4, group_size=4, lr=1e-4)
ARMS = {"one process": RLConfig(**COMMON),
        "2 workers, synchronous": RLConfig(**COMMON, rollout_workers=2),
        "2 workers, one step stale, capped at 3": RLConfig(**COMMON, rollout_workers=2, async_rollouts=True,
                                                           sampler_is_cap=3.0),
        "2 workers, one step stale, uncorrected": RLConfig(**COMMON, rollout_workers=2, async_rollouts=True)}


def held_out(model, tokenizer, tasks) -> list[int]:
    """1 or 0 per task: one sampled episode each, the same sampling seed for every model."""
    return correct_per_task(model, tokenizer, tasks, temperature=1.0, seed=1, max_turns=3)


def first_step_at(history: list[dict], level: float = 0.9) -> tuple[int, float] | None:
    """(step, seconds) where the training reward's mean over this step and the one before first reached `level`."""
    for a, b in zip(history, history[1:]):
        if (a["reward"] + b["reward"]) / 2 >= level:
            return b["step"] + 1, b["seconds"]
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--eval-tasks", type=int, default=128)
    parser.add_argument("--out", default="runs/19_async.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    start_local_cluster(num_cpus=4)
    base, tokenizer = load_model()
    tasks = sample_tasks("calculator", args.eval_tasks, seed=0, split="test")
    before = held_out(base, tokenizer, tasks)
    print(f"untrained: held-out sampled success {statistics.mean(before):.3f} ({len(tasks)} tasks)", flush=True)

    def make_env():
        return Latency(TaskEnv("calculator", max_turns=3), args.latency)

    results = {}                                  # arm -> seed -> {"history", "held_out", "start_seconds"}
    for seed in args.seeds:
        for name, config in ARMS.items():
            policy = copy.deepcopy(base)
            began = time.perf_counter()
            history = grpo_train(policy, tokenizer, make_env, steps=args.steps, config=config, seed=seed,
                                 progress=False)
            total = time.perf_counter() - began
            after = held_out(policy, tokenizer, tasks)
            start_up = total - history[-1]["seconds"]
            results.setdefault(name, {})[seed] = {"history": history, "held_out": after, "start_seconds": start_up}
            print(f"seed {seed}, {name}: {history[-1]['seconds'] / args.steps:.2f} s a step (+{start_up:.1f} s "
                  f"start-up and close), held out {statistics.mean(after):.3f}", flush=True)

    print(f"\n{args.steps} steps of 16 episodes, {args.latency * 1000:.0f} ms wait a step, seeds {args.seeds}; "
          f"held out paired by task over all seeds ({len(tasks)} tasks x {len(args.seeds)} seeds)")

    def pooled(name):
        return [x for seed in args.seeds for x in results[name][seed]["held_out"]]

    baseline = pooled("one process")
    for name in ARMS:
        runs = results[name]
        per_step = [runs[s]["history"][-1]["seconds"] / args.steps for s in args.seeds]
        minutes = statistics.mean(runs[s]["history"][-1]["seconds"] for s in args.seeds) / 60
        gain, se = paired_gain(before * len(args.seeds), pooled(name))
        seeds_after = ", ".join(f"{statistics.mean(runs[s]['held_out']):.3f}" for s in args.seeds)
        print(f"\n{name}")
        print(f"  seconds a step {statistics.mean(per_step):.2f} (seeds {', '.join(f'{x:.2f}' for x in per_step)}); "
              f"start-up and close {statistics.mean(runs[s]['start_seconds'] for s in args.seeds):.1f} s")
        print(f"  held out {statistics.mean(pooled(name)):.3f} (seeds {seeds_after}); gain over untrained "
              f"{gain:+.3f} ± {se:.3f}; per minute of training {gain / minutes:+.3f} ± {se / minutes:.3f}")
        if name != "one process":
            difference, difference_se = paired_gain(baseline, pooled(name))
            print(f"  against one process {difference:+.3f} ± {difference_se:.3f}")
        reached = [first_step_at(runs[s]["history"]) for s in args.seeds]
        print("  training reward's two-step mean first >= 0.9 at: " +
              ", ".join("never" if r is None else f"step {r[0]} ({r[1]:.1f} s)" for r in reached))
        if ARMS[name].async_rollouts:
            histories = [h for s in args.seeds for h in runs[s]["history"]]
            print(f"  largest sampler gap {max(h['sampler_logprob_gap'] for h in histories):.2f}", end="")
            if ARMS[name].sampler_is_cap:
                print(f"; importance weight mean {min(h['sampler_weight_mean'] for h in histories):.3f}-"
                      f"{max(h['sampler_weight_mean'] for h in histories):.3f}, largest share capped "
                      f"{max(h['sampler_weight_capped'] for h in histories):.4f}", end="")
            print()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "before": before, "results": results}))


if __name__ == "__main__":
    main()
