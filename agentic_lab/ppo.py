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

The KL to π_ref is estimated from samples of π_θ with one of Schulman's estimators (kl_k1, kl_k2, kl_k3).
Tensors are (B, T) over completion tokens, right-padded, with mask m = 1 on real tokens.
"""
from __future__ import annotations

import torch
from torch import nn
from tqdm.auto import tqdm


def next_token_logprobs(logits: torch.Tensor, token_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """From a forward pass over token_ids (B, T) with logits (B, T, V): log π(x_t | x_<t) for t ≥ 1, (B, T-1),
    and the whole next-token log-distribution, (B, T-1, V). The one place the shift by one is done."""
    logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    return logp.gather(2, token_ids[:, 1:, None]).squeeze(2), logp


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ m·x / Σ m over all tokens of the batch (0 for an empty mask)."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


@torch.no_grad()
def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation, computed backwards in time:

        δ_t = r_t + γ V_{t+1} - V_t
        A_t = δ_t + γλ A_{t+1} = Σ_l (γλ)^l δ_{t+l}
        R_t = A_t + V_t

    rewards, values, mask: (B, T), right-padded. After the last real token V_{t+1} = A_{t+1} = 0 (the episode
    has ended), and advantages and returns are 0 on padding. Returns (advantages, returns), each (B, T)."""
    mask = mask.to(rewards.dtype)
    advantages = torch.zeros_like(rewards)
    next_value = torch.zeros_like(rewards[:, 0])           # (B,)
    next_advantage = torch.zeros_like(rewards[:, 0])       # (B,)
    for t in reversed(range(rewards.shape[1])):
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        advantages[:, t] = (delta + gamma * lam * next_advantage) * mask[:, t]
        next_value = values[:, t] * mask[:, t]             # a padded step has no value to bootstrap from
        next_advantage = advantages[:, t]
    returns = (advantages + values) * mask
    return advantages, returns


def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, epsilon_low: float,
                      epsilon_high: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token PPO objective, negated to be minimised:

        ℓ = -min(ρ A, clip(ρ, 1-ε_low, 1+ε_high) A)

    ratio ρ and advantages A broadcast together. Also returns where the clip binds (the token then gets no
    gradient): ρ < 1-ε_low with A < 0, and ρ > 1+ε_high with A > 0."""
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    loss = -torch.min(ratio * advantages, clipped * advantages)
    return loss, (ratio < 1 - epsilon_low) & (advantages < 0), (ratio > 1 + epsilon_high) & (advantages > 0)


def ppo_policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor,
                    mask: torch.Tensor, clip_eps: float = 0.2) -> tuple[torch.Tensor, torch.Tensor]:
    """Clipped surrogate averaged over masked tokens, ρ_t = exp(log π_θ(y_t) - log π_old(y_t)):

        L = -Σ m_t min(ρ_t A_t, clip(ρ_t, 1-ε, 1+ε) A_t) / Σ m_t

    All inputs (B, T). Returns (loss, clip_fraction): the fraction of tokens where the clip binds."""
    ratio = torch.exp(logprobs - old_logprobs)
    loss, low, high = clipped_surrogate(ratio, advantages, clip_eps, clip_eps)
    return masked_mean(loss, mask), masked_mean((low | high).to(loss.dtype), mask)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip_eps: float = 0.2) -> torch.Tensor:
    """Clipped value loss: the value may move at most ε from the one the rollout saw, or pay the larger error,

        V_clip = V_old + clip(V - V_old, -ε, ε)
        L = ½ Σ m_t max((V_t - R_t)², (V_clip,t - R_t)²) / Σ m_t

    All inputs (B, T)."""
    clipped = old_values + torch.clamp(values - old_values, -clip_eps, clip_eps)
    return 0.5 * masked_mean(torch.max((values - returns) ** 2, (clipped - returns) ** 2), mask)


# Schulman's estimators of KL(π || π_ref) from tokens sampled from π, with r = π_ref(y) / π(y) (per token).
def kl_k1(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """k1 = -log r = log π - log π_ref: unbiased, high variance, negative on some tokens."""
    return logprobs - ref_logprobs


def kl_k2(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """k2 = ½ (log r)²: biased, low variance, always ≥ 0."""
    return 0.5 * (ref_logprobs - logprobs) ** 2


def kl_k3(logprobs: torch.Tensor, ref_logprobs: torch.Tensor) -> torch.Tensor:
    """k3 = (r - 1) - log r: unbiased, low variance, always ≥ 0 (since log r ≤ r - 1). GRPO's KL term."""
    log_r = ref_logprobs - logprobs
    return torch.exp(log_r) - 1 - log_r


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
              lam: float = 0.95, max_new_tokens: int = 64, gold_fn=None, seed: int = 0,
              progress: bool = True) -> list[dict]:
    """RLHF with PPO on single-answer environments (`TaskEnv(family, max_turns=1)`), in place.

    score_fn(tasks, responses) -> (B,) proxy rewards s(x, y), e.g. a learned reward model; gold_fn, if given,
    is measured on the same answers but never trained on. Returns per step: proxy score, gold, KL(π_θ || π_ref)
    per answer (Σ_t k1), clip fraction and value loss."""
    from agentic_lab.algorithms import token_logprobs       # imported here: algorithms builds on this module
    from agentic_lab.rl import collate_trajectories         # the same batching as the GRPO family
    from agentic_lab.rollout import rollout

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
            advantages, returns = gae(rewards, old_values, mask, gamma, lam)
            # whiten: advantages on a common scale across batches, as every PPO implementation does
            mean = masked_mean(advantages, mask)
            std = masked_mean((advantages - mean) ** 2, mask).sqrt()
            advantages = (advantages - mean) / (std + 1e-8) * mask
        policy.train()
        clip_fractions, value_losses = [], []
        for _ in range(ppo_epochs):
            for idx in torch.randperm(batch_size).split(minibatch_size):
                mb = {k: v[idx] for k, v in batch.items()}
                logprobs, values = _logprobs_values(policy, mb)
                pl, clip_fraction = ppo_policy_loss(logprobs, old_logprobs[idx], advantages[idx], mask[idx], clip_eps)
                vl = value_loss(values, old_values[idx], returns[idx], mask[idx], clip_eps)
                (pl + vf_coef * vl).backward()
                torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                clip_fractions.append(clip_fraction.item())
                value_losses.append(vl.item())
        record = {"step": step, "proxy": score.mean().item(),
                  "kl": (kl_k1(old_logprobs, ref_logprobs) * mask).sum(1).mean().item(),
                  "clip_fraction": sum(clip_fractions) / len(clip_fractions),
                  "value_loss": sum(value_losses) / len(value_losses)}
        if gold_fn is not None:
            record["gold"] = sum(gold_fn(t, r) for t, r in zip(tasks, responses)) / batch_size
        history.append(record)
    policy.eval()
    return history

