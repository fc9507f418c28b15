"""Scaling the one loop out (notebook 19): rollout workers as Ray actors, and what waiting on a slow tool costs.

Every earlier notebook plays its episodes in the learner's own process. Engines that train agents at scale (verl,
OpenRLHF, RAGEN, SkyRL) split the loop: rollout workers, each holding environments and a copy of the policy, play
episodes; the learner trains on what they return and sends the new weights back. Here the workers are Ray actors:

    learner                                 worker w (a Ray actor: its own process, one torch thread)
    -------                                 ---------------------------------------------------------
    submit(seeds)  ── groups of seeds ──▶   rollout(π_copy, envs, its groups)    # the engine every notebook uses
    gather()       ◀── trajectories ──      (a group's G episodes never straddle two workers: shard_groups)
    update(θ)
    load_weights   ── θ (ray.put once) ──▶  π_copy ← θ

`grpo_train(..., config=RLConfig(rollout_workers=N))` runs this; `async_rollouts=True` submits step t+1's episodes
before step t's update, so they are played, during the update, by the policy one update behind (one-step-stale, as
verl's and AReaL's asynchronous modes are), and `sampler_is_cap` corrects the loss for it
(`algorithms.truncated_importance_weights`). Ray starts a local cluster the first time it is needed; to go past one
machine, connect to a real one before training, the only change: `ray.init(address="auto")` (or "ray://head:10001").

On this course's 2-core machine workers cannot add compute the learner does not already use. What they do hide is
waiting: an environment whose step waits on a web API or a sandbox (`Latency`) keeps one process idle, and N workers
wait N at a time.

Data-parallel learners. Launched as P processes by torchrun (`torchrun --nproc_per_node=2 script.py`, which calls
`torch.distributed.init_process_group`: gloo on CPUs, nccl on GPUs, the same code), `grpo_train` notices the process
group: each process plays its own groups and, after every backward, `average_gradients` leaves each with the mean of
all P gradients, so all P copies take the same step and stay equal. That is what `DistributedDataParallel` does,
without its buckets and its overlap of communication with the backward pass:

    g = (1/P) Σ_p ∇L_p(θ)        one all-reduce of the flattened gradients

With equal batches per process, the mean of the P per-process means is the mean over the whole batch ("grpo" loss:
every sequence weighs the same); for the token mean of "dapo" each process divides by the global token count / P.
"""
from __future__ import annotations

import os
import time
from typing import Callable

import gymnasium as gym
import ray
import torch
import torch.distributed as dist

from agentic_lab.rollout import rollout
from agentic_lab.trajectory import Trajectory


def start_local_cluster(num_cpus: int) -> None:
    """`ray.init` on this machine, set for a small busy one (ray.init(address=...) joins a real cluster instead).

    Two of Ray's defaults fail here. It runs its workers at niceness 15, so that they yield to the driver: behind a
    learner (or any other busy process) on 2 cores, a worker then took 119 s instead of 9 s to start. And its raylet
    waits 30 s for the node's agent, which took longer than that to start on a busy 2-core machine: the cluster
    failed to come up."""
    os.environ.setdefault("RAY_worker_niceness", "0")
    os.environ.setdefault("RAY_agent_register_timeout_ms", "120000")
    ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False)


def shard_groups(n_groups: int, group_size: int, n_workers: int) -> list[slice]:
    """Split n_groups · group_size consecutive episodes among workers, whole groups only, as evenly as possible (the
    first n_groups % n_workers workers take one group more). A group split across two workers would be played by two
    copies of the policy with two random streams: fine on-policy, but one group's advantages would then compare
    episodes from workers that may hold different weights in an asynchronous run. Workers beyond n_groups get none."""
    base, extra = divmod(n_groups, n_workers)
    slices, start = [], 0
    for w in range(n_workers):
        groups = base + (w < extra)
        slices.append(slice(start * group_size, (start + groups) * group_size))
        start += groups
    return slices


@ray.remote
class RolloutWorker:
    """One Ray actor: a copy of the policy, a way to make environments, and the course's rollout engine."""

    def __init__(self, policy: tuple, make_env: Callable[[], gym.Env], threads: int = 1):
        torch.set_num_threads(threads)      # the machine's cores are shared by the learner and every worker
        (self.model, self.tokenizer), self.make_env = policy, make_env
        self.model.eval()

    def load_weights(self, state_dict: dict) -> None:
        self.model.load_state_dict(state_dict)

    def play(self, seeds: list[int], **rollout_kwargs) -> list[Trajectory]:
        return rollout(self.model, self.tokenizer, [self.make_env() for _ in seeds], seeds, **rollout_kwargs)


class RolloutWorkers:
    """N rollout workers behind one call: `submit` hands out seeds by whole groups and returns at once; `gather`
    waits for a submission's episodes, in seed order; `load_weights` sends the learner's weights to every worker.

    A worker runs its calls one at a time, in the order they were made: weights sent while a submission is being
    played reach the workers after it, so that submission was played by the weights it was submitted with."""

    def __init__(self, model, tokenizer, make_env: Callable[[], gym.Env], n_workers: int, threads: int = 1):
        if not ray.is_initialized():         # a local cluster with a logical CPU for each worker
            start_local_cluster(max(os.cpu_count() or 1, n_workers))
        policy = ray.put((model, tokenizer))  # serialised once, not once per worker; each worker gets its own copy
        self.workers = [RolloutWorker.remote(policy, make_env, threads) for _ in range(n_workers)]
        ray.get([worker.__ray_ready__.remote() for worker in self.workers])   # started: a run's clock excludes it

    def submit(self, seeds: list[int], group_size: int, seed: int = 0, **rollout_kwargs) -> list:
        """Start playing one episode per seed (consecutive runs of group_size seeds are groups); returns a ticket.
        Worker w of N samples with random seed `seed · N + w` (distinct for every seed and worker; one worker: `seed`,
        as `rollout` in this process): the episodes depend on the number of workers."""
        n = len(self.workers)
        shards = shard_groups(len(seeds) // group_size, group_size, n)
        return [worker.play.remote(seeds[shard], seed=seed * n + w, **rollout_kwargs)
                for w, (worker, shard) in enumerate(zip(self.workers, shards)) if seeds[shard]]

    @staticmethod
    def gather(ticket: list) -> list[Trajectory]:
        return [t for shard in ray.get(ticket) for t in shard]

    def load_weights(self, model, wait: bool = False) -> None:
        """Queue the learner's current weights on every worker (after whatever each is playing); with `wait`, return
        once every worker holds them."""
        weights = ray.put({k: v.detach().clone() for k, v in model.state_dict().items()})
        loaded = [worker.load_weights.remote(weights) for worker in self.workers]
        if wait:
            ray.get(loaded)

    def close(self) -> None:
        for worker in self.workers:
            ray.kill(worker)
        self.workers = []


class Latency(gym.Wrapper):
    """An environment whose every step first waits `seconds`: a tool behind a web API, a sandbox starting up.
    The wait is idle time, not compute: a process waiting on it could be doing something else."""

    def __init__(self, env: gym.Env, seconds: float):
        super().__init__(env)
        self.seconds = seconds

    def step(self, action):
        time.sleep(self.seconds)
        return self.env.step(action)


def data_parallel() -> tuple[int, int]:
    """(rank, number of processes) in torch.distributed's process group; (0, 1) outside one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def average_gradients(model) -> None:
    """Replace every process's gradients by their mean over the process group, in one all-reduce of one flat buffer
    (a parameter without a gradient counts as 0, so every process sends the same shape and none waits forever)."""
    params = list(model.parameters())
    flat = torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in params])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        p.grad = flat[offset:offset + p.numel()].view_as(p).clone()
        offset += p.numel()


def global_token_count(mask: torch.Tensor) -> float:
    """Tokens under `mask` summed over the process group, divided by its size: "dapo"'s normaliser N/P, so that the
    averaged gradients are those of one token mean over every process's batch."""
    count = mask.sum().detach().clone()
    dist.all_reduce(count, op=dist.ReduceOp.SUM)
    return (count / dist.get_world_size()).item()
