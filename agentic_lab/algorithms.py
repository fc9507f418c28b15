"""Policy-optimisation pieces shared by the notebooks. Each function carries its equation.

Group-relative advantage (GRPO, Shao et al. 2024): the G completions of one prompt form a group,
and each is scored against its siblings,

    A_i = (r_i - mean(r_1..r_G)) / (std(r_1..r_G) + eps)

so no value network is needed. Every token of completion i shares the advantage A_i.
"""
from __future__ import annotations

import torch


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True, eps: float = 1e-4) -> torch.Tensor:
    """rewards: (B,) with B = n_groups * group_size, members of a group adjacent. Returns (B,) advantages."""
    grouped = rewards.view(-1, group_size)                     # (n_groups, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)  # unbiased std, as TRL
    return centred.reshape(-1)


def token_logprobs(model, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """log π_θ(x_t | x_<t) for every position t ≥ 1: (B, T) ids -> (B, T-1) log-probs."""
    logits = model(input_ids=token_ids, attention_mask=attention_mask).logits[:, :-1].float()  # (B, T-1, V)
    return torch.log_softmax(logits, dim=-1).gather(2, token_ids[:, 1:, None]).squeeze(2)


def policy_gradient_loss(logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """On-policy policy gradient over agent trajectories, one token at a time:

        L(θ) = - Σ_i Σ_t m_{i,t} A_i log π_θ(y_{i,t} | context) / Σ_i Σ_t m_{i,t}

    logprobs (B, T) and mask (B, T) cover the trajectory's tokens (m = 1 where the policy wrote them);
    advantages (B,). With one gradient step per batch the PPO/GRPO ratio is 1 and its clipping inactive,
    so this is exactly their gradient (the 'token-level' normalisation of DAPO)."""
    weighted = logprobs * advantages[:, None] * mask
    return -weighted.sum() / mask.sum().clamp(min=1)
