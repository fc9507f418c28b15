"""Reinforcement learning with group-relative advantages: the loop every GRPO-family notebook runs.

    for each step:
        trajectories = rollout(π_old, environments, group seeds)      # G episodes per task (group)
        r_i = reward of episode i (+ DAPO's overlong penalty)
        drop groups whose rewards are all equal                      # DAPO's dynamic sampling, if on
        A_i = group-relative advantage of r_i                        # algorithms.group_advantages / rloo_advantages
        repeat μ times:                                              # μ = num_iterations
            L(θ) = grpo_loss(log π_θ, log π_old, A, mask)             # algorithms.grpo_loss
            θ ← θ - η ∇L

An episode is anything an environment defines: one answer to a prompt (`TaskEnv(family, max_turns=1)`,
notebooks 04 and 05) or many turns of tool calls (notebook 06 onwards). The loss mask covers exactly the
tokens the policy wrote, so prompts, observations and tool outputs are never trained on.

Each step also records the diagnostics that tell the variants apart: policy entropy, the mean length of
right and of wrong answers, the fraction of zero-spread groups and the clip fractions.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import torch
from tqdm.auto import tqdm

from agentic_lab.algorithms import (group_advantages, grpo_loss, overlong_penalty, rloo_advantages,
                                    token_logprobs, zero_spread_groups)
from agentic_lab.ppo import masked_mean, next_token_logprobs
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.trajectory import Trajectory


@dataclass
class RLConfig:
    """The knobs of the GRPO family, named as in TRL's GRPOConfig where TRL has them."""
    n_groups: int = 8                   # prompts (tasks) per step
    group_size: int = 8                 # G, episodes per prompt (TRL: num_generations)
    lr: float = 2e-5
    temperature: float = 1.0
    max_new_tokens: int = 96            # per message (TRL: max_completion_length)
    loss_type: str = "grpo"             # "grpo", "bnpo", "dr_grpo", "dapo"
    advantage: str = "grpo"             # "grpo" (group mean, scaled by scale_rewards) or "rloo" (leave-one-out)
    scale_rewards: str = "group"        # "group", "batch" or "none" (Dr. GRPO)
    importance_sampling_level: str = "token"   # "sequence" is GSPO
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2           # DAPO's clip-higher raises this, e.g. 0.28
    num_iterations: int = 1             # μ: gradient steps per batch of episodes; the clip only binds when > 1
    beta: float = 0.0                   # weight of the k3 KL to the initial policy
    dynamic_sampling: bool = False      # DAPO: drop zero-spread groups
    overlong_cache: int = 0             # DAPO: penalise the last `overlong_cache` tokens before max_new_tokens


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


@torch.no_grad()
def logprobs_and_entropy(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log π(x_t) and entropy H(π(·|x_<t)) = -Σ_v π(v) log π(v): both (B, T-1), no gradient."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    chosen, logp = next_token_logprobs(logits, batch["input_ids"])     # (B, T-1), (B, T-1, V)
    return chosen, -(logp.exp() * logp).sum(-1)


def episode_reward(trajectory: Trajectory) -> float:
    """The default reward: the environment's return over the episode."""
    return trajectory.total_reward


def grpo_train(model, tokenizer, make_env: Callable[[], gym.Env], steps: int, config: RLConfig | None = None,
               reward_fn: Callable[[Trajectory], float] = episode_reward, seed: int = 0,
               progress: bool = True) -> list[dict]:
    """Train `model` in place with the GRPO-family loss chosen by `config`. Returns one dict of diagnostics per step."""
    cfg = config or RLConfig()
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    reference = copy.deepcopy(model).eval() if cfg.beta else None
    history = []
    for step in tqdm(range(steps), desc="grpo", disable=not progress):
        seeds = group_seeds(cfg.n_groups, cfg.group_size, base_seed=seed * 1_000_003 + step * cfg.n_groups)
        model.eval()
        trajectories = rollout(model, tokenizer, [make_env() for _ in seeds], seeds, temperature=cfg.temperature,
                               max_new_tokens=cfg.max_new_tokens, seed=seed * 1_000_003 + step)
        rewards = torch.tensor([reward_fn(t) for t in trajectories])
        lengths = torch.tensor([sum(t.loss_mask) for t in trajectories], dtype=torch.float)
        if cfg.overlong_cache:
            rewards = rewards + overlong_penalty(lengths, cfg.max_new_tokens, cfg.overlong_cache)
        flat = zero_spread_groups(rewards, cfg.group_size)                # (n_groups,)
        record = diagnostics(trajectories, rewards, lengths, flat)
        keep = ~flat.repeat_interleave(cfg.group_size) if cfg.dynamic_sampling else torch.ones(len(rewards), dtype=bool)
        if keep.any():
            record |= update(model, reference, optimizer, tokenizer,
                             [t for t, k in zip(trajectories, keep) if k], rewards[keep], cfg)
        history.append({"step": step, **record})
    model.eval()
    return history


def update(model, reference, optimizer, tokenizer, trajectories: list[Trajectory], rewards: torch.Tensor,
           cfg: RLConfig) -> dict[str, float]:
    """μ gradient steps on one batch of groups; returns the mean entropy, loss and clip fractions."""
    if cfg.advantage == "rloo":
        advantages = rloo_advantages(rewards, cfg.group_size)
    else:
        advantages = group_advantages(rewards, cfg.group_size, scale=cfg.scale_rewards)
    batch = collate_trajectories(trajectories, tokenizer.pad_token_id)
    mask = batch["loss_mask"]
    old_logprobs, entropy = logprobs_and_entropy(model, batch)          # π_old: the policy that sampled
    ref_logprobs = logprobs_and_entropy(reference, batch)[0] if reference is not None else None
    model.train()
    sums: dict[str, float] = {}
    for _ in range(cfg.num_iterations):
        logprobs = token_logprobs(model, batch["input_ids"], batch["attention_mask"])
        loss, metrics = grpo_loss(logprobs, old_logprobs, advantages, mask, loss_type=cfg.loss_type,
                                  epsilon_low=cfg.epsilon_low, epsilon_high=cfg.epsilon_high, beta=cfg.beta,
                                  ref_logprobs=ref_logprobs, importance_sampling_level=cfg.importance_sampling_level,
                                  max_completion_length=cfg.max_new_tokens)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        for key, value in {"loss": loss.item(), **metrics}.items():
            sums[key] = sums.get(key, 0.0) + value / cfg.num_iterations
    model.eval()
    return {"entropy": masked_mean(entropy, mask).item(), **sums}


def diagnostics(trajectories: list[Trajectory], rewards: torch.Tensor, lengths: torch.Tensor,
                flat: torch.Tensor) -> dict[str, float]:
    """What the batch looked like before the update: reward, success, lengths of right and wrong answers."""
    success = torch.tensor([t.success for t in trajectories])
    def mean_or_nan(x):
        return x.mean().item() if len(x) else float("nan")
    return {"reward": rewards.mean().item(), "success": success.float().mean().item(),
            "length_right": mean_or_nan(lengths[success]), "length_wrong": mean_or_nan(lengths[~success]),
            "zero_spread": flat.float().mean().item()}

