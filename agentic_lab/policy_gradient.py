"""The policy gradient, and the pieces every method built on it shares (PPO, the GRPO family, RLOO, DPO's log-probs).

A policy π_θ writes a completion y ~ π_θ(·|x) token by token and receives a reward R(x, y). The gradient of the
expected reward needs no derivative of R, only of log π_θ (the log-derivative trick, ∇π = π ∇log π):

    ∇_θ E_{y~π_θ}[R(y)] = E_{y~π_θ}[R(y) ∇_θ log π_θ(y)],       log π_θ(y) = Σ_t log π_θ(y_t | x, y_<t)

REINFORCE estimates it with samples. Subtracting a baseline b that does not depend on y leaves it unbiased,
since E[b ∇log π_θ(y)] = b ∇Σ_y π_θ(y) = b ∇1 = 0, and a good b (close to E[R]) removes most of its variance:

    ĝ = 1/N Σ_i (R_i - b) ∇_θ log π_θ(y_i),     A_i = R_i - b is the advantage         # reinforce_surrogate

The methods of notebooks 02-06 are all this estimator with a choice of b and a guard against too large a step:

    RLOO    b = the mean reward of the other G-1 completions of the same prompt (leave-one-out)
    GRPO    b = the group mean, and A divided by the group's std; a clipped ratio for several steps per batch
    PPO     b = V_φ(state), a learned value per token, and GAE to mix rewards and values over time

Reusing a batch for more than one gradient step makes the samples come from an older policy π_old; the importance
ratio ρ = π_θ / π_old corrects for it and PPO's clip keeps ρ near 1 (`clipped_surrogate`). Sampling at a
temperature T means the policy that acts is softmax(logits / T), so every log-prob below takes the same T.
"""
from __future__ import annotations

import torch
from transformers import DynamicCache

from agentic_lab.vision import images_in, pixel_inputs, to_pixels


def next_token_logprobs(logits: torch.Tensor, token_ids: torch.Tensor,
                        temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """From a forward pass over token_ids (B, T) with logits (B, T, V): log π(x_t | x_<t) for t ≥ 1, (B, T-1),
    and the whole next-token log-distribution, (B, T-1, V), with π = softmax(logits / T). The one place the shift
    by one is done, and the one place the temperature enters, as in the sampler (rollout.sample_next) and TRL."""
    logp = torch.log_softmax(logits[:, :-1].float() / temperature, dim=-1)
    return logp.gather(2, token_ids[:, 1:, None]).squeeze(2), logp


def token_logprobs(model, token_ids: torch.Tensor, attention_mask: torch.Tensor,
                   temperature: float = 1.0) -> torch.Tensor:
    """log π_θ(x_t | x_<t) for every position t ≥ 1: (B, T) ids -> (B, T-1) log-probs, with gradient."""
    logits = model(input_ids=token_ids, attention_mask=attention_mask).logits       # (B, T, V)
    return next_token_logprobs(logits, token_ids, temperature)[0]


def batch_logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Logits (B, T, V) over every row of a `collate_trajectories` batch, with gradient.

    The G episodes of a GRPO group start from the same prompt, often most of each sequence. When the batch was
    collated with group_size G, each group's common prefix (batch["prefix_length"], P_k tokens) is forwarded once
    and its keys and values are repeated for the group's rows, whose own tokens are then forwarded on top of it,
    as the rollout's prefill does with a shared prompt. The logits equal one plain forward over every row (the
    test checks them and their gradients); the forward and backward skip G-1 of every G copies of the prefix.
    Row layout of the two forwards, W = max P_k, S = the longest row's own part:

        prefix forward (K, W):      [pad | prefix_k]              positions 0..P_k-1, pads masked
        rows' forward (B, S):       [own tokens | pad]            positions P_k.., attending to [pad | prefix_k]

    A batch with images (batch["images"]) gives each forward the images of the tokens it feeds.
    """
    ids, attention = batch["input_ids"], batch["attention_mask"]
    images = batch.get("images") or [[] for _ in ids]                           # per row: (start, pixels)
    prefix = batch.get("prefix_length")                                         # (B,), or absent
    if prefix is None or int(prefix.min()) == 0:
        return logits_by_length(model, ids, attention, images)
    G = batch["group_size"]
    (B, T), K = ids.shape, ids.shape[0] // G
    P = prefix[::G]                                                             # (K,) P_k
    W, S = int(P.max()), T - int(P.min())
    prefix_ids = torch.zeros((K, W), dtype=torch.long)         # padding: masked out, any id will do
    prefix_mask = torch.zeros((K, W), dtype=torch.long)
    for k, p in enumerate(P.tolist()):
        prefix_ids[k, W - p:], prefix_mask[k, W - p:] = ids[k * G, :p], 1
    cache = DynamicCache()
    prefix_logits = model(input_ids=prefix_ids, attention_mask=prefix_mask, cache=cache, use_cache=True,
                          position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0),
                          **pixel_inputs([images_in(images[k * G], 0, p) for k, p in enumerate(P.tolist())])
                          ).logits                                                                  # (K, W, V)
    cache.batch_repeat_interleave(G)                                            # (K, ...) -> (B, ...) keys, values
    lengths = attention.sum(1)                                                  # (B,) real tokens per row
    own_ids = torch.zeros((B, S), dtype=torch.long)
    own_mask = torch.zeros((B, S), dtype=torch.long)
    for i, (p, n) in enumerate(zip(prefix.tolist(), lengths.tolist())):
        own_ids[i, :n - p], own_mask[i, :n - p] = ids[i, p:n], 1
    own_logits = model(input_ids=own_ids, attention_mask=torch.cat([prefix_mask.repeat_interleave(G, 0), own_mask], 1),
                       position_ids=prefix[:, None] + torch.arange(S), cache=cache, use_cache=True,
                       **pixel_inputs([images_in(row, p, T) for row, p in zip(images, prefix.tolist())])
                       ).logits                                                                     # (B, S, V)
    joined = torch.cat([prefix_logits.repeat_interleave(G, 0), own_logits], 1)    # (B, W + S, V)
    # Row i's tokens sit at columns W - P_i .. W - P_i + n_i - 1 of `joined`: shift each row to start at 0.
    columns = ((W - prefix)[:, None] + torch.arange(T)).clamp(max=W + S - 1)    # (B, T)
    return joined.gather(1, columns[:, :, None].expand(-1, -1, joined.shape[2]))


ROWS_PER_FORWARD = 64   # rows of similar length forwarded together by logits_by_length


def logits_by_length(model, ids: torch.Tensor, attention: torch.Tensor, images: list) -> torch.Tensor:
    """Logits (B, T, V) of right-padded rows that share no prefix, with gradient: the rows sorted by length and
    forwarded ROWS_PER_FORWARD at a time, each forward cut to its longest row. A row's padding is never attended to,
    so its real tokens get the logits of one forward over the whole batch (the test checks them and their
    gradients) without the compute spent on padding: rows played with a fresh context each turn (MEM1, notebook
    11) vary in length from tens to hundreds of tokens, and half of one such batch was padding. Positions past a
    row's length get logits 0, which every loss masks out."""
    B, T = ids.shape
    lengths = attention.sum(1)                                                  # (B,) real tokens per row
    order = torch.argsort(lengths, stable=True)
    pieces = []
    for rows in order.split(ROWS_PER_FORWARD):
        width = int(lengths[rows].max())
        logits = model(input_ids=ids[rows, :width], attention_mask=attention[rows, :width],
                       **pixel_inputs([images_in(images[i], 0, width) for i in rows.tolist()])).logits  # (b, width, V)
        pieces.append(torch.nn.functional.pad(logits, (0, 0, 0, T - width)))
    return torch.cat(pieces)[torch.argsort(order)]                             # back to the batch's row order


@torch.no_grad()
def logprobs_and_entropy(model, batch: dict[str, torch.Tensor],
                         temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log π(x_t) and entropy H(π(·|x_<t)) = -Σ_v π(v) log π(v): both (B, T-1), no gradient."""
    chosen, logp = next_token_logprobs(batch_logits(model, batch), batch["input_ids"], temperature)  # (B, T-1), (B, T-1, V)
    return chosen, -(logp.exp() * logp).sum(-1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Σ m·x / Σ m over all tokens of the batch (0 for an empty mask)."""
    return (x * mask).sum() / mask.sum().clamp(min=1)


def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, epsilon_low: float,
                      epsilon_high: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-token PPO objective, negated to be minimised:

        ℓ = -min(ρ A, clip(ρ, 1-ε_low, 1+ε_high) A)

    ratio ρ and advantages A broadcast together. Also returns where the clip binds (the token then gets no
    gradient): ρ < 1-ε_low with A < 0, and ρ > 1+ε_high with A > 0. At ρ = 1 its gradient is REINFORCE's."""
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + epsilon_high)
    loss = -torch.min(ratio * advantages, clipped * advantages)
    return loss, (ratio < 1 - epsilon_low) & (advantages < 0), (ratio > 1 + epsilon_high) & (advantages > 0)


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


def collate_trajectories(trajectories, pad_id: int, group_size: int = 1) -> dict[str, torch.Tensor]:
    """Right-pad: input_ids and attention_mask (B, T); aligned with the predictions of x_1..x_T, each (B, T-1):
    loss_mask; retrieved_mask, 1 on the retrieved text inside observations (`Trajectory.retrieved`); sampler_logprobs,
    the log-probs the sampler recorded (0 where it did not sample); and episode_end, 1 at the last token the policy
    wrote in each episode (the end signal GAE needs: a 0 in the loss mask is an observation between turns, not the
    end of the episode). With group_size G > 1 (G consecutive episodes per
    task), also prefix_length (B,): the number of first tokens all of the row's group share, which
    `batch_logits` forwards once per group (at most the group's shortest length - 1: each row keeps a token; and
    before the first image the group's rows do not share, since equal placeholders may stand for other pixels).
    Episodes with images (`Trajectory.images`) add images: per row, (position of its first placeholder, pixels)."""
    width = max(len(t.token_ids) for t in trajectories)
    ids = torch.full((len(trajectories), width), pad_id, dtype=torch.long)
    attention = torch.zeros_like(ids)
    mask = torch.zeros_like(ids, dtype=torch.float)
    sampler = torch.zeros_like(ids, dtype=torch.float)
    retrieved = torch.zeros_like(ids, dtype=torch.float)
    for i, t in enumerate(trajectories):
        ids[i, :len(t.token_ids)] = torch.tensor(t.token_ids)
        attention[i, :len(t.token_ids)] = 1
        mask[i, :len(t.loss_mask)] = torch.tensor(t.loss_mask, dtype=torch.float)
        for a, b in t.retrieved:
            retrieved[i, a:b] = 1.0
        if t.logprobs is not None:
            sampler[i, :len(t.logprobs)] = torch.tensor(t.logprobs, dtype=torch.float)
    loss_mask = mask[:, 1:]
    batch = {"input_ids": ids, "attention_mask": attention, "loss_mask": loss_mask, "retrieved_mask": retrieved[:, 1:],
             "sampler_logprobs": sampler[:, 1:], "episode_end": last_masked_token(loss_mask)}
    if any(t.images for t in trajectories):
        batch["images"] = [[(image["start"], to_pixels(image["pixels"])) for image in t.images] for t in trajectories]
    if group_size > 1:
        batch["group_size"] = group_size
        batch["prefix_length"] = torch.tensor([shared_prefix_length(trajectories[k:k + group_size])
                                               for k in range(0, len(trajectories), group_size)]
                                              ).repeat_interleave(group_size)
    return batch


def shared_prefix_length(group) -> int:
    """How many first tokens, and the images among them, all of a group's trajectories share."""
    n = common_prefix_length([t.token_ids for t in group])
    for k, image in enumerate(group[0].images):
        if image["start"] >= n:
            break
        if any(len(t.images) <= k or t.images[k] != image for t in group[1:]):
            return image["start"]
    return n


def common_prefix_length(sequences: list[list[int]]) -> int:
    """How many first tokens all sequences share, at most the shortest length - 1."""
    shortest = min(len(s) for s in sequences) - 1
    n = 0
    while n < shortest and all(s[n] == sequences[0][n] for s in sequences):
        n += 1
    return n


def last_masked_token(mask: torch.Tensor) -> torch.Tensor:
    """(B, T) mask -> (B, T) float, 1 at each row's last position where mask = 1 (all 0 for an empty row)."""
    positions = torch.arange(mask.shape[1], device=mask.device)
    last = (mask.bool() * (positions + 1)).argmax(dim=1)                   # (B,) index of the last real token
    end = torch.zeros_like(mask, dtype=torch.float)
    end[torch.arange(mask.shape[0]), last] = 1.0
    return end * mask.bool().any(dim=1, keepdim=True)


# --- The REINFORCE estimator, measured (notebook 02, section 1) ---------------------------------------------------
def reinforce_surrogate(token_logprobs: torch.Tensor, mask: torch.Tensor, rewards: torch.Tensor,
                        baseline: torch.Tensor | float = 0.0) -> torch.Tensor:
    """The REINFORCE loss from per-token log-probs, one scalar reward per answer:

        L = -1/N Σ_i (R_i - b_i) Σ_t m_t log π_θ(y_i,t)

    token_logprobs, mask: (N, T), right-padded (log π_θ(y_i) is the masked *sum*: the answer's probability is
    the product of its tokens'); rewards (N,); baseline b: a number or (N,), held fixed. -∇L is the estimate ĝ."""
    advantages = torch.as_tensor(rewards - baseline).detach()
    return -(advantages * (token_logprobs * mask).sum(1)).mean()


def leave_one_out_baseline(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """b_i = mean reward of the other G-1 answers to the same prompt; rewards (K·G,), grouped consecutively."""
    groups = rewards.view(-1, group_size)                                         # (K, G)
    return ((groups.sum(1, keepdim=True) - groups) / (group_size - 1)).reshape(-1)


def gradient_variance(model, batch: dict[str, torch.Tensor], rewards: torch.Tensor, group_size: int,
                      baselines: list[float], blocks: int = 4) -> dict[str, torch.Tensor]:
    """How noisy is the REINFORCE estimate ĝ = -∇ reinforce_surrogate, with no baseline, a constant one, or the
    leave-one-out baseline?

    batch: collate_trajectories of K·G answers, G = group_size consecutive rows per prompt; each prompt's G answers
    are one small batch, so there are K independent estimates ĝ_1..ĝ_K of the same gradient. Their noise, summed
    over every parameter of the model, is the trace of ĝ's covariance, Var[ĝ] = E‖ĝ - E ĝ‖². A constant baseline b
    changes ĝ_k by -b s_k, with s_k = 1/G Σ_i ∇log π_θ(y_i), so Var[ĝ(b)] = A - 2bB + b²C is a parabola in b, known
    for every b from three traces (A = Var[ĝ(0)], B = Cov[ĝ(0), s], C = Var[s]); its minimum is at b* = B / C.

    Returns tensors: "variance" (len(baselines),) = Var[ĝ(b)] at each constant b, "loo" () = Var[ĝ] with the
    leave-one-out baseline, "best_b" () = b*, each with a standard error ("variance_se", "loo_se", "best_b_se")
    from the spread over `blocks` disjoint blocks of prompts (each block's traces are unbiased: k/(k-1) times the
    mean of ‖x‖² minus ‖mean x‖²). The K gradients are never stored: each block keeps running sums."""
    params = [p for p in model.parameters() if p.requires_grad]
    K = len(rewards) // group_size
    if K < 2 * blocks:
        raise ValueError(f"need at least {2 * blocks} prompts for {blocks} blocks, got {K}")
    loo = leave_one_out_baseline(rewards, group_size)
    stats = [dict(n=0, u=0.0, s=0.0, l=0.0, uu=0.0, us=0.0, ss=0.0, ll=0.0) for _ in range(blocks)]
    for k in range(K):
        rows = slice(k * group_size, (k + 1) * group_size)
        logprobs = token_logprobs(model, batch["input_ids"][rows], batch["attention_mask"][rows])   # (G, T-1)

        def estimate(baseline):  # ĝ_k, flat over all parameters (float64)
            loss = reinforce_surrogate(logprobs, batch["loss_mask"][rows], rewards[rows], baseline)
            grads = torch.autograd.grad(loss, params, retain_graph=True)
            return -torch.cat([g.reshape(-1) for g in grads]).double()

        u = estimate(0.0)                                   # ĝ_k(0)
        s = u - estimate(1.0)                               # s_k = ĝ_k(0) - ĝ_k(1)
        l = estimate(loo[rows])                             # ĝ_k(leave-one-out)
        st = stats[k * blocks // K]
        st["n"] += 1
        st["u"], st["s"], st["l"] = st["u"] + u, st["s"] + s, st["l"] + l
        st["uu"] += u.dot(u).item(); st["us"] += u.dot(s).item(); st["ss"] += s.dot(s).item()
        st["ll"] += l.dot(l).item()
    b = torch.tensor(baselines, dtype=torch.float64)
    per_block = {"variance": [], "loo": [], "best_b": []}
    for st in stats:
        n = st["n"]
        cov = lambda xy, x, y: n / (n - 1) * (st[xy] / n - (st[x] / n).dot(st[y] / n).item())
        A, B, C = cov("uu", "u", "u"), cov("us", "u", "s"), cov("ss", "s", "s")
        per_block["variance"].append(A - 2 * b * B + b ** 2 * C)
        per_block["loo"].append(torch.tensor(cov("ll", "l", "l"), dtype=torch.float64))
        per_block["best_b"].append(torch.tensor(B / C, dtype=torch.float64))
    result = {}
    for name, values in per_block.items():
        values = torch.stack(values)                        # (blocks, ...)
        result[name], result[name + "_se"] = values.mean(0), values.std(0) / blocks ** 0.5
    return result
