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
