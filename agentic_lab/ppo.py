"""RLHF with PPO (Ouyang et al. 2022, InstructGPT), in equations. Every function below is one line of it.

A prompt x, a completion y = (y_1..y_T) sampled from the policy π_θ, a scalar score s(x, y) from a reward model,
and a frozen reference policy π_ref (the SFT model). Per-token rewards keep π_θ close to π_ref:

    r_t = -β (log π_θ(y_t) - log π_ref(y_t)) + [t = T] s(x, y)          # kl_penalised_rewards

A value head V_φ on the policy's hidden states predicts the return from each token. GAE turns rewards and
values into advantages, and the returns become the value targets:

    δ_t = r_t + γ V_{t+1} - V_t,    A_t = Σ_l (γλ)^l δ_{t+l},    R_t = A_t + V_t      # gae

Then a few epochs of minibatch steps on the clipped surrogate, with ρ_t = π_θ(y_t) / π_old(y_t):

    L_policy = -mean_t min(ρ_t A_t, clip(ρ_t, 1-ε, 1+ε) A_t)                          # ppo_policy_loss
    L_value  = ½ mean_t max((V_t - R_t)², (V_old,t + clip(V_t - V_old,t, -ε, ε) - R_t)²)  # value_loss
    L = L_policy + c_v L_value

The KL to π_ref is estimated from samples of π_θ with one of Schulman's estimators (policy_gradient.kl_k1, kl_k2, kl_k3).
Tensors are (B, T) over completion tokens, right-padded, with mask m = 1 on real tokens.
"""
from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm

from agentic_lab.policy_gradient import (clipped_surrogate, collate_trajectories, kl_k1, kl_k3, last_masked_token,
                                         masked_mean, next_token_logprobs, token_logprobs)
from agentic_lab.rollout import rollout


@torch.no_grad()
def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0, lam: float = 0.95,
        episode_end: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation, computed backwards in time over the tokens the policy wrote:

        δ_t = r_t + γ V_{t+1} - V_t
        A_t = δ_t + γλ A_{t+1} = Σ_l (γλ)^l δ_{t+l}
        R_t = A_t + V_t

    rewards, values, mask: (B, T), right-padded. "t+1" is the next token the policy wrote: positions where the
    mask is 0 inside an episode (a tool's output, the next user turn) are not actions, so credit flows through
    them unchanged. The episode ends where `episode_end` (B, T) is 1, by default at each row's last masked token:
    there V_{t+1} = A_{t+1} = 0. Advantages and returns are 0 wherever the mask is. Returns (advantages, returns)."""
    mask = mask.to(rewards.dtype)
    if episode_end is None:
        episode_end = last_masked_token(mask)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])           # (B,) V of the next action token
    next_advantage = torch.zeros_like(rewards[:, 0])       # (B,) A of the next action token
    for t in reversed(range(rewards.shape[1])):
        alive = 1.0 - episode_end[:, t].to(rewards.dtype)  # nothing follows the last token of an episode
        delta = rewards[:, t] + gamma * next_value * alive - values[:, t]
        advantage = delta + gamma * lam * next_advantage * alive
        advantages[:, t] = advantage * mask[:, t]
        acted = mask[:, t] > 0                             # observation tokens pass the next step's V and A on
        next_value = torch.where(acted, values[:, t], next_value)
        next_advantage = torch.where(acted, advantage, next_advantage)
    returns = (advantages + values) * mask
    return advantages, returns


def explained_variance(values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var[R - V] / Var[R] over the masked tokens: how much of the returns' variance the critic explains."""
    variance = lambda x: masked_mean((x - masked_mean(x, mask)) ** 2, mask)
    return (1 - variance(returns - values) / variance(returns).clamp(min=1e-8)).item()


def ppo_policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                    mask: torch.Tensor, clip_eps: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped surrogate averaged over masked tokens, ρ_t = exp(log π_θ(y_t) - log π_old(y_t)):

        L = -Σ m_t min(ρ_t A_t, clip(ρ_t, 1-ε, 1+ε) A_t) / Σ m_t

    All inputs (B, T). Returns (loss, clip_fraction): the fraction of tokens where the clip binds."""
    ratio = torch.exp(logprobs - old_logprobs)
    loss, low, high = clipped_surrogate(ratio, advantages, clip_eps, clip_eps)
    return masked_mean(loss, mask), masked_mean((low | high).to(loss.dtype), mask)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip_eps: float | None = 0.2) -> torch.Tensor:
    """Clipped value loss: the value may move at most ε from the one the rollout saw, or pay the larger error,

        V_clip = V_old + clip(V - V_old, -ε, ε)
        L = ½ Σ m_t max((V_t - R_t)², (V_clip,t - R_t)²) / Σ m_t

    All inputs (B, T). With clip_eps None it is the plain ½ Σ m_t (V_t - R_t)² / Σ m_t."""
    if clip_eps is None:
        return 0.5 * masked_mean((values - returns) ** 2, mask)
    clipped = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)
    return 0.5 * masked_mean(torch.max((values - returns) ** 2, (clipped - returns) ** 2), mask)


@torch.no_grad()
def kl_penalised_rewards(score: torch.Tensor, logprobs: torch.Tensor, ref_logprobs: torch.Tensor,
                         mask: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """Per-token rewards of classic RLHF: a KL penalty on every token, the reward model's score on the last,

        r_t = -β k1_t + [t = last completion token] s

    score (B,); logprobs, ref_logprobs, mask (B, T). Returns (B, T), 0 on padding."""
    mask = mask.to(logprobs.dtype)
    rewards = -kl_coef * kl_k1(logprobs, ref_logprobs) * mask
    positions = torch.arange(mask.shape[1], device=mask.device)
    last = (mask * positions).argmax(dim=1)                # (B,) index of each row's last real token
    rewards[torch.arange(len(score)), last] += score.to(rewards.dtype)
    return rewards


class PolicyWithValue(nn.Module):
    """A causal LM with a linear value head on its last hidden state: the actor and critic of PPO in one model.

        logits, values = PolicyWithValue(model)(input_ids, attention_mask)   # (B, T, V), (B, T)

    values[:, t] is V(x_≤t), the expected return after reading token t."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.value_head = nn.Linear(model.config.get_text_config().hidden_size, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        # detach: the critic reads the policy's features but does not train them. With a shared trunk the value
        # loss moved the tiny policy more than the reward did (KL 3.1 vs 0.6 nats in 20 steps, reward unchanged).
        hidden = out.hidden_states[-1].detach().to(self.value_head.weight.dtype)  # (B, T, H); fp32 head on a bf16 LM
        return out.logits, self.value_head(hidden).squeeze(-1)


def _logprobs_values(policy: PolicyWithValue, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """log π_θ(x_t | x_<t) and V(x_<t), both (B, T-1): position j is the state before token j+1 is written."""
    logits, values = policy(batch["input_ids"], batch["attention_mask"])
    return next_token_logprobs(logits, batch["input_ids"])[0], values[:, :-1]


def ppo_train(policy: PolicyWithValue, reference, tokenizer, make_env, score_fn, steps: int, batch_size: int = 32,
              kl_coef: float = 0.05, lr: float = 3e-5, value_lr: float = 1e-3, ppo_epochs: int = 2,
              minibatch_size: int = 16, clip_eps: float = 0.2, vf_coef: float = 0.5, gamma: float = 1.0,
              lam: float = 0.95, value_clip: float | None = 0.2, max_new_tokens: int = 64, gold_fn=None,
              seed: int = 0, progress: bool = True) -> list[dict]:
    """RLHF with PPO on single-answer environments (`TaskEnv(family, max_turns=1)`), in place.

    score_fn(tasks, responses) -> (B,) proxy rewards s(x, y), e.g. a learned reward model; gold_fn, if given,
    is measured on the same answers but never trained on. `value_clip` is the value loss's ε (None: plain squared
    error). Returns per step: proxy score, gold, KL(π_θ || π_ref) per answer (Σ_t k1), and CleanRL's diagnostics:
    approx_kl (KL(π_old || π_θ) per token, k3, over the minibatch steps: how far each update moved the policy),
    clip fraction, value loss, and explained variance 1 - Var[R - V] / Var[R] of the critic's values V on the
    batch's returns R (1: V predicts the return; 0: no better than a constant; < 0: worse)."""
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW([{"params": policy.model.parameters(), "lr": lr},
                                   {"params": policy.value_head.parameters(), "lr": value_lr}], weight_decay=0.0)
    history = []
    for step in tqdm(range(steps), desc="ppo", disable=not progress):
        envs = [make_env() for _ in range(batch_size)]
        seeds = [seed * 1_000_003 + step * batch_size + i for i in range(batch_size)]
        policy.eval()
        trajectories = rollout(policy.model, tokenizer, envs, seeds, max_new_tokens=max_new_tokens, seed=seeds[0])
        tasks, responses = [e.unwrapped.task for e in envs], [t.turns[0].text for t in trajectories]
        score = torch.as_tensor(score_fn(tasks, responses), dtype=torch.float)            # (B,)
        batch = collate_trajectories(trajectories, tokenizer.pad_token_id)
        mask = batch["loss_mask"]                                                        # (B, T-1)
        with torch.no_grad():
            old_logprobs, old_values = _logprobs_values(policy, batch)
            ref_logprobs = token_logprobs(reference, batch["input_ids"], batch["attention_mask"])
            rewards = kl_penalised_rewards(score, old_logprobs, ref_logprobs, mask, kl_coef)
            advantages, returns = gae(rewards, old_values, mask, gamma, lam, batch["episode_end"])
            # whiten: advantages on a common scale across batches, as every PPO implementation does
            mean = masked_mean(advantages, mask)
            std = masked_mean((advantages - mean) ** 2, mask).sqrt()
            advantages = (advantages - mean) / (std + 1e-8) * mask
        policy.train()
        clip_fractions, value_losses, approx_kls = [], [], []
        for _ in range(ppo_epochs):
            for idx in torch.randperm(batch_size).split(minibatch_size):
                mb = {k: v[idx] for k, v in batch.items()}
                logprobs, values = _logprobs_values(policy, mb)
                pl, clip_fraction = ppo_policy_loss(logprobs, old_logprobs[idx], advantages[idx], mask[idx], clip_eps)
                vl = value_loss(values, old_values[idx], returns[idx], mask[idx], value_clip)
                (pl + vf_coef * vl).backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                clip_fractions.append(clip_fraction.item())
                approx_kls.append(masked_mean(kl_k3(old_logprobs[idx], logprobs.detach()), mask[idx]).item())
                value_losses.append(vl.item())
        record = {"step": step, "proxy": score.mean().item(),
                  "kl": (kl_k1(old_logprobs, ref_logprobs) * mask).sum(1).mean().item(),
                  "approx_kl": sum(approx_kls) / len(approx_kls),
                  "clip_fraction": sum(clip_fractions) / len(clip_fractions),
                  "value_loss": sum(value_losses) / len(value_losses),
                  "explained_variance": explained_variance(old_values, returns, mask)}
        if gold_fn is not None:
            record["gold"] = sum(gold_fn(t, r) for t, r in zip(tasks, responses)) / batch_size
        history.append(record)
    policy.eval()
    return history

