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
term added to plain SFT, RPO plain SFT added to DPO. "nll" is that SFT term alone (fine-tuning on the chosen
answers, rejection-sampling fine-tuning when they are the policy's own right answers): the ablation that tells
which term of ORPO or RPO does the work (notebook 03, `experiments/03_which_term.py`).

Inputs are per-example log-probabilities of whole completions, shape (B,), from `sequence_logprobs`: the sum
log π(y|x) = Σ_t log π(y_t|x, y_<t) for DPO, RPO and KTO, the token mean (`average=True`) for IPO, SimPO and ORPO,
as TRL uses them. Every loss returns per-example losses (B,); the training loss is their mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from agentic_lab.policy_gradient import token_logprobs


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

    inputs (B,). ORPO has no reference model: it is SFT plus this term, L_ORPO = L_NLL + mean(L_OR).

    Our L_NLL differs from TRL's. `preference_loss("orpo")` takes it on the completion only, as the paper's Eq. 3:
    each chosen answer's token-mean NLL, averaged over answers. TRL's ORPOTrainer takes the token-mean
    cross-entropy of the whole chosen sequences, prompt tokens included, one mean over the batch's tokens: it also
    trains the model to write the prompts. The odds-ratio term is the same; `tests/test_preference.py` checks that
    ours with TRL's NLL equals TRL's whole loss on one batch, and that ours differs by exactly the two NLLs.
    Returns (losses, log_odds_ratio), each (B,)."""
    def log_odds(avg_logp):
        return avg_logp - torch.log(-torch.expm1(avg_logp))    # log(1 - e^a) = log(-expm1(a)): exact near a = 0
    log_odds_ratio = log_odds(pi_chosen_avg) - log_odds(pi_rejected_avg)
    return -beta * F.logsigmoid(log_odds_ratio), log_odds_ratio


def rpo_loss(pi_chosen: torch.Tensor, pi_rejected: torch.Tensor, ref_chosen: torch.Tensor, ref_rejected: torch.Tensor,
             chosen_tokens: torch.Tensor, beta: float = 0.1, alpha: float = 1.0):
    """DPO plus the negative log-likelihood of the chosen answers (iterative RPO, Pang et al. 2024):

        L_RPO = L_DPO + α · (-Σ_i log π(y_c,i|x_i) / Σ_i |y_c,i|)

    the NLL being a token mean over all the batch's chosen tokens, as TRL's `loss_type=["sigmoid", "sft"]` with
    `loss_weights=[1, α]` computes it. Inputs (B,) summed log-probs as for `dpo_loss`; chosen_tokens (B,) the
    chosen answers' lengths. Returns (losses, chosen rewards, rejected rewards), each (B,)."""
    losses, chosen_rewards, rejected_rewards = dpo_loss(pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta)
    nll = -pi_chosen.sum() / chosen_tokens.sum()
    return losses + alpha * nll, chosen_rewards, rejected_rewards


# --- training on preference pairs ---------------------------------------------------------------------------
LOSSES = ("dpo", "ipo", "simpo", "orpo", "kto", "rpo", "nll")


def encode_pairs(tokenizer, prompts: list[list[dict]], chosen: list[str], rejected: list[str],
                 prefixes: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Right-padded (2B, T) input_ids, attention_mask and completion_mask: rows [0, B) are prompt + chosen,
    rows [B, 2B) prompt + rejected. The completion is the assistant message, closing token included.

    With `prefixes` the pairs are *steps* (Step-DPO): the assistant message starts with the shared prefix
    (the steps before, not trained on), and the completion is only the next step."""
    rows = []
    for answers in (chosen, rejected):
        for i, (prompt, answer) in enumerate(zip(prompts, answers)):
            start = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_dict=False)
            if prefixes is None:
                full = tokenizer.apply_chat_template(prompt + [{"role": "assistant", "content": answer}],
                                                     return_dict=False)
            else:
                start = start + tokenizer(prefixes[i], add_special_tokens=False)["input_ids"]
                full = start + tokenizer(answer, add_special_tokens=False)["input_ids"]
            rows.append((full, len(start)))
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id)
    attention, completion = torch.zeros_like(input_ids), torch.zeros_like(input_ids)
    for i, (ids, start) in enumerate(rows):
        input_ids[i, :len(ids)], attention[i, :len(ids)], completion[i, start:len(ids)] = torch.tensor(ids), 1, 1
    return {"input_ids": input_ids, "attention_mask": attention, "completion_mask": completion}


def preference_loss(loss: str, policy, reference, batch: dict[str, torch.Tensor], beta: float) -> tuple:
    """One of the family's losses on an `encode_pairs` batch. Returns (mean loss, chosen rewards, rejected rewards),
    the rewards being each method's implicit reward (for ORPO and "nll", the token-mean log-prob; "nll" never looks
    at the rejected answers, whose reward is NaN), for plotting."""
    n = batch["input_ids"].shape[0] // 2
    if loss == "nll":     # ORPO's supervised term alone; the wrong answers play no part, so only the chosen rows run
        pi = sequence_logprobs(policy, *(batch[k][:n] for k in ("input_ids", "attention_mask", "completion_mask")),
                               average=True)
        return -pi.mean(), pi.detach(), torch.full_like(pi, float("nan")).detach()
    average = loss in ("ipo", "simpo", "orpo")                   # these use token-mean log-probs (as TRL)
    pi = sequence_logprobs(policy, batch["input_ids"], batch["attention_mask"], batch["completion_mask"], average)
    if reference is not None:
        with torch.no_grad():
            ref = sequence_logprobs(reference, batch["input_ids"], batch["attention_mask"], batch["completion_mask"],
                                    average)
    if loss == "dpo":
        losses, r_c, r_r = dpo_loss(pi[:n], pi[n:], ref[:n], ref[n:], beta)
    elif loss == "rpo":
        chosen_tokens = batch["completion_mask"][:n, 1:].sum(dim=1)   # the tokens sequence_logprobs scores
        losses, r_c, r_r = rpo_loss(pi[:n], pi[n:], ref[:n], ref[n:], chosen_tokens, beta)
    elif loss == "ipo":
        losses = ipo_loss(pi[:n], pi[n:], ref[:n], ref[n:], beta)
        r_c, r_r = (beta * (pi[:n] - ref[:n])).detach(), (beta * (pi[n:] - ref[n:])).detach()
    elif loss == "simpo":
        losses, r_c, r_r = simpo_loss(pi[:n], pi[n:], beta)
    elif loss == "orpo":
        odds, _ = orpo_loss(pi[:n], pi[n:], beta)
        nll = -pi[:n]                   # SFT on each chosen answer's completion tokens (token mean); TRL differs
        losses, r_c, r_r = nll + odds, pi[:n].detach(), pi[n:].detach()
    elif loss == "kto":
        # unpaired: every chosen answer is "desirable", every rejected one not; the KL reference point uses
        # mismatched pairs, answer j under prompt i, here the other half's answers rolled by one row
        desirable = torch.arange(2 * n) < n
        with torch.no_grad():
            mismatched = _mismatched(batch, n)
            kl_pi = sequence_logprobs(policy, mismatched["input_ids"], mismatched["attention_mask"],
                                      mismatched["completion_mask"])
            kl_ref = sequence_logprobs(reference, mismatched["input_ids"], mismatched["attention_mask"],
                                       mismatched["completion_mask"])
        losses, rewards = kto_loss(pi, ref, desirable, kl_pi, kl_ref, beta)
        r_c, r_r = rewards[:n], rewards[n:]
    else:
        raise ValueError(f"loss must be one of {LOSSES}, not {loss!r}")
    return losses.mean(), r_c, r_r


def _mismatched(batch: dict[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    """Each row's prompt with the previous row's completion, (x_i, y_{i-1}) (TRL's KTO does the same rotation)."""
    rows = []
    ids, attention, completion = batch["input_ids"], batch["attention_mask"].bool(), batch["completion_mask"].bool()
    for i in range(ids.shape[0]):
        j = (i - 1) % ids.shape[0]
        prompt, answer = ids[i][attention[i] & ~completion[i]], ids[j][completion[j]]
        rows.append((torch.cat([prompt, answer]), len(prompt)))
    width = max(len(r) for r, _ in rows)
    out = {k: torch.zeros((len(rows), width), dtype=torch.long) for k in ("input_ids", "attention_mask", "completion_mask")}
    for i, (r, start) in enumerate(rows):
        out["input_ids"][i, :len(r)], out["attention_mask"][i, :len(r)], out["completion_mask"][i, start:len(r)] = r, 1, 1
    return out


def preference_train(loss: str, policy, reference, tokenizer, prompts: list[list[dict]], chosen: list[str],
                     rejected: list[str], prefixes: list[str] | None = None, epochs: int = 1, batch_size: int = 32,
                     lr: float = 5e-5, beta: float = 0.1, seed: int = 0, progress: bool = True) -> list[dict]:
    """Train `policy` in place on preference pairs with one of `LOSSES`. Returns per step the loss and the mean
    implicit rewards of the chosen and the rejected answers."""
    from tqdm.auto import tqdm
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr, weight_decay=0.0)
    order = torch.cat([torch.randperm(len(chosen), generator=generator) for _ in range(epochs)])
    history = []
    policy.train()
    for idx in tqdm(order.split(batch_size), desc=loss, disable=not progress):
        batch = encode_pairs(tokenizer, [prompts[i] for i in idx], [chosen[i] for i in idx], [rejected[i] for i in idx],
                             None if prefixes is None else [prefixes[i] for i in idx])
        value, r_c, r_r = preference_loss(loss, policy, reference, batch, beta)
        value.backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"loss": value.item(), "chosen_reward": r_c.mean().item(), "rejected_reward": r_r.mean().item(),
                        "reward_accuracy": (r_c > r_r).float().mean().item()})
    policy.eval()
    return history


def step_pairs(tasks, responses: list[str]) -> list[dict]:
    """Step-DPO (Lai et al. 2024) pairs from wrong multi-step answers: find the first step that differs from the
    reference solution's, and prefer the right step to the wrong one *after the same correct prefix*.

    A step is one equation of the <think> scratchpad ("3*5=15"). Returns dicts with prompt (messages), prefix
    (the assistant text before the step), chosen and rejected (the two versions of that step)."""
    import re
    pairs = []
    for task, response in zip(tasks, responses):
        reference = task.solution[-1].get("reasoning_content", "").split()
        found = re.match(r"<think>([^<]*)</think>", response)
        steps = found.group(1).split() if found else []
        for k, (mine, right) in enumerate(zip(steps, reference)):
            if mine != right:
                pairs.append({"prompt": task.messages(), "prefix": "<think>" + "".join(s + " " for s in reference[:k]),
                              "chosen": right, "rejected": mine})
                break
    return pairs
