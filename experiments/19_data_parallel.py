"""Data-parallel GRPO learners under torchrun: P processes, each playing its own groups, one averaged gradient.

    torchrun --standalone --nproc_per_node=2 experiments/19_data_parallel.py [--steps 6] [--groups 8]
    python experiments/19_data_parallel.py [--steps 6] [--groups 8]          # one process: the baseline

Each process runs `rl.grpo_train` on notebook 04's navigation task (one answer per episode, groups of 8, lr 1e-4)
from data/tiny-agent, with `--groups` / P groups of its own per step: the step's batch is the same size whatever P.
`grpo_train` sees the process group that torchrun set up (gloo on CPUs), gives each process its own block of tasks
and random seeds, and averages the gradients after every backward (`distributed.average_gradients`), so every
process takes the same step. At the end every process prints a checksum of its weights (equal checksums: the copies
never drifted apart), and rank 0 the seconds per step and held-out success on 200 test-split tasks, greedy.

On this 2-core machine, 2 processes split the same work the one process does with 2 torch threads: what data
parallelism buys here is the cost of communication shown small, not speed. On P machines each process plays and
trains on 1/P of the batch.

Reference run: notebook 19's full mode ran it with --steps 4 --eval-tasks 100 at 22ca0eb, 2 cores, alone; torchrun 10 s,
one process 7 s, start-up and evaluation included:
    rank 1 of 2: weights 60ea021c4f12
    rank 0 of 2: weights 60ea021c4f12
    2 process(es), 8 groups of 8 a step: 0.27 s a step; train reward 0.38 -> 0.38; held-out greedy success 0.540 ± 0.050
    rank 0 of 1: weights 40d6dde61cf3
    1 process(es), 8 groups of 8 a step: 0.29 s a step; train reward 0.56 -> 0.48; held-out greedy success 0.500 ± 0.050
(Rank 0's train reward is its own half of the batch; the one process draws other tasks, hence its other checksum.)
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time

import torch
import torch.distributed as dist

from agentic_lab import load_model, rl
from agentic_lab.distributed import data_parallel
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import evaluate_families


def checksum(model) -> str:
    digest = hashlib.sha256()
    for p in model.parameters():
        digest.update(p.detach().numpy().tobytes())
    return digest.hexdigest()[:12]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--groups", type=int, default=8, help="groups per step, over all processes")
    parser.add_argument("--eval-tasks", type=int, default=200)
    args = parser.parse_args()
    launched = "WORLD_SIZE" in os.environ                         # set by torchrun
    if launched:
        dist.init_process_group("gloo")
        torch.set_num_threads(1)                                  # one core per process
    rank, processes = data_parallel()
    model, tokenizer = load_model()
    config = rl.RLConfig(n_groups=args.groups // processes, group_size=8, lr=1e-4, max_new_tokens=16)
    start = time.perf_counter()
    history = rl.grpo_train(model, tokenizer, lambda: TaskEnv("navigation", max_turns=1), steps=args.steps,
                            config=config, progress=False)
    seconds = time.perf_counter() - start
    print(f"rank {rank} of {processes}: weights {checksum(model)}")
    if launched:
        dist.barrier()
        dist.destroy_process_group()
    if rank == 0:
        success = evaluate_families(model, tokenizer, n=args.eval_tasks, temperature=0.0, families=["navigation"])
        print(f"{processes} process(es), {args.groups} groups of 8 a step: {seconds / args.steps:.2f} s a step; "
              f"train reward {history[0]['reward']:.2f} -> {history[-1]['reward']:.2f}; held-out greedy "
              f"success {success['navigation']['success']:.3f} ± {success['navigation']['stderr']:.3f}")


if __name__ == "__main__":
    main()
