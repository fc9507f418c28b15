"""Policy-optimisation pieces shared by the notebooks: the GRPO family. Each function carries its equation.

Group-relative advantage (GRPO, Shao et al. 2024): the G completions of one prompt form a group,
and each is scored against its siblings,

    A_i = (r_i - mean(r_1..r_G)) / (std(r_1..r_G) + eps)

so no value network is needed (compare agentic_lab.ppo). Every token of completion i shares the advantage A_i.
The variants differ in three places, each a switch here and in TRL's GRPOConfig:

    the advantage        group std (GRPO), no std (Dr. GRPO), leave-one-out baseline (RLOO)
    the ratio            per token (GRPO), per sequence (GSPO: importance_sampling_level="sequence")
    the normalisation    how per-token losses are averaged: loss_type "grpo", "bnpo", "dr_grpo", "dapo"

DAPO adds two data-side tricks: drop groups whose rewards are all equal (zero advantage, no signal) and
penalise completions that approach the length limit.

GiGPO (Feng et al. 2025, verl-agent) keeps GRPO's episode-level advantage for multi-turn episodes and adds a
turn-level one, grouping the turns of a group's episodes by the state they were taken in (`gigpo_advantages`).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Hashable

import torch

from agentic_lab.policy_gradient import clipped_surrogate, kl_k3, leave_one_out_baseline, masked_mean


def group_advantages(rewards: torch.Tensor, group_size: int, scale: str | bool = "group",
                     eps: float = 1e-4) -> torch.Tensor:
    """A_i = (r_i - mean_group(r)) / (std + eps), the std chosen by `scale` (TRL's `scale_rewards`):

        "group" (True)   std of the group (GRPO)
        "batch"          std of the whole batch (the mean stays per group)
        "none"  (False)  no division: A_i = r_i - mean_group(r) (Dr. GRPO)

    rewards: (B,) with B = n_groups * group_size, members of a group adjacent. Returns (B,) advantages."""
    scale = {True: "group", False: "none"}.get(scale, scale)
    grouped = rewards.view(-1, group_size)                                  # (n_groups, G)
    centred = grouped - grouped.mean(dim=1, keepdim=True)
    if scale == "group":
        centred = centred / (grouped.std(dim=1, keepdim=True) + eps)       # unbiased std, as TRL
    elif scale == "batch":
        centred = centred / (rewards.std() + eps)
    elif scale != "none":
        raise ValueError(f"scale must be 'group', 'batch' or 'none', not {scale!r}")
    return centred.reshape(-1)


def rloo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """REINFORCE leave-one-out (Ahmadian et al. 2024): each completion's baseline is the mean of its G-1 siblings,

        A_i = r_i - (Σ_j r_j - r_i) / (G - 1)  =  G/(G-1) (r_i - mean_group(r))

    rewards: (B,), groups adjacent. Returns (B,)."""
    return rewards - leave_one_out_baseline(rewards, group_size)


def zero_spread_groups(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """DAPO's dynamic sampling drops groups whose G rewards are all equal: every advantage there is 0, so they
    only dilute the batch. rewards: (B,), groups adjacent. Returns (n_groups,) bool, True = all equal."""
    grouped = rewards.view(-1, group_size)                                  # (n_groups, G)
    return (grouped == grouped[:, :1]).all(dim=1)


def top_spread_groups(rewards: torch.Tensor, group_size: int, fraction: float) -> torch.Tensor:
    """RAGEN's variance filter (StarPO-S): train only on the `fraction` of groups whose rewards spread the most, the
    groups the policy is still uncertain on; the echo trap starts where most groups have stopped spreading.
    rewards: (B,), groups adjacent. Returns (n_groups,) bool, True = kept: the ⌊fraction · n_groups⌋ groups (at
    least one) with the largest standard deviation, ties to the earlier group."""
    grouped = rewards.view(-1, group_size)                                  # (n_groups, G)
    n_keep = max(1, int(fraction * len(grouped)))
    order = torch.sort(-grouped.std(dim=1), stable=True).indices           # largest spread first
    keep = torch.zeros(len(grouped), dtype=torch.bool)
    keep[order[:n_keep]] = True
    return keep


def overlong_penalty(lengths: torch.Tensor, max_len: int, cache_len: int) -> torch.Tensor:
    """DAPO's soft overlong punishment, added to the reward; linear over the last cache_len tokens before max_len:

        R(|y|) = 0                                    if |y| ≤ max_len - cache_len
               = ((max_len - cache_len) - |y|) / cache_len   if max_len - cache_len < |y| ≤ max_len
               = -1                                   if |y| > max_len

    lengths: (B,) completion lengths. Returns (B,) float penalties in [-1, 0]."""
    return (((max_len - cache_len) - lengths.float()) / cache_len).clamp(min=-1.0, max=0.0)


LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo")


def grpo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              loss_type: str = "grpo", epsilon_low: float = 0.2, epsilon_high: float = 0.2,
              beta: float | torch.Tensor = 0.0,
              ref_logprobs: torch.Tensor | None = None, importance_sampling_level: str = "token",
              max_completion_length: int | None = None, num_items_in_batch: float | None = None,
              kl_bias_correction: bool = True, importance_weights: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO-family loss of TRL's GRPOTrainer, for one micro-batch.

    logprobs (B, T) under π_θ (with gradient), old_logprobs (B, T) under the policy that sampled, ref_logprobs
    (B, T) under π_ref, mask m (B, T) on completion tokens, advantages A (B,), or (B, T) when each token has its own
    (one per turn of a multi-turn episode: GiGPO, a turn-level critic). The importance ratio is

        ρ_{i,t} = exp(log π_θ - log π_old)                                  "token"
        ρ_i     = exp(Σ_t m_{i,t} (log π_θ - log π_old) / Σ_t m_{i,t})        "sequence" (GSPO), one per sequence

    (a geometric mean of the token ratios, so its gradient ρ_i/|o_i| Σ_t ∇log π_θ reaches every token equally;
    TRL 1.16 has no stop-gradient "GSPO-token" variant, and the whole sequence is clipped or not)

    and the per-token loss, k3 being the KL estimator to π_ref (agentic_lab.ppo.kl_k3),

        ℓ_{i,t} = -min(ρ A_i, clip(ρ, 1-ε_low, 1+ε_high) A_i) + β ρ k3_{i,t}

    averaged over the tokens in one of four ways (|o_i| = Σ_t m_{i,t}):

        "grpo"     L = 1/B Σ_i 1/|o_i| Σ_t m ℓ        each sequence weighs the same, long ones' tokens less
        "bnpo"     L = Σ_i Σ_t m ℓ / Σ_i |o_i|         each token weighs the same, within this micro-batch
        "dr_grpo"  L = Σ_i Σ_t m ℓ / (B · max_completion_length)    a constant: no dependence on lengths
        "dapo"     L = Σ_i Σ_t m ℓ / N                 N = num_items_in_batch, tokens in the whole optimiser step

    The ρ on the KL term (kl_bias_correction, TRL's use_bias_correction_kl, on by default in 1.16) reweights
    tokens sampled from π_old to π_θ, making the gradient that of KL(π_θ || π_ref); without it the term is β k3.
    Even on-policy, where ρ = 1, it changes the gradient: ∇(ρ k3) = k3 ∇log π_θ + ∇k3.

    For "dapo", N counts the tokens of every micro-batch accumulated into one optimiser step (TRL: the
    generation batch's `num_items_in_batch` · gradient_accumulation_steps / steps_per_generation), so summing
    the micro-batch losses gives a token mean over the whole step; N defaults to this micro-batch's Σ m. The
    other three are per-micro-batch means: under gradient accumulation over k micro-batches divide them by k
    (TRL does), and "bnpo" becomes a mean of micro-batch token means. With DDP over P processes TRL divides
    "dapo" by N/P, which DDP's gradient averaging turns back into N.

    importance_weights w (B, T), when the tokens were sampled by another policy than π_old (a rollout worker
    one update behind, or another engine's numerics), multiply the clipped term, detached: ℓ = -w min(...) + β ρ k3,
    as TRL does with `vllm_importance_sampling_correction` (`truncated_importance_weights` makes them).

    Returns (loss, metrics): the fractions of tokens (of sequences, for "sequence") where the clip binds,
    "clip_low" (ρ < 1-ε_low, A < 0), "clip_high" (ρ > 1+ε_high, A > 0), "clip_region" (either), and, when
    β > 0, "kl": the token mean of the KL term as it enters the loss (ρ k3 or k3), as TRL logs it. β may be a
    (B, T) tensor, one weight per token (SCoRe's stage I: a large β on the first attempt, a small one on the second).
    """
    mask = mask.to(logprobs.dtype)
    log_ratio = logprobs - old_logprobs                                     # (B, T)
    if importance_sampling_level == "sequence":
        log_ratio = (log_ratio * mask).sum(1, keepdim=True) / mask.sum(1, keepdim=True).clamp(min=1)  # (B, 1)
    elif importance_sampling_level != "token":
        raise ValueError(f"importance_sampling_level must be 'token' or 'sequence', not {importance_sampling_level!r}")
    ratio = torch.exp(log_ratio)                                            # (B, T) or (B, 1)
    advantages = advantages if advantages.dim() == 2 else advantages[:, None]   # per token (B, T), or per sequence
    per_token, low, high = clipped_surrogate(ratio, advantages, epsilon_low, epsilon_high)
    if importance_weights is not None:
        per_token = per_token * importance_weights.detach()                 # (B, T)
    metrics = {}
    if isinstance(beta, torch.Tensor) or beta != 0.0:
        kl = kl_k3(logprobs, ref_logprobs)                                  # (B, T)
        if kl_bias_correction:
            kl = ratio * kl
        per_token = per_token + beta * kl
        metrics["kl"] = masked_mean(kl, mask).item()
    per_token = per_token.expand_as(mask)   # (B, T); a sequence-level (B, 1) loss is counted once per token
    loss = aggregate_loss(per_token, mask, loss_type, max_completion_length, num_items_in_batch)

    def fraction(flags):                # a per-sequence flag (B, 1) counts each sequence once
        flags = flags.to(mask.dtype)
        return (flags.mean() if flags.shape[1] == 1 else masked_mean(flags, mask)).item()
    metrics.update(clip_low=fraction(low), clip_high=fraction(high), clip_region=fraction(low | high))
    return loss, metrics


def truncated_importance_weights(old_logprobs: torch.Tensor, sampler_logprobs: torch.Tensor, mask: torch.Tensor,
                                 cap: float = 3.0) -> torch.Tensor:
    """Per-token weights w = min(π_old / π_sampler, cap) for tokens a different policy sampled (truncated importance
    sampling; TRL's `vllm_importance_sampling_mode="token_truncate"`). The policy gradient is an expectation under
    π_old; over tokens drawn from π_sampler, E_sampler[w ∇...] = E_old[∇...] when w is the plain ratio. Truncating at
    `cap` bounds the variance a rare token with a huge ratio would bring, at the price of a small bias.
    All (B, T); 1 off the mask."""
    log_ratio = ((old_logprobs - sampler_logprobs) * mask).detach()
    return log_ratio.exp().clamp(max=cap)


def aggregate_loss(per_token_loss: torch.Tensor, mask: torch.Tensor, loss_type: str = "grpo",
                   max_completion_length: int | None = None, num_items_in_batch: float | None = None) -> torch.Tensor:
    """Average per-token losses ℓ (B, T) over the completion tokens, m (B, T) the mask, |o_i| = Σ_t m_{i,t}:

        "grpo"     L = 1/B Σ_i 1/|o_i| Σ_t m ℓ        each sequence weighs the same, long ones' tokens less
        "bnpo"     L = Σ_i Σ_t m ℓ / Σ_i |o_i|         each token weighs the same
        "dr_grpo"  L = Σ_i Σ_t m ℓ / (B · max_completion_length)    a constant: no dependence on lengths
        "dapo"     L = Σ_i Σ_t m ℓ / N                 N = num_items_in_batch (default Σ_i |o_i|)

    Padding may hold anything (it is masked out), and a completion with no tokens adds 0, never 0/0."""
    masked = per_token_loss * mask
    if loss_type == "grpo":
        return (masked.sum(1) / mask.sum(1).clamp(min=1)).mean()
    if loss_type == "bnpo":
        return masked.sum() / mask.sum().clamp(min=1)
    if loss_type == "dr_grpo":
        if max_completion_length is None:
            raise ValueError("loss_type='dr_grpo' divides by B * max_completion_length: pass max_completion_length")
        return masked.sum() / (masked.shape[0] * max_completion_length)
    if loss_type == "dapo":
        tokens = mask.sum() if num_items_in_batch is None else torch.as_tensor(num_items_in_batch)
        return masked.sum() / tokens.clamp(min=1)
    raise ValueError(f"loss_type must be one of {LOSS_TYPES}, not {loss_type!r}")


def rloo_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
              epsilon_low: float = 0.2, epsilon_high: float = 0.2) -> tuple[torch.Tensor, dict[str, float]]:
    """The loss of TRL's RLOOTrainer: PPO clipping on whole sequences, with the ratio of sequence probabilities

        ρ_i = π_θ(o_i) / π_old(o_i) = exp(Σ_t m_{i,t} (log π_θ - log π_old))
        L = -1/B Σ_i min(ρ_i A_i, clip(ρ_i, 1-ε_low, 1+ε_high) A_i)

    logprobs, old_logprobs, mask: (B, T); advantages (B,) from rloo_advantages. Unlike GSPO's ρ (a geometric
    mean over tokens), this ρ is a product over tokens, so it leaves [1-ε, 1+ε] quickly on long completions.
    Returns (loss, metrics): the fractions of sequences where the clip binds, named as grpo_loss names them."""
    log_ratio = ((logprobs - old_logprobs) * mask).sum(1)                  # (B,)
    loss, low, high = clipped_surrogate(torch.exp(log_ratio), advantages, epsilon_low, epsilon_high)
    return loss.mean(), {"clip_low": low.float().mean().item(), "clip_high": high.float().mean().item(),
                         "clip_region": (low | high).float().mean().item()}


def discounted_returns(rewards: list[float], gamma: float) -> list[float]:
    """R_t = Σ_{k ≥ t} γ^(k-t) r_k for each turn t of one episode, from its per-turn rewards r_0..r_{K-1}."""
    returns, running = [0.0] * len(rewards), 0.0
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def _normalised(values: list[float], scale: str, eps: float) -> list[float]:
    """(x - mean) / F_norm over one group: F_norm the unbiased std ("group"; 1 for a group of one) or 1 ("none")."""
    x = torch.tensor(values, dtype=torch.float64)
    centred = x - x.mean()
    if scale == "group" and len(values) > 1:
        centred = centred / (x.std() + eps)
    elif scale not in ("group", "none"):
        raise ValueError(f"scale must be 'group' or 'none', not {scale!r}")
    return centred.tolist()


def gigpo_advantages(episode_rewards: list[float], turn_rewards: list[list[float]], anchors: list[list[Hashable]],
                     group_size: int, gamma: float = 0.95, step_weight: float = 1.0, scale: str = "group",
                     eps: float = 1e-6) -> list[list[float]]:
    """Group-in-Group Policy Optimisation (Feng et al. 2025): one advantage per turn of each episode,

        A(a_t^i) = A^E(τ_i) + ω A^S(a_t^i)                                             (Eq. 8)

    Episode level, the group of G episodes of one task, as GRPO (Eq. 3):

        A^E(τ_i) = (R(τ_i) - mean_j R(τ_j)) / F_norm

    Step level: every turn t of every episode i of the group, taken from the anchor state s_t^i, joins the step
    group of that state (Eq. 6: identical states, pooled over turns and episodes), with its discounted return

        R_t^i = Σ_k γ^k r_{t+k}^i                                                       (Eq. 5)
        A^S(a_t^i) = (R_t^i - mean_{G^S(s_t^i)} R) / F_norm                             (Eq. 7)

    so from a state several episodes passed through, the action that led to the reward sooner (or at all) scores
    above the others, even when every episode of the group succeeded and A^E is 0 for all. A state seen once is a
    step group of one: A^S = 0 there. F_norm is the group's std (`scale="group"`, unbiased, plus ε; GiGPO's
    "mean_std_norm") or 1 (`"none"`, verl-agent's default "mean_norm").

    episode_rewards (B,): R(τ_i), B = n_groups · G, groups adjacent; turn_rewards and anchors: per episode, one
    reward and one hashable state per turn (the observation the turn answered, say). Returns one list per episode.
    (verl-agent takes the episode mean and std over its step rows, each episode weighed by its number of turns;
    this follows the paper, each episode once.)"""
    advantages = []
    for g in range(0, len(episode_rewards), group_size):
        members = range(g, g + group_size)
        episode = _normalised([episode_rewards[i] for i in members], scale, eps)
        returns = [discounted_returns(turn_rewards[i], gamma) for i in members]
        step = step_group_advantages(returns, [anchors[i] for i in members], scale, eps)
        advantages += [[a_e + step_weight * a_s for a_s in a_steps] for a_e, a_steps in zip(episode, step)]
    return advantages


def step_group_advantages(returns: list[list[float]], anchors: list[list[Hashable]], scale: str = "none",
                          eps: float = 1e-6) -> list[list[float]]:
    """GiGPO's step level for one group of episodes: A^S(a_t^i) = (R_t^i - mean_{G^S(s_t^i)} R) / F_norm, the step
    group G^S(s) being every turn of every episode of the group taken from state s, whatever its turn index (a state
    an episode came back to counts each time). returns, anchors: per episode, per turn. Exercise of notebook 09."""
    step_groups = defaultdict(list)                                   # anchor state -> [(episode, turn)]
    for i, episode_anchors in enumerate(anchors):
        for t, anchor in enumerate(episode_anchors):
            step_groups[anchor].append((i, t))
    advantages = [[0.0] * len(r) for r in returns]
    for turns in step_groups.values():
        for (i, t), a in zip(turns, _normalised([returns[i][t] for i, t in turns], scale, eps)):
            advantages[i][t] = a
    return advantages
