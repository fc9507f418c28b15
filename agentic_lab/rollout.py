"""The rollout engine: N environments in lock-step, one batched forward per generated token.

    trajectories = rollout(model, tokenizer, [gym.make("agentic_lab/Calculator-v0") for _ in range(8)],
                           seeds=group_seeds(n_groups=2, group_size=4), temperature=1.0)

Each turn, every unfinished episode writes one assistant message: the contexts are left-padded into one
batch, prefilled once, then decoded token by token with a KV cache; a row leaves the batch as soon as
it emits a stop token (`<|end|>`, or the model's own end-of-turn tokens). The message goes to its
environment's `step`; the observation comes back as tokens rendered by the tokenizer's chat template.

Token in, token out. The trajectory keeps the exact ids the model sampled and never re-tokenises its
text: decoding and re-encoding is not guaranteed to give the same ids back (a BPE tokenizer may merge
characters differently), and the importance ratio π_θ(a)/π_old(a) of a policy-gradient step is only
right for the ids that were actually sampled. The loss mask grows with the episode: 1 for each sampled
token (including the stop token that ends a message), 0 for prompts, observations and tool outputs.
"""
from __future__ import annotations

import gymnasium as gym
import torch
from tqdm.auto import tqdm
from transformers import DynamicCache

from agentic_lab.trajectory import Trajectory, Turn

_PREFIX = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "x"}]


def observation_ids(tokenizer, content: str) -> list[int]:
    """Tokens that append a tool observation and open the next assistant turn, taken from the chat
    template as the difference of two renderings (works for any prefix-preserving template)."""
    before = tokenizer.apply_chat_template(_PREFIX, tokenize=False)
    after = tokenizer.apply_chat_template(_PREFIX + [{"role": "tool", "content": content}], tokenize=False,
                                          add_generation_prompt=True)
    if not after.startswith(before):
        raise ValueError("the tokenizer's chat template is not prefix-preserving")
    return tokenizer(after[len(before):], add_special_tokens=False)["input_ids"]


def stop_token_ids(model, tokenizer) -> list[int]:
    ids = {tokenizer.eos_token_id}
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids.update(configured if isinstance(configured, list) else [configured])
    return sorted(i for i in ids if i is not None)


def group_seeds(n_groups: int, group_size: int, base_seed: int = 0) -> list[int]:
    """Environment seeds for GRPO: the members of a group share one seed, so they face the same task."""
    return [base_seed + g for g in range(n_groups) for _ in range(group_size)]


def sample_next(logits: torch.Tensor, temperature: float, generator: torch.Generator):
    """Sample one token per row from softmax(logits / T) (greedy when T = 0); returns (tokens, log-probs)."""
    if temperature <= 0:
        logp = torch.log_softmax(logits.float(), dim=-1)
        tokens = logp.argmax(dim=-1)
    else:
        logp = torch.log_softmax(logits.float() / temperature, dim=-1)
        tokens = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
    return tokens, logp.gather(1, tokens[:, None]).squeeze(1)


@torch.no_grad()
def generate_turn(model, contexts: list[list[int]], pad_id: int, stop_ids: list[int], max_new_tokens: int,
                  temperature: float, generator: torch.Generator) -> tuple[list[list[int]], list[list[float]]]:
    """One message per context: left-padded prefill, then one batched forward per new token with a KV
    cache. Returns each row's new ids (up to and including its stop token) and their log-probs."""
    n, width = len(contexts), max(len(c) for c in contexts)
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    attention = torch.zeros((n, width), dtype=torch.long)
    for i, context in enumerate(contexts):
        input_ids[i, width - len(context):] = torch.tensor(context)
        attention[i, width - len(context):] = 1
    positions = (attention.cumsum(-1) - 1).clamp(min=0)   # (n, width): 0 at each row's first real token
    cache = DynamicCache()
    logits = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, cache=cache,
                   use_cache=True, logits_to_keep=1).logits[:, -1]
    next_position = positions[:, -1] + 1                   # (n,)
    rows = torch.arange(n)                                 # which context each batch row belongs to
    new_ids: list[list[int]] = [[] for _ in range(n)]
    logprobs: list[list[float]] = [[] for _ in range(n)]
    stop = torch.tensor(stop_ids)
    for step in range(max_new_tokens):
        tokens, logp = sample_next(logits, temperature, generator)
        for row, token, lp in zip(rows.tolist(), tokens.tolist(), logp.tolist()):
            new_ids[row].append(token)
            logprobs[row].append(lp)
        running = ~torch.isin(tokens, stop)
        if step == max_new_tokens - 1 or not running.any():
            break
        if not running.all():                              # finished rows leave the batch
            keep = running.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, tokens, attention, next_position = rows[keep], tokens[keep], attention[keep], next_position[keep]
        attention = torch.cat([attention, torch.ones(len(rows), 1, dtype=torch.long)], dim=1)
        logits = model(input_ids=tokens[:, None], attention_mask=attention, position_ids=next_position[:, None],
                       cache=cache, use_cache=True).logits[:, -1]
        next_position = next_position + 1
    return new_ids, logprobs


def rollout(model, tokenizer, envs: list[gym.Env], seeds: list[int], options: list[dict | None] | None = None,
            temperature: float = 1.0, max_new_tokens: int = 96, max_context: int | None = None, seed: int = 0,
            batch_size: int = 256, progress: bool = False) -> list[Trajectory]:
    """Play one episode in each environment, all in lock-step. Same seeds, same trajectories."""
    generator = torch.Generator().manual_seed(seed)
    stop_ids = stop_token_ids(model, tokenizer)
    max_context = max_context or getattr(model.config, "max_position_embeddings", 2048)
    trajectories, last_observation = [], []
    for env, env_seed, env_options in zip(envs, seeds, options or [None] * len(envs)):
        observation, info = env.reset(seed=env_seed, options=env_options)
        ids = tokenizer.apply_chat_template([{"role": "user", "content": observation}], tools=info.get("tools") or None,
                                            add_generation_prompt=True, return_dict=False)
        env_id = env.spec.id if env.spec else getattr(env.unwrapped, "name", type(env.unwrapped).__name__)
        trajectories.append(Trajectory(env_id, env_seed, token_ids=list(ids), loss_mask=[0] * len(ids),
                                       logprobs=[0.0] * len(ids), info={"success": False, **info.get("hidden", {})}))
        if info.get("show"):  # what the environment asks the viewer to show with the prompt (see viz.shows)
            trajectories[-1].info["show"] = info["show"]
        last_observation.append(observation)
    active = list(range(len(envs)))
    bar = tqdm(total=len(envs), desc="episodes", disable=not progress)
    while active:
        for start in range(0, len(active), batch_size):
            chunk = active[start:start + batch_size]
            new_ids, logprobs = generate_turn(model, [trajectories[i].token_ids for i in chunk],
                                              tokenizer.pad_token_id, stop_ids, max_new_tokens, temperature, generator)
            for i, ids, lps in zip(chunk, new_ids, logprobs):
                _record_turn(trajectories[i], envs[i], last_observation, i, ids, lps, tokenizer, stop_ids)
        for i in active:
            if not trajectories[i].turns[-1].done and len(trajectories[i].token_ids) + max_new_tokens > max_context:
                trajectories[i].info["context_full"] = True  # no room for another message: stop here
        still_open = [i for i in active if not trajectories[i].turns[-1].done and "context_full" not in
                      trajectories[i].info]
        bar.update(len(active) - len(still_open))
        active = still_open
    bar.close()
    return trajectories


def _record_turn(trajectory: Trajectory, env: gym.Env, last_observation: list[str], i: int, ids: list[int],
                 logprobs: list[float], tokenizer, stop_ids: list[int]) -> None:
    """Send one message to its environment and append it, and the observation, to the trajectory."""
    stopped = ids[-1] in stop_ids
    text = tokenizer.decode(ids[:-1] if stopped else ids, skip_special_tokens=False)
    observation, reward, terminated, truncated, info = env.step(text)
    done = terminated or truncated
    trajectory.turns.append(Turn(last_observation[i], text, info["action"], observation, float(reward), done,
                                 show=info.get("show", {})))
    trajectory.token_ids += ids
    trajectory.loss_mask += [1] * len(ids)
    trajectory.logprobs += logprobs
    trajectory.info["success"] = bool(info.get("success", False))
    if not done:
        obs_ids = observation_ids(tokenizer, observation)
        trajectory.token_ids += obs_ids
        trajectory.loss_mask += [0] * len(obs_ids)
        trajectory.logprobs += [0.0] * len(obs_ids)
    last_observation[i] = observation
