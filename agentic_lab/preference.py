"""Preference learning: the reward-model loss and the DPO family, written out. Each function carries its equation.

The setting is a one-step MDP, a contextual bandit: the state is a prompt x, the action is a whole completion
y ~ π(·|x), the episode ends at once with reward r(x, y). There is no reward function to call, only pairs
(x, y_w, y_l) where a judge preferred y_w ("chosen") to y_l ("rejected"). Bradley–Terry models that judge as

    P(y_w ≻ y_l | x) = σ(r(x, y_w) - r(x, y_l))

RLHF fits r by maximum likelihood (`bradley_terry_loss`), then maximises E[r] - β KL(π || π_ref) with PPO.
DPO (Rafailov et al. 2023) skips both the reward model and the RL loop, in five lines:

    1. max_π E_{y~π}[r(x, y)] - β KL(π(·|x) || π_ref(·|x))   has the closed-form solution
    2. π*(y|x) = π_ref(y|x) exp(r(x, y) / β) / Z(x)           so, solving for r,
    3. r(x, y) = β log π*(y|x)/π_ref(y|x) + β log Z(x)        and Z(x) cancels in a difference:
    4. r(x, y_w) - r(x, y_l) = β log π(y_w|x)/π_ref(y_w|x) - β log π(y_l|x)/π_ref(y_l|x)
    5. L_DPO = -log σ(that difference): Bradley–Terry on the implicit reward r = β log π/π_ref.

The rest of the family changes one piece: IPO a squared loss with a fixed target margin, SimPO a reference-free
reward (length-normalised log π), KTO unpaired good/bad labels against a KL reference point, ORPO an odds-ratio
term added to plain SFT.

Inputs are per-example log-probabilities of whole completions, shape (B,), from `sequence_logprobs`: the sum
log π(y|x) = Σ_t log π(y_t|x, y_<t) for DPO and KTO, the token mean (`average=True`) for IPO, SimPO and ORPO,
as TRL uses them. Every loss returns per-example losses (B,); the training loss is their mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from agentic_lab.algorithms import token_logprobs


def sequence_logprobs(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, completion_mask: torch.Tensor,
                      average: bool = False) -> torch.Tensor:
    """log π(y|x) = Σ_t m_t log π(x_t | x_<t), or that sum divided by Σ_t m_t when `average`.

    input_ids, attention_mask, completion_mask: (B, T), the prompt followed by the completion, with m_t = 1 on the
    completion's tokens. Returns (B,)."""
    logps = token_logprobs(model, input_ids, attention_mask)      # (B, T-1): position t-1 scores token t
    mask = completion_mask[:, 1:].to(logps.dtype)                 # (B, T-1): the first token is never scored
    total = (logps * mask).sum(dim=1)                             # (B,)
    return total / mask.sum(dim=1).clamp(min=1) if average else total


def bradley_terry_loss(r_chosen: torch.Tensor, r_rejected: torch.Tensor, margin: torch.Tensor | None = None,
                       center_coef: float = 0.0) -> torch.Tensor:
    """Reward-model loss, the negative log-likelihood of the preference under Bradley–Terry:

        L = -log σ(r_c - r_r - margin) + center_coef (r_c + r_r)²

    r_chosen, r_rejected, margin: (B,). The optional margin asks for a larger gap on pairs the labeller marked as
    clearly better; rewards are only defined up to a constant, and the centring term (TRL's
    `center_rewards_coefficient`, Eisenstein et al. 2023) pins that constant near zero. Returns (B,)."""
    gap = r_chosen - r_rejected if margin is None else r_chosen - r_rejected - margin
    return -F.logsigmoid(gap) + center_coef * (r_chosen + r_rejected) ** 2


def dpo_loss(pi_chosen: torch.Tensor, pi_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float = 0.1, label_smoothing: float = 0.0):
    """DPO: Bradley–Terry on the implicit reward r = β log π(y|x)/π_ref(y|x),

        r_c = β (pi_chosen - ref_chosen),   r_r = β (pi_rejected - ref_rejected)
        L = -(1 - ε) log σ(r_c - r_r) - ε log σ(r_r - r_c)

    with sequence log-probs (token sums), all (B,). ε = label_smoothing is conservative DPO: the label is assumed
    flipped with probability ε, so the loss mixes in the swapped pair (ε = 0 is TRL's loss_type="sigmoid").
    Returns (losses, chosen_rewards, rejected_rewards), each (B,); the rewards are detached, for logging."""
    chosen_rewards = beta * (pi_chosen - ref_chosen)
    rejected_rewards = beta * (pi_rejected - ref_rejected)
    gap = chosen_rewards - rejected_rewards
    losses = -(1 - label_smoothing) * F.logsigmoid(gap) - label_smoothing * F.logsigmoid(-gap)
    return losses, chosen_rewards.detach(), rejected_rewards.detach()


def ipo_loss(pi_chosen_avg: torch.Tensor, pi_rejected_avg: torch.Tensor, ref_chosen_avg: torch.Tensor,
             ref_rejected_avg: torch.Tensor, beta: float = 0.1) -> torch.Tensor:
    """IPO (Azar et al. 2023, Eq. 17): regress the log-ratio gap onto a fixed target instead of pushing it to ∞,

        h = (pi_chosen_avg - ref_chosen_avg) - (pi_rejected_avg - ref_rejected_avg)
        L = (h - 1/(2β))²

    The inputs are token-MEAN log-probs (B,) (`sequence_logprobs(..., average=True)`), as TRL's loss_type="ipo":
    with token sums the squared loss would grow with completion length. β plays the paper's τ; a smaller β
    asks for a larger gap. Returns (B,)."""
    h = (pi_chosen_avg - ref_chosen_avg) - (pi_rejected_avg - ref_rejected_avg)
    return (h - 1 / (2 * beta)) ** 2


def simpo_loss(pi_chosen_avg: torch.Tensor, pi_rejected_avg: torch.Tensor, beta: float = 2.0, gamma: float = 0.5):
    """SimPO (Meng et al. 2024): no reference model; the reward is the length-normalised log-likelihood,

        r_c = β pi_chosen_avg,   r_r = β pi_rejected_avg
        L = -log σ(r_c - r_r - γ)

    inputs are token-mean log-probs (B,); γ is a target reward margin in reward units (TRL's `simpo_gamma`).
    TRL's CPOTrainer(loss_type="simpo") adds `cpo_alpha` × NLL on the chosen completions; pure SimPO sets
    cpo_alpha=0. Returns (losses, chosen_rewards, rejected_rewards), each (B,), rewards detached."""
    chosen_rewards = beta * pi_chosen_avg
    rejected_rewards = beta * pi_rejected_avg
    losses = -F.logsigmoid(chosen_rewards - rejected_rewards - gamma)
    return losses, chosen_rewards.detach(), rejected_rewards.detach()


def kto_loss(pi_logps: torch.Tensor, ref_logps: torch.Tensor, desirable: torch.Tensor, kl_pi_logps: torch.Tensor,
             kl_ref_logps: torch.Tensor, beta: float = 0.1, desirable_weight: float = 1.0,
             undesirable_weight: float = 1.0):
    """KTO (Ethayarajh et al. 2024, Eq. 7): unpaired examples, each labelled desirable or not, valued against a
    reference point z0 as in prospect theory,

        r  = pi_logps - ref_logps                          implicit reward / β, (B,)
        z0 = max(0, mean(kl_pi_logps - kl_ref_logps))      batch estimate of KL(π || π_ref), no gradient
        L  = λ_D (1 - σ(β (r - z0)))   if desirable
             λ_U (1 - σ(β (z0 - r)))   otherwise

    pi_logps, ref_logps: sequence log-probs (token sums) of each (x_i, y_i); desirable: (B,) bool.
    kl_pi_logps, kl_ref_logps: the same for mismatched pairs (x_i, y_j), j ≠ i — completions that were not
    written for their prompt, so their log-ratio estimates the KL without favouring any label (TRL pairs x_i with
    y_{i-1}, rotating the completions within the batch). Returns (losses, rewards), each (B,), rewards = β r
    detached."""
    r = pi_logps - ref_logps
    z0 = (kl_pi_logps - kl_ref_logps).mean().clamp(min=0).detach()
    losses = torch.where(desirable,
                         desirable_weight * (1 - torch.sigmoid(beta * (r - z0))),
                         undesirable_weight * (1 - torch.sigmoid(beta * (z0 - r))))
    return losses, beta * r.detach()


def orpo_loss(pi_chosen_avg: torch.Tensor, pi_rejected_avg: torch.Tensor, beta: float = 0.1):
    """ORPO's odds-ratio term (Hong et al. 2024, Eqs. 4 and 7). With p = exp(token-mean log-prob),

        log odds(y) = log p/(1 - p) = pi_avg - log(1 - exp(pi_avg))
        L_OR = -β log σ(log odds(y_c) - log odds(y_r))

    inputs (B,). ORPO has no reference model: it is SFT plus this term, L_ORPO = L_NLL + mean(L_OR), where TRL's
    ORPOTrainer takes L_NLL as the token-mean cross-entropy of the chosen sequences, prompt tokens included.
    Returns (losses, log_odds_ratio), each (B,)."""
    def log_odds(avg_logp):
        return avg_logp - torch.log(-torch.expm1(avg_logp))    # log(1 - e^a) = log(-expm1(a)): exact near a = 0
    log_odds_ratio = log_odds(pi_chosen_avg) - log_odds(pi_rejected_avg)
    return -beta * F.logsigmoid(log_odds_ratio), log_odds_ratio
