"""Run by tests/test_distributed.py as two processes under torchrun: one GRPO update of the tiny model, each process
on its half of a fixed batch of groups (whole groups), with the gradients the optimiser receives saved by rank 0.

    python -m torch.distributed.run --nproc_per_node=2 tests/data_parallel_check.py OUT LOSS_TYPE
"""
import sys

import torch
import torch.distributed as dist

from agentic_lab import load_model
from agentic_lab.envs import TaskEnv
from agentic_lab.rl import RLConfig, update
from agentic_lab.rollout import group_seeds, rollout

N_GROUPS, GROUP_SIZE = 4, 4


class GradientRecorder(torch.optim.SGD):
    """An optimiser that moves nothing and keeps the gradients it was handed (after update's clipping)."""

    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.seen = None

    def step(self, closure=None):
        self.seen = torch.cat([p.grad.flatten() for group in self.param_groups for p in group["params"]])


def batch(model, tokenizer):
    """The same 4 groups of 4 episodes in every process, and rewards that differ within each group."""
    seeds = group_seeds(N_GROUPS, GROUP_SIZE, base_seed=3)
    trajectories = rollout(model, tokenizer, [TaskEnv("navigation", max_turns=1) for _ in seeds], seeds, seed=1,
                           max_new_tokens=24)
    rewards = torch.tensor([float(i % 3 == 0) + 0.1 * (i % 4) for i in range(len(seeds))])
    return trajectories, rewards


def gradients(trajectories, rewards, loss_type: str, model, tokenizer) -> torch.Tensor:
    recorder = GradientRecorder(model.parameters())
    update(model, None, recorder, tokenizer, trajectories, rewards, RLConfig(group_size=GROUP_SIZE, loss_type=loss_type))
    return recorder.seen


if __name__ == "__main__":
    out, loss_type = sys.argv[1], sys.argv[2]
    dist.init_process_group("gloo")
    torch.set_num_threads(1)
    rank, world = dist.get_rank(), dist.get_world_size()
    model, tokenizer = load_model()
    trajectories, rewards = batch(model, tokenizer)
    half = len(trajectories) // world                       # whole groups: N_GROUPS / world of them
    mine = slice(rank * half, (rank + 1) * half)
    seen = gradients(trajectories[mine], rewards[mine], loss_type, model, tokenizer)
    if rank == 0:
        torch.save(seen, out)
    dist.destroy_process_group()
