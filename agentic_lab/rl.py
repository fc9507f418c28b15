"""Reinforcement learning on agent trajectories: sample groups of episodes, score them, push up the
tokens of the better ones. The loop every agentic notebook starts from:

    for each step:
        trajectories = rollout(π_θ, environments, group seeds)        # G episodes per task
        A_i = group-relative advantage of each episode's return      # algorithms.group_advantages
        L(θ) = - Σ m_t A_i log π_θ(y_t) / Σ m_t over policy tokens    # algorithms.policy_gradient_loss
        θ ← θ - η ∇L
"""
from __future__ import annotations

from typing import Callable

import gymnasium as gym
import torch
from tqdm.auto import tqdm

from agentic_lab.algorithms import group_advantages, policy_gradient_loss, token_logprobs
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.trajectory import Trajectory


def collate_trajectories(trajectories: list[Trajectory], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad: input_ids and attention_mask (B, T); loss_mask (B, T-1) aligned with predictions of x_1..x_T."""
    width = max(len(t.token_ids) for t in trajectories)
    ids = torch.full((len(trajectories), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    mask = torch.zeros_like(ids, dtype=torch.float)
    for i, t in enumerate(trajectories):
        ids[i, :len(t.token_ids)] = torch.tensor(t.token_ids)
        attention[i, :len(t.token_ids)] = 1
        mask[i, :len(t.loss_mask)] = torch.tensor(t.loss_mask, dtype=torch.float)
    return {"input_ids": ids, "attention_mask": attention, "loss_mask": mask[:, 1:]}


def grpo_train(model, tokenizer, make_env: Callable[[], gym.Env], steps: int, n_groups: int = 8,
               group_size: int = 8, lr: float = 2e-5, temperature: float = 1.0, seed: int = 0,
               progress: bool = True) -> list[dict]:
    """On-policy GRPO on an environment. Returns per step: mean return, success rate, loss."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    history = []
    for step in tqdm(range(steps), desc="grpo", disable=not progress):
        seeds = group_seeds(n_groups, group_size, base_seed=seed * 100_000 + step * n_groups)
        model.eval()
        trajectories = rollout(model, tokenizer, [make_env() for _ in seeds], seeds, temperature=temperature,
                               seed=seed * 100_000 + step)
        returns = torch.tensor([t.total_reward for t in trajectories])
        advantages = group_advantages(returns, group_size)
        model.train()
        batch = collate_trajectories(trajectories, tokenizer.pad_token_id)
        logprobs = token_logprobs(model, batch["input_ids"], batch["attention_mask"])
        loss = policy_gradient_loss(logprobs, advantages, batch["loss_mask"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step, "return": returns.mean().item(), "loss": loss.item(),
                        "success": sum(t.success for t in trajectories) / len(trajectories)})
    model.eval()
    return history
