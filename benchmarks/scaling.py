"""Rollout workers against waiting: how much faster are episodes played by N Ray actors than in one process, when
every environment step waits on a slow tool?

    python benchmarks/scaling.py [--latency 0.05] [--workers 1 2 4] [--groups 8] [--group-size 4] [--repeats 3]

The environment is notebook 06's calculator task with `distributed.Latency` on every step (a tool behind a web API:
the process sleeps, it does not compute). Baseline, measured in the same run: `rollout` in this process, one torch
thread, which steps its environments one after another, so a turn of E episodes waits E · latency. Each worker
count plays the same groups (`RolloutWorkers`, one torch thread per worker); the Ray cluster and each pool of
workers are started, and every worker has played once, before the clock starts (a pool starts in about 4 s: a
one-off cost). Then the same without latency: on 2 cores, workers cannot add compute the machine does not have.
Best of `--repeats`.
Last line: the speed-up of 4 workers over one process, with latency.
"""
from __future__ import annotations

import argparse
import os
import time

import ray
import torch

from agentic_lab import load_model
from agentic_lab.distributed import Latency, RolloutWorkers, start_local_cluster
from agentic_lab.envs import TaskEnv
from agentic_lab.rollout import group_seeds, rollout


def environment_maker(latency: float):
    return lambda: Latency(TaskEnv("calculator", max_turns=3), latency)


def local_seconds(model, tokenizer, make_env, seeds) -> float:
    start = time.perf_counter()
    rollout(model, tokenizer, [make_env() for _ in seeds], seeds, seed=0)
    return time.perf_counter() - start


def workers_seconds(model, tokenizer, make_env, seeds, group_size: int, n_workers: int, repeats: int) -> float:
    """Best of `repeats` plays of every seed by one pool of workers, started and warmed up before the clock."""
    workers = RolloutWorkers(model, tokenizer, make_env, n_workers)
    workers.gather(workers.submit(seeds[:group_size * n_workers], group_size))    # every worker plays a group
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        workers.gather(workers.submit(seeds, group_size, seed=0))
        best = min(best, time.perf_counter() - start)
    workers.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each environment step waits")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start_local_cluster(max(os.cpu_count() or 1, *args.workers))
    model, tokenizer = load_model()
    seeds = group_seeds(args.groups, args.group_size)
    print(f"{len(seeds)} episodes of up to 3 turns; {os.cpu_count()} cores")
    speedups = {}
    for latency in (args.latency, 0.0):
        make_env = environment_maker(latency)
        local = min(local_seconds(model, tokenizer, make_env, seeds) for _ in range(args.repeats))
        print(f"latency {latency * 1000:.0f} ms a step: one process {local:.2f} s")
        for n in args.workers:
            seconds = workers_seconds(model, tokenizer, make_env, seeds, args.group_size, n, args.repeats)
            speedups[latency, n] = local / seconds
            print(f"  {n} workers: {seconds:.2f} s ({speedups[latency, n]:.2f}x one process)")
    ray.shutdown()
    print(f"RESULT ray_rollout_speedup {speedups[args.latency, max(args.workers)]:.2f}")


if __name__ == "__main__":
    main()
