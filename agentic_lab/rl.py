"""Reinforcement learning with group-relative advantages: the loop every GRPO-family notebook runs.

    for each step:
        trajectories = rollout(π_old, environments, group seeds)      # G episodes per task (group), at temperature T
        r_i = reward of episode i (+ DAPO's overlong penalty)
        DAPO's dynamic sampling, if on: keep the groups whose rewards differ, sample more groups until
            n_groups are kept (at most max_sampling_rounds rollouts)
        RAGEN's variance filter, if on: keep the fraction of groups whose rewards spread the most
        A_i = group-relative advantage of r_i                        # algorithms.group_advantages / rloo_advantages
              or, per turn t of a multi-turn episode (`credit`):   GiGPO's A^E_i + ω A^S_{i,t}, or GAE over turns
        repeat μ times:                                              # μ = num_iterations
            L(θ) = grpo_loss(log π_θ, log π_old, A, mask)             # algorithms.grpo_loss (rloo_loss for RLOO)
            θ ← θ - η ∇L

An episode is anything an environment defines: one answer to a prompt (`TaskEnv(family, max_turns=1)`,
notebooks 04 and 05) or many turns of tool calls (notebook 06 onwards). The loss mask covers exactly the
tokens the policy wrote, so prompts, observations and tool outputs are never trained on; `mask_retrieved=False`
is the one exception, for notebook 10's experiment: a search's retrieved documents are trained on as if the
policy had written them (what Search-R1's masking of retrieved tokens guards against). Log-probs are taken
at the sampling temperature T, so π_old is the distribution the tokens were really drawn from. π_old costs no
forward of its own: the first gradient forward, detached, is π_old (the weights have not moved yet).

Credit over turns (notebook 09). With `credit="episode"` every token of episode i gets A_i, whatever turn it is in.
`credit="gigpo"` adds GiGPO's step-level advantage: turns taken from the same state (`Turn.state`, the one the
environment names; else the observation) in the group's episodes are compared by their discounted returns
(`algorithms.gigpo_advantages`). `credit="critic"` learns a value V(s_t) of the state before each turn (a linear
head on the policy's last hidden state, detached, as in `ppo.PolicyWithValue`) and takes GAE over turns,
δ_t = r_t + γ V(s_{t+1}) - V(s_t), the episode's end being where the environment ended it, not where the loss mask
does. `credit="turn"` credits each turn with its own reward alone, against the turns of the same attempt in the
group's other episodes (notebook 12: SCoRe's two attempts, each answered for itself, so a bonus on the second attempt
does not reach back into the first). Either way a turn's advantage is shared by its tokens.

Each step also records the diagnostics that tell the variants apart: policy entropy (on the first rollout of the
step, the same footing for every variant), the mean length of right and of wrong answers, the fraction of
zero-spread groups, the mean within-group reward spread, the tool calls per episode, the clip fractions, the
gradient's norm before clipping, the wall-clock seconds since training began, and with `track_kl` the KL to the
initial policy even when β = 0 keeps it out of the loss.

Where episodes are played (notebook 19). In this process by default. `rollout_workers=N` hands each step's groups to
N Ray actors holding copies of the policy, refreshed after every update (`agentic_lab.distributed`).
`async_rollouts=True` starts step t+1's episodes before step t's update, so the workers play them with the weights
one update behind while the learner trains; `sampler_is_cap` then reweighs each token from that stale sampler to
π_old, w = min(π_old / π_sampler, cap) (truncated importance sampling, `algorithms.truncated_importance_weights`).
Launched by torchrun as P processes, each plays its own block of tasks and every gradient is averaged over the P
(data-parallel learners, `distributed.average_gradients`).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import torch
from torch import nn
from tqdm.auto import tqdm

from agentic_lab.algorithms import (gigpo_advantages, group_advantages, grpo_loss, overlong_penalty, rloo_advantages,
                                    rloo_loss, step_group_advantages, top_spread_groups, truncated_importance_weights,
                                    zero_spread_groups)
from agentic_lab.distributed import RolloutWorkers, average_gradients, data_parallel, global_token_count
from agentic_lab.policy_gradient import (batch_logits, collate_trajectories, kl_k1, kl_k3, logprobs_and_entropy,
                                         masked_mean, next_token_logprobs)
from agentic_lab.ppo import explained_variance, gae
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.trajectory import Trajectory, split_contexts, turn_spans
from agentic_lab.vision import pixel_inputs

CREDITS = ("episode", "gigpo", "critic", "turn")


@dataclass
class RLConfig:
    """The knobs of the GRPO family, named as in TRL's GRPOConfig (RLOOConfig for "rloo") where TRL has them."""
    n_groups: int = 8                   # prompts (tasks) per step
    group_size: int = 8                 # G, episodes per prompt (TRL: num_generations)
    lr: float = 2e-5
    temperature: float = 1.0            # sampling temperature; the loss's log-probs use the same T
    max_new_tokens: int = 96            # per message (TRL: max_completion_length)
    loss_type: str = "grpo"             # "grpo", "bnpo", "dr_grpo", "dapo", or "rloo" (TRL's RLOOTrainer)
    scale_rewards: str = "group"        # "group", "batch" or "none" (Dr. GRPO); RLOO never scales
    importance_sampling_level: str = "token"   # "sequence" is GSPO
    epsilon_low: float = 0.2
    epsilon_high: float = 0.2           # DAPO's clip-higher raises this, e.g. 0.28
    num_iterations: int = 1             # μ: gradient steps per batch of episodes; the clip only binds when > 1
    beta: float = 0.0                   # KL to the initial policy: k3 in the loss, or for RLOO β Σ_t k1 off the reward
    turn_beta: tuple[float, ...] | None = None   # instead of beta, β for each attempt's messages (the last value for
                                        # any later one; `attempt_indices`): SCoRe's stage I holds the first attempt
                                        # near the initial policy
    dynamic_sampling: bool = False      # DAPO: train only on groups whose rewards differ, refilling the batch
    max_sampling_rounds: int = 3        # DAPO: at most this many rollouts of n_groups groups to fill one batch
    keep_top_spread: float = 1.0        # RAGEN's variance filter: train on this fraction of the step's groups, those
                                        # whose rewards spread the most (RAGEN's rollout_filter_ratio; 0.25 in its
                                        # StarPO-S runs)
    overlong_cache: int = 0             # DAPO: penalise the last `overlong_cache` tokens before max_new_tokens
    mask_retrieved: bool = True         # Search-R1: retrieved text out of the loss; False trains on it (notebook 10)
    track_kl: bool = False              # record "kl_ref", KL(π_θ || π_initial) by k3 on the policy's tokens, each step
    credit: str = "episode"             # "episode", "gigpo", "critic" or "turn": how a multi-turn episode's turns
                                        # share credit
    gamma: float = 0.95                 # discount per turn, for "gigpo"'s step returns and "critic"'s GAE
    step_weight: float = 1.0            # ω, GiGPO's weight of the step-level advantage
    gae_lambda: float = 0.95            # λ of "critic"'s GAE over turns
    value_lr: float = 1e-3              # learning rate of "critic"'s value head
    value_epochs: int = 4               # value-head steps per batch, on features computed once
    keep_history: bool = True           # False: each turn sees only the latest observation (rollout's option), and
                                        # each turn is its own row of the update, with its turn's advantage
    rollout_workers: int = 0            # > 0: episodes are played by this many Ray actors, each with a copy of the
                                        # policy that gets the learner's weights after every update (distributed.py)
    async_rollouts: bool = False        # with workers: step t+1's episodes are played during step t's update, by
                                        # the policy one update behind (one-step-stale asynchronous RL)
    sampler_is_cap: float = 0.0         # > 0: weigh each token's loss by min(π_old / π_sampler, cap), truncated
                                        # importance sampling for episodes a stale policy played (TRL: 3, its
                                        # vllm_importance_sampling_clip_max)


def episode_reward(trajectory: Trajectory) -> float:
    """The default reward: the environment's return over the episode."""
    return trajectory.total_reward


def grpo_train(model, tokenizer, make_env: Callable[[], gym.Env], steps: int, config: RLConfig | None = None,
               reward_fn: Callable[[Trajectory], float] = episode_reward, seed: int = 0, progress: bool = True,
               group_reward_fn: Callable[[list[Trajectory]], list[float]] | None = None,
               step_metrics: Callable[[list[Trajectory]], dict[str, float]] | None = None) -> list[dict]:
    """Train `model` in place with the GRPO-family loss chosen by `config`. Returns one dict of diagnostics per step.

    The reward of an episode is `reward_fn(trajectory)`, or, for a reward that depends on the other members of the
    episode's group (OTC's fewest calls among the right answers, notebook 08), `group_reward_fn(group)` for each
    group of G episodes, which replaces `reward_fn`. `step_metrics(trajectories)` adds a notebook's own measures of
    each step's first rollout to its diagnostics (notebook 11: which operation each kind of fact got)."""
    cfg = config or RLConfig()
    if cfg.credit not in CREDITS or (cfg.credit != "episode" and cfg.loss_type == "rloo"):
        raise ValueError(f"credit must be one of {CREDITS} (and 'episode' for RLOO), not {cfg.credit!r}")
    if cfg.credit == "critic" and not cfg.keep_history:
        raise ValueError("the turn critic reads one growing context: credit='critic' needs keep_history=True")
    if cfg.turn_beta and (cfg.loss_type == "rloo" or not cfg.keep_history):
        raise ValueError("turn_beta weighs the k3 term of one growing context: not with 'rloo' or keep_history=False")
    if cfg.async_rollouts and (not cfg.rollout_workers or cfg.dynamic_sampling):
        raise ValueError("async_rollouts plays the next step during the update: it needs rollout_workers > 0, and "
                         "not dynamic_sampling (whose extra rounds depend on the step's own update-free rollouts)")
    if cfg.sampler_is_cap and cfg.loss_type == "rloo":
        raise ValueError("sampler_is_cap weighs grpo_loss's tokens: not with loss_type='rloo'")
    rank, processes = data_parallel()            # launched by torchrun: each process plays its own groups
    if processes > 1 and cfg.credit == "critic":
        raise ValueError("credit='critic' trains a value head per process: not with data-parallel learners")
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    critic = TurnCritic(model, cfg.value_lr) if cfg.credit == "critic" else None
    reference = copy.deepcopy(model).eval() if cfg.beta or cfg.turn_beta or cfg.track_kl else None
    rounds = cfg.max_sampling_rounds if cfg.dynamic_sampling else 1
    workers = RolloutWorkers(model, tokenizer, make_env, cfg.rollout_workers) if cfg.rollout_workers else None

    def play(draw: int):
        """Start the episodes of one draw (a block of tasks and random seeds): played here, or handed to the
        workers (a ticket for `episodes`)."""
        block = draw * processes + rank          # one process: the draw itself
        seeds = group_seeds(cfg.n_groups, cfg.group_size, base_seed=seed * 1_000_003 + block * cfg.n_groups)
        settings = dict(temperature=cfg.temperature, max_new_tokens=cfg.max_new_tokens, seed=seed * 1_000_003 + block,
                        keep_history=cfg.keep_history)
        if workers is None:
            return rollout(model, tokenizer, [make_env() for _ in seeds], seeds, **settings)
        return workers.submit(seeds, cfg.group_size, **settings)

    def episodes(played) -> list[Trajectory]:
        return played if workers is None else workers.gather(played)

    history, ahead, began = [], None, time.perf_counter()   # ahead: the next step's episodes, already playing
    model.eval()                                 # no dropout in the sampler or in the update (see update)
    try:
        for step in tqdm(range(steps), desc="grpo", disable=not progress or rank > 0):
            kept_trajectories, kept_rewards = [], []
            for k in range(rounds):                  # each (step, round) plays its own block of tasks and random seeds
                draw = step * rounds + k
                trajectories = episodes(ahead if ahead is not None else play(draw))
                ahead = None
                rewards = torch.tensor(score(trajectories, cfg.group_size, reward_fn, group_reward_fn))
                lengths = torch.tensor([sum(t.loss_mask) for t in trajectories], dtype=torch.float)
                penalty = overlong_penalty(lengths, cfg.max_new_tokens, cfg.overlong_cache) if cfg.overlong_cache else 0
                rewards = rewards + penalty
                flat = zero_spread_groups(rewards, cfg.group_size)            # (n_groups,)
                if k == 0:                           # the first rollout is sampled alike by every variant
                    record = diagnostics(trajectories, rewards, lengths, flat)
                    if step_metrics:
                        record |= step_metrics(trajectories)
                    if cfg.dynamic_sampling:         # before the update, as update() measures the other variants'
                        first_entropy = policy_entropy(model, tokenizer, trajectories, cfg.temperature, cfg.group_size)
                    if cfg.overlong_cache:           # DAPO: the share of answers the overlong penalty reached
                        record["overlong_penalised"] = (penalty < 0).float().mean().item()
                keep = (~flat.repeat_interleave(cfg.group_size) if cfg.dynamic_sampling
                        else torch.ones(len(rewards), dtype=bool))
                kept_trajectories += [t for t, kept in zip(trajectories, keep) if kept]
                kept_rewards.append(rewards[keep])
                if len(kept_trajectories) >= cfg.n_groups * cfg.group_size:
                    break
            batch_size = cfg.n_groups * cfg.group_size        # DAPO: the surplus of the last round is dropped
            trajectories, rewards = kept_trajectories[:batch_size], torch.cat(kept_rewards)[:batch_size]
            if cfg.dynamic_sampling:
                record |= {"sampling_rounds": k + 1, "kept_groups": len(trajectories) / cfg.group_size}
            if cfg.keep_top_spread < 1 and trajectories:
                keep = top_spread_groups(rewards, cfg.group_size, cfg.keep_top_spread).repeat_interleave(cfg.group_size)
                trajectories, rewards = [t for t, kept in zip(trajectories, keep) if kept], rewards[keep]
                record["kept_groups"] = len(trajectories) / cfg.group_size
            if cfg.async_rollouts and step + 1 < steps:  # played by the weights the workers hold now: one update behind
                ahead = play((step + 1) * rounds)
            if trajectories:
                record |= update(model, reference, optimizer, tokenizer, trajectories, rewards, cfg, critic)
            if workers is not None:
                workers.load_weights(model)
            if cfg.dynamic_sampling:                 # not the kept groups' entropy: the first rollout's, measured above
                record["entropy"] = first_entropy
            history.append({"step": step, **record, "seconds": time.perf_counter() - began})   # wall-clock so far
    finally:                                     # a failed run leaves no Ray actor behind either
        if workers is not None:
            workers.close()
    return history


def score(trajectories: list[Trajectory], group_size: int, reward_fn: Callable[[Trajectory], float],
          group_reward_fn: Callable[[list[Trajectory]], list[float]] | None = None) -> list[float]:
    """Each episode's reward: `reward_fn` per episode, or `group_reward_fn` per group of `group_size` consecutive ones."""
    if group_reward_fn is None:
        return [reward_fn(t) for t in trajectories]
    return [r for g in range(0, len(trajectories), group_size) for r in group_reward_fn(trajectories[g:g + group_size])]


def policy_entropy(model, tokenizer, trajectories: list[Trajectory], temperature: float = 1.0,
                   group_size: int = 1) -> float:
    """Mean entropy per token the policy wrote, H(π(·|x_<t)) at temperature T, over these episodes."""
    batch, _ = collate_rows(trajectories, tokenizer.pad_token_id, group_size)
    return masked_mean(logprobs_and_entropy(model, batch, temperature)[1], batch["loss_mask"]).item()


def collate_rows(trajectories: list[Trajectory], pad_id: int, group_size: int) -> tuple[dict, torch.Tensor]:
    """The batch a forward over these episodes takes, and how many rows each episode has: one row an episode, or,
    for episodes played with a fresh context each turn, one row per turn ([context_k | message_k], what the sampler
    saw; no group prefix to share then)."""
    split = [split_contexts(t) for t in trajectories]
    rows = [row for r in split for row in r]
    per_turn = any(t.context_starts for t in trajectories)
    return collate_trajectories(rows, pad_id, 1 if per_turn else group_size), torch.tensor([len(r) for r in split])


def update(model, reference, optimizer, tokenizer, trajectories: list[Trajectory], rewards: torch.Tensor,
           cfg: RLConfig, critic: "TurnCritic | None" = None) -> dict[str, float]:
    """μ gradient steps on one batch of groups; returns the mean entropy, loss and clip fractions, and the largest
    gap between the log-probs the sampler recorded and the trainer's π_old (0 up to float error when they agree).
    Episodes played with a fresh context each turn are trained on as one row per turn ([context_k | message_k],
    what the sampler saw), each row with its turn's advantage: the loss's per-sequence mean ("grpo") then weighs
    turns, not episodes, alike."""
    batch, rows_per_episode = collate_rows(trajectories, tokenizer.pad_token_id, cfg.group_size)   # whole groups
    per_turn_rows = any(t.context_starts for t in trajectories)
    written = batch["loss_mask"]                                     # (B, T-1): the tokens the policy sampled
    mask = written if cfg.mask_retrieved else (written + batch["retrieved_mask"]).clamp(max=1)   # what is trained on
    # Dropout off (eval mode) in every forward: π_old and π_θ must be the same function of θ.
    model.eval()
    # The first gradient forward is also π_old's: the update runs right after the rollout with the sampler's
    # weights, so before the first step π_θ = π_old and its detached log-probs stand in for a separate no-grad
    # forward (TRL does the same when μ = 1). π_old is softmax(logits / T), the sampler's temperature.
    # Each group's shared prompt is forwarded once (batch_logits), not G times.
    logprobs, next_token_logp = next_token_logprobs(batch_logits(model, batch), batch["input_ids"], cfg.temperature)
    old_logprobs = logprobs.detach()
    with torch.no_grad():
        entropy = -(next_token_logp.exp() * next_token_logp).sum(-1)                                  # (B, T-1)
    ref_logprobs = logprobs_and_entropy(reference, batch, cfg.temperature)[0] if reference is not None else None
    credit_record: dict[str, float] = {}
    if cfg.loss_type == "rloo":                  # TRL's RLOOTrainer: the KL is a penalty on the reward, r - β Σ_t k1
        if ref_logprobs is not None:                 # Σ_t over the episode: over all its rows when split by turn
            episode = torch.arange(len(trajectories)).repeat_interleave(rows_per_episode)      # each row's episode
            kl = torch.zeros(len(trajectories)).index_add(0, episode, (kl_k1(old_logprobs, ref_logprobs) * mask).sum(1))
            rewards = rewards - cfg.beta * kl
        advantages = rloo_advantages(rewards, cfg.group_size)
    elif cfg.credit == "episode":
        advantages = group_advantages(rewards, cfg.group_size, scale=cfg.scale_rewards)
    else:                                        # one advantage per turn, shared by the turn's tokens: (B, T-1)
        per_turn, credit_record = turn_advantages(trajectories, rewards, cfg, critic, batch)
        advantages = (torch.tensor([a for values in per_turn for a in values]) if per_turn_rows   # (rows,)
                      else spread_over_tokens(trajectories, per_turn, written.shape[1]))
    if per_turn_rows and cfg.credit == "episode":                    # the episode's A_i on each of its rows
        advantages = advantages.repeat_interleave(rows_per_episode)
    beta = cfg.beta
    if cfg.turn_beta:                            # one β per turn's message, (B, T-1) like the loss mask
        beta = spread_over_tokens(trajectories, [[cfg.turn_beta[min(k, len(cfg.turn_beta) - 1)] for k in
                                                  attempt_indices(t)] for t in trajectories], written.shape[1])
    # Episodes a stale copy of the policy played (async_rollouts): π_old above is the learner's current policy (the
    # proximal policy the clip is taken around), and each token is reweighted from the sampler's distribution to it.
    sampler_weights = (truncated_importance_weights(old_logprobs, batch["sampler_logprobs"], written,
                                                    cfg.sampler_is_cap) if cfg.sampler_is_cap else None)
    processes = data_parallel()[1]
    tokens = global_token_count(mask) if processes > 1 and cfg.loss_type == "dapo" else None
    sums: dict[str, float] = {}
    for iteration in range(cfg.num_iterations):
        if iteration > 0:
            logprobs = next_token_logprobs(batch_logits(model, batch), batch["input_ids"], cfg.temperature)[0]
        if cfg.loss_type == "rloo":
            loss, metrics = rloo_loss(logprobs, old_logprobs, advantages, mask, cfg.epsilon_low, cfg.epsilon_high)
        else:
            loss, metrics = grpo_loss(logprobs, old_logprobs, advantages, mask, loss_type=cfg.loss_type,
                                      epsilon_low=cfg.epsilon_low, epsilon_high=cfg.epsilon_high, beta=beta,
                                      ref_logprobs=ref_logprobs, max_completion_length=cfg.max_new_tokens,
                                      importance_sampling_level=cfg.importance_sampling_level,
                                      importance_weights=sampler_weights, num_items_in_batch=tokens)
        loss.backward()
        if processes > 1:                        # data-parallel learners: every process takes the mean gradient
            average_gradients(model)
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)   # the norm before clipping
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        for key, value in {"loss": loss.item(), "grad_norm": grad_norm.item(), **metrics}.items():
            sums[key] = sums.get(key, 0.0) + value / cfg.num_iterations
    sampler_gap = ((old_logprobs - batch["sampler_logprobs"]).abs() * written).max().item()
    record = {"entropy": masked_mean(entropy, written).item(), "sampler_logprob_gap": sampler_gap, **sums,
              **credit_record}
    if sampler_weights is not None:              # how far the sampler was from π_old, and how often the cap bit
        record |= {"sampler_weight_mean": masked_mean(sampler_weights, written).item(),
                   "sampler_weight_capped": masked_mean((sampler_weights >= cfg.sampler_is_cap).float(), written).item()}
    if cfg.track_kl:                             # of the policy that sampled this batch, on the tokens it wrote
        record["kl_ref"] = masked_mean(kl_k3(old_logprobs, ref_logprobs), written).item()
    return record


def turn_advantages(trajectories: list[Trajectory], rewards: torch.Tensor, cfg: RLConfig,
                    critic: "TurnCritic | None" = None, batch: dict | None = None) -> tuple[list[list[float]], dict]:
    """One advantage per turn of each episode, by `cfg.credit` ("gigpo", "critic" or "turn"), and the critic's
    diagnostics.
    GiGPO's anchor state is the environment's state the turn acted from (`Turn.state`), or where the environment
    names none, the observation the turn answered; the step returns use the environment's per-turn rewards, the
    episode-level term the episode's reward (`rewards`, reward_fn's)."""
    turn_rewards = [[turn.reward for turn in t.turns] for t in trajectories]
    scale = "none" if cfg.scale_rewards == "none" else "group"
    if cfg.credit == "turn":                     # GiGPO's step groups with the attempt as the anchor, γ = 0
        attempts = [attempt_indices(t) for t in trajectories]
        return [a for g in range(0, len(trajectories), cfg.group_size) for a in step_group_advantages(
            turn_rewards[g:g + cfg.group_size], attempts[g:g + cfg.group_size], scale)], {}
    if cfg.credit == "gigpo":
        anchors = [[turn.observation if turn.state is None else turn.state for turn in t.turns] for t in trajectories]
        # F_norm of the paper is the group's std or 1; it has no batch-wide scale, so "batch" scales by the group's
        return gigpo_advantages(rewards.tolist(), turn_rewards, anchors, cfg.group_size, cfg.gamma, cfg.step_weight,
                                scale), {}
    return critic.advantages(trajectories, turn_rewards, batch, cfg)


def attempt_indices(trajectory: Trajectory) -> list[int]:
    """Each turn's attempt, counted from 0: how many answers the episode gave before it. A refused message or a tool
    call belongs to the attempt it leads up to, so an invalid first message does not make the first answer count as
    the second (what `turn_beta` and `credit="turn"` weigh and compare are attempts, not messages)."""
    indices, answers = [], 0
    for turn in trajectory.turns:
        indices.append(answers)
        answers += turn.action.kind == "answer"
    return indices


def spread_over_tokens(trajectories: list[Trajectory], per_turn: list[list[float]], width: int) -> torch.Tensor:
    """(B, width) advantages aligned with a collated batch's loss mask (column j predicts token j+1): each turn's
    advantage on the tokens of the message it wrote, 0 elsewhere."""
    advantages = torch.zeros(len(trajectories), width)
    for i, (t, turn_values) in enumerate(zip(trajectories, per_turn)):
        for (start, end), a in zip(turn_spans(t.loss_mask), turn_values):
            advantages[i, start - 1:end - 1] = a
    return advantages


class TurnCritic:
    """A learned value of the state before each turn, V(s_t): a linear head on the policy's last hidden state at the
    token before the turn's first written one (the end of the observation), detached, so the critic reads the
    policy's features without training them. GAE over turns (`ppo.gae` on a (B, turns) grid):

        δ_t = r_t + γ V(s_{t+1}) - V(s_t),    A_t = Σ_l (γλ)^l δ_{t+l},    R_t = A_t + V(s_t)

    with V = 0 after an episode's last turn: every episode here ends by its environment, reaching the goal or using
    up its turn budget, and the budget is part of the task, so the time left is not a value to bootstrap from.
    r_t is the environment's reward for turn t (`Turn.reward`); the episode's reward from `reward_fn` is not used.
    The head then takes `value_epochs` steps on ½ (V - R)², and the advantages are whitened over the batch, as PPO's."""

    def __init__(self, model, lr: float):
        self.model = model
        self.head = nn.Linear(model.config.get_text_config().hidden_size, 1)
        nn.init.zeros_(self.head.weight)           # V = 0 at first: the advantages start as discounted returns
        nn.init.zeros_(self.head.bias)
        self.optimizer = torch.optim.AdamW(self.head.parameters(), lr=lr, weight_decay=0.0)

    def advantages(self, trajectories: list[Trajectory], turn_rewards: list[list[float]], batch: dict,
                   cfg: RLConfig) -> tuple[list[list[float]], dict]:
        with torch.no_grad():
            hidden = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                                output_hidden_states=True, **pixel_inputs([[pixels for _, pixels in row] for row in
                                                                           batch.get("images", [])])
                                ).hidden_states[-1]                                             # (B, T, H)
        turns = max(len(r) for r in turn_rewards)
        features = torch.zeros(len(trajectories), turns, hidden.shape[2])                      # (B, K, H)
        mask, rewards = torch.zeros(len(trajectories), turns), torch.zeros(len(trajectories), turns)
        for i, t in enumerate(trajectories):
            for k, (start, _) in enumerate(turn_spans(t.loss_mask)):
                features[i, k], mask[i, k], rewards[i, k] = hidden[i, start - 1], 1.0, turn_rewards[i][k]
        with torch.no_grad():
            values = self.head(features).squeeze(-1) * mask                                     # (B, K) V(s_t)
        advantages, returns = gae(rewards, values, mask, cfg.gamma, cfg.gae_lambda)
        for _ in range(cfg.value_epochs):
            loss = 0.5 * masked_mean((self.head(features).squeeze(-1) - returns) ** 2, mask)
            loss.backward()
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
        mean = masked_mean(advantages, mask)
        std = masked_mean((advantages - mean) ** 2, mask).sqrt()
        advantages = (advantages - mean) / (std + 1e-8) * mask
        per_turn = [advantages[i, :len(r)].tolist() for i, r in enumerate(turn_rewards)]
        return per_turn, {"value_loss": loss.item(), "explained_variance": explained_variance(values, returns, mask)}


def diagnostics(trajectories: list[Trajectory], rewards: torch.Tensor, lengths: torch.Tensor,
                flat: torch.Tensor) -> dict[str, float]:
    """What the batch looked like before the update: reward, success, tool calls and turns per episode, lengths of
    right and wrong answers, and how much the rewards differ within a group (the mean within-group standard
    deviation): RAGEN's "echo trap" is this spread collapsing in multi-turn RL, after which the policy collapses too."""
    success = torch.tensor([t.success for t in trajectories])
    def mean_or_nan(x):
        return x.mean().item() if len(x) else float("nan")
    groups = rewards.view(len(flat), -1)  # (n_groups, G)
    calls = sum(len(t.tool_calls) for t in trajectories) / len(trajectories)
    turns = sum(len(t.turns) for t in trajectories) / len(trajectories)
    return {"reward": rewards.mean().item(), "success": success.float().mean().item(), "tool_calls": calls, "turns": turns,
            "length_right": mean_or_nan(lengths[success]), "length_wrong": mean_or_nan(lengths[~success]),
            "zero_spread": flat.float().mean().item(), "reward_spread": groups.std(1).mean().item()}

