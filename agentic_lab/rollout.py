"""The rollout engine: N environments in lock-step, one batched forward per generated token.

    trajectories = rollout(model, tokenizer, [gym.make("agentic_lab/Calculator-v0") for _ in range(8)],
                           seeds=group_seeds(n_groups=2, group_size=4), temperature=1.0)

Each turn, every unfinished episode writes one assistant message: the contexts are left-padded into one
batch, prefilled once (a prompt shared by a GRPO group only once), then decoded token by token with a
KV cache; a row stops writing when it emits a stop token (`<|end|>`, or the model's own end-of-turn
tokens), and finished rows leave the batch once they are half of it. The message goes to its
environment's `step`; the observation comes back as tokens rendered by the tokenizer's chat template.

KV reuse across turns. Each unfinished episode keeps its keys and values between turns (what vLLM's
prefix caching and SGLang's radix cache do for agents), so a turn prefills only the tokens appended since
its last one: the stop token that ended its message and the observation. Without it, turn k re-prefills
the whole history and an episode of K turns pays for its prompt K times. Each turn the batch is
re-formed from the kept caches, left-padded, with each row's positions counted over its own tokens only,
so the model computes what a fresh prefill of the same history would (`reuse_cache=False` does that
fresh prefill; tests check both give the same trajectories). The price is memory: a kept cache holds
2 · layers · kv_heads · head_dim floats per token (6 KB a token for the tiny model), and up to half as many
again as room to grow into (`EpisodeCache`). It works for any Hugging Face decoder whose cache is keys and
values per layer (Llama, Qwen, GPT-2, ...).

A fresh context each turn (`keep_history=False`). The agent sees only the latest observation, as a new
conversation whose one user message it is (with the tools, if any): nothing else carries over from turn to turn,
so the environment must put in its observation all the agent needs (a memory bank, MEM1's rewritten state;
notebook 11). The context stays as long as one observation however long the episode. The trajectory keeps every
turn's [context | message] one after the other and where each context starts (`Trajectory.context_starts`); the
update trains on each as its own row (`trajectory.split_contexts`).

Token in, token out. The trajectory keeps the exact ids the model sampled and never re-tokenises its
text: decoding and re-encoding is not guaranteed to give the same ids back (a BPE tokenizer may merge
characters differently), and the importance ratio π_θ(a)/π_old(a) of a policy-gradient step is only
right for the ids that were actually sampled. The loss mask grows with the episode: 1 for each sampled
token (including the stop token that ends a message), 0 for prompts, observations and tool outputs. Where an
environment says which characters of an observation it retrieved from a corpus (`info["retrieved"]`, notebook
10's search results), the trajectory records those tokens (`Trajectory.retrieved`): the one training loop
keeps them out of the loss (Search-R1's masking) unless told to train on them.

Images (notebook 13). An environment that shows images puts the mark "<image>" in its observation and the images
in info["images"]; with a model that reads them (`agentic_lab.vision`) each mark becomes that model's run of
placeholder tokens, the trajectory keeps each image with where its run starts (`Trajectory.images`), and a prefill
passes the images of the tokens it feeds as pixel_values. Images enter only at prefill, so a kept cache holds
them like any observation, and a GRPO group's shared first prompt (same tokens, same images) is prefilled once.
"""
from __future__ import annotations

import math
from functools import partial

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from agentic_lab.trajectory import Trajectory, Turn, mask_runs
from agentic_lab.vision import expand_image_marks, image_starts, images_in, patches_per_image, pixel_inputs, to_pixels

_PREFIX = [{"role": "user", "content": "x"}, {"role": "assistant", "content": "x"}]


def _observation_text(tokenizer, content: str) -> str:
    """The text that appends a tool observation and opens the next assistant turn, taken from the chat
    template as the difference of two renderings (works for any prefix-preserving template)."""
    before = tokenizer.apply_chat_template(_PREFIX, tokenize=False)
    after = tokenizer.apply_chat_template(_PREFIX + [{"role": "tool", "content": content}], tokenize=False,
                                          add_generation_prompt=True)
    if not after.startswith(before):
        raise ValueError("the tokenizer's chat template is not prefix-preserving")
    return after[len(before):]


def observation_ids(tokenizer, content: str) -> list[int]:
    """Tokens that append a tool observation and open the next assistant turn."""
    return tokenizer(_observation_text(tokenizer, content), add_special_tokens=False)["input_ids"]


def retrieved_tokens(offsets: list[tuple[int, int]], spans: list[list[int]]) -> list[bool]:
    """Which tokens are retrieved text. Token k covers characters [offsets[k][0], offsets[k][1]) of an observation;
    `spans` are the [a, b) character spans the environment retrieved. A token is retrieved when its first character
    is: a token that starts before a span and runs into it (a BPE merge of "] " and "The") was not retrieved."""
    return [any(a <= start < b for a, b in spans) for start, _ in offsets]


def fresh_context_text(tokenizer, content: str, tools: list | None = None) -> str:
    """A new conversation whose one user message is `content`, opening the assistant's turn (keep_history=False)."""
    return tokenizer.apply_chat_template([{"role": "user", "content": content}], tools=tools or None, tokenize=False,
                                         add_generation_prompt=True)


def observation_tokens(tokenizer, content: str, spans: list[list[int]], text: str | None = None
                       ) -> tuple[list[int], list[list[int]]]:
    """`observation_ids(tokenizer, content)`, and the [start, end) character spans of `content` that an environment
    retrieved (a search's documents, `info["retrieved"]`) as [start, end) token spans of those ids, from one
    tokenisation. With spans, needs a fast tokenizer (its offset mapping). `text`: another rendering of `content`
    to tokenise (a fresh context's), instead of the observation that appends it to the history."""
    text = _observation_text(tokenizer, content) if text is None else text
    if not spans:
        return tokenizer(text, add_special_tokens=False)["input_ids"], []
    shift = text.find(content)                     # where the template put the observation's text
    if shift < 0:
        raise ValueError("the chat template does not copy the observation verbatim")
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    inside = retrieved_tokens([(start - shift, end - shift) for start, end in encoding["offset_mapping"]], spans)
    return encoding["input_ids"], [[a, b] for value, a, b in mask_runs(inside) if value]


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


class EpisodeCache:
    """One episode's KV cache, kept between its turns: per layer, buffers (heads, capacity, head_dim) whose first
    `length` columns are the keys and values of its first `length` tokens, no padding. A turn appends only its
    new columns (the observation it prefilled, the message it wrote) into the room the last growth left (50%),
    so keeping a cache costs a turn O(new tokens), not O(history)."""

    def __init__(self):
        self.buffers: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.length = 0

    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per layer (keys, values), each (heads, length, head_dim): views, not copies."""
        return [(keys[:, :self.length], values[:, :self.length]) for keys, values in self.buffers]

    def append(self, new: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Add n columns: per layer (keys, values), each (heads, n, head_dim)."""
        end = self.length + new[0][0].shape[1]
        if not self.buffers or end > self.buffers[0][0].shape[1]:      # outgrown: a bigger buffer, the old columns copied
            old, self.buffers = self.layers(), []
            for layer, (keys, values) in enumerate(new):
                grown = (keys.new_empty((keys.shape[0], end * 3 // 2, keys.shape[2])),
                         values.new_empty((values.shape[0], end * 3 // 2, values.shape[2])))
                if old:
                    grown[0][:, :self.length], grown[1][:, :self.length] = old[layer]
                self.buffers.append(grown)
        for (key_buffer, value_buffer), (keys, values) in zip(self.buffers, new):
            key_buffer[:, self.length:end], value_buffer[:, self.length:end] = keys, values
        self.length = end


class BufferPool:
    """Memory for the batch's KV buffers, handed from turn to turn. A fresh buffer of tens of MB costs about
    five times its filling in page faults (the allocator gives large blocks back to the OS when freed), so a
    turn takes the blocks the previous one released; a new block has 50% headroom, as histories grow."""

    def __init__(self):
        self.free: list[torch.Tensor] = []
        self.taken: list[torch.Tensor] = []

    def take(self, shape: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
        size = math.prod(shape)
        fits = [k for k, block in enumerate(self.free) if block.numel() >= size and block.dtype == like.dtype]
        if fits:
            block = self.free.pop(fits[0])
        else:                                   # outgrown: let the small blocks go, take a bigger one
            self.free, block = [], like.new_empty(size * 3 // 2)
        self.taken.append(block)
        return block[:size].view(shape)

    def release(self) -> None:
        """The turn is over: its blocks may be written again (what the episodes keep was copied out)."""
        self.free, self.taken = self.taken + self.free, []


class TurnLayer(DynamicLayer):
    """One layer of the batch's KV cache during a turn: buffers (n, heads, capacity, head_dim) taken once,
    sized for the whole turn, that each forward writes its new columns into. HF's DynamicLayer appends with
    torch.cat, which copies the whole cache on every token: O(T) per token, as much memory traffic as the
    attention itself. `keys` and `values` are views of the first `length` columns, all attention sees."""

    def __init__(self, capacity: int, pool: BufferPool, key_buffer: torch.Tensor | None = None,
                 value_buffer: torch.Tensor | None = None, length: int = 0):
        super().__init__()
        self.capacity, self.pool, self.length = capacity, pool, length
        self.key_buffer, self.value_buffer = key_buffer, value_buffer
        if key_buffer is not None:
            self.device, self.is_initialized = key_buffer.device, True
            self.keys, self.values = key_buffer[:, :, :length], value_buffer[:, :, :length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:                 # first forward of a turn with nothing cached: now we know the shapes
            n, heads, _, head_dim = key_states.shape
            self.key_buffer = self.pool.take((n, heads, self.capacity, head_dim), key_states)   # filled as it goes
            self.value_buffer = self.pool.take((n, value_states.shape[1], self.capacity, value_states.shape[3]),
                                               value_states)
            self.device, self.is_initialized = key_states.device, True
        end = self.length + key_states.shape[-2]
        self.key_buffer[:, :, self.length:end] = key_states
        self.value_buffer[:, :, self.length:end] = value_states
        self.length = end
        self.keys, self.values = self.key_buffer[:, :, :end], self.value_buffer[:, :, :end]
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        """Keep rows `indices`. Rows leaving (ascending indices) move the others up in place, no new buffer."""
        if len(indices) <= len(self.key_buffer) and bool((indices.diff() > 0).all()):
            for new, old in enumerate(indices.tolist()):
                if new != old:
                    self.key_buffer[new, :, :self.length] = self.key_buffer[old, :, :self.length]
                    self.value_buffer[new, :, :self.length] = self.value_buffer[old, :, :self.length]
            self.key_buffer, self.value_buffer = self.key_buffer[:len(indices)], self.value_buffer[:len(indices)]
        else:                                        # e.g. a shared prompt's row copied to its group
            keys = self.pool.take((len(indices), *self.key_buffer.shape[1:]), self.key_buffer)
            values = self.pool.take((len(indices), *self.value_buffer.shape[1:]), self.value_buffer)
            self.key_buffer = torch.index_select(self.key_buffer, 0, indices, out=keys)
            self.value_buffer = torch.index_select(self.value_buffer, 0, indices, out=values)
        self.keys, self.values = self.key_buffer[:, :, :self.length], self.value_buffer[:, :, :self.length]


def batch_caches(caches: list[EpisodeCache | None], capacity: int,
                 pool: BufferPool) -> tuple[DynamicCache, torch.Tensor]:
    """The episodes' caches as one batched cache with room for `capacity` tokens, left-padded as HF generate
    pads prompts: row i is zeros in its first width - c_i columns, masked out. Returns the cache and its
    attention mask (n, width), width = max c_i."""
    lengths = [0 if kv is None else kv.length for kv in caches]
    n, width = len(caches), max(lengths)
    mask = torch.zeros((n, width), dtype=torch.long)
    for i, c in enumerate(lengths):
        mask[i, width - c:] = 1
    cache = DynamicCache()
    if width == 0:      # nothing cached: the layers are made on the first forward
        cache.layer_class_to_replicate = partial(TurnLayer, capacity, pool)
        return cache, mask
    template = next(kv for kv in caches if kv is not None)
    kept = [None if kv is None else kv.layers() for kv in caches]
    cache.layers = []
    for layer, (keys, values) in enumerate(template.buffers):
        key_buffer = pool.take((n, keys.shape[0], capacity, keys.shape[2]), keys)   # (n, heads, capacity, head_dim)
        value_buffer = pool.take((n, values.shape[0], capacity, values.shape[2]), values)
        for i, (kv, c) in enumerate(zip(kept, lengths)):
            key_buffer[i, :, :width - c], value_buffer[i, :, :width - c] = 0.0, 0.0   # padding: masked, but finite
            if c:
                key_buffer[i, :, width - c:width], value_buffer[i, :, width - c:width] = kv[layer]
        cache.layers.append(TurnLayer(capacity, pool, key_buffer, value_buffer, length=width))
    return cache, mask


def keep_row(cache: DynamicCache, row: int, attention_row: torch.Tensor, cached_width: int,
             kept: EpisodeCache | None) -> EpisodeCache:
    """Episode cache `kept` with row `row`'s new columns of the batched cache appended: those after the first
    `cached_width` (where batch_caches put what `kept` already holds) where attention_row (width,) is 1."""
    new = attention_row[cached_width:].nonzero().squeeze(1) + cached_width
    kept = kept or EpisodeCache()
    kept.append([(layer.keys[row][:, new], layer.values[row][:, new]) for layer in cache.layers])
    return kept


def prefill(model, contexts: list[list[int]], caches: list[EpisodeCache | None], pad_id: int, room: int,
            pool: BufferPool, images: list[list[tuple[int, torch.Tensor]]] | None = None):
    """One forward over what each context has not cached yet, with room for `room` more tokens in the cache.
    images[i]: context i's images, (where its placeholders start, pixels); those of the pending tokens are fed.
    Returns the last position's logits (n, vocab), the batched cache, its attention mask (n, width) and the
    position of each row's next token (n,)."""
    cached = [0 if kv is None else kv.length for kv in caches]                          # c_i
    pending = [context[c:] for context, c in zip(contexts, cached)]                      # n_i = len(pending[i])
    pixels = pixel_inputs([images_in(row, c, len(context)) for row, context, c in zip(images, contexts, cached)]
                          if images else [])
    n, width = len(contexts), max(len(p) for p in pending)
    cache, attention = batch_caches(caches, max(cached) + width + room, pool)
    # The pending tokens are left-padded too, so the batch looks like  [pad | cached | pad | pending]  per row:
    # padding in the middle is masked out like padding on the left, and each row's last column is real.
    input_ids = torch.full((n, width), pad_id, dtype=torch.long)
    pending_mask = torch.zeros((n, width), dtype=torch.long)
    for i, ids in enumerate(pending):
        input_ids[i, width - len(ids):] = torch.tensor(ids)
        pending_mask[i, width - len(ids):] = 1
    attention = torch.cat([attention, pending_mask], dim=1)            # (n, W + width)
    # Position of a token = number of real tokens before it in its own row: c_i, c_i + 1, ... for the pending
    # ones, whatever the padding, so a cached and a fresh prefill see the same positions (RoPE or learned).
    positions = (attention.cumsum(-1) - 1).clamp(min=0)[:, -width:]   # (n, width)
    logits = model(input_ids=input_ids, attention_mask=attention, position_ids=positions, cache=cache,
                   use_cache=True, logits_to_keep=1, **pixels).logits[:, -1]
    return logits, cache, attention, positions[:, -1] + 1


@torch.no_grad()
def generate_turn(model, contexts: list[list[int]], caches: list[EpisodeCache | None] | None, pad_id: int,
                  stop_ids: list[int], max_new_tokens: int, temperature: float, generator: torch.Generator,
                  pool: BufferPool | None = None, images: list[list[tuple[int, torch.Tensor]]] | None = None
                  ) -> tuple[list[list[int]], list[list[float]], list[EpisodeCache | None]]:
    """One message per context. caches[i] holds the keys and values of the first c_i tokens of contexts[i]
    (None: c_i = 0), so only the rest, the n_i tokens appended since, is prefilled; then one batched forward
    per new token. `caches=None`: nothing cached and nothing kept (the whole context is prefilled). Returns
    each row's new ids (up to and including its stop token), their log-probs, and each row's cache of its
    context and new ids but the last, which is not fed to the model yet (the next turn prefills it with
    the observation). A cache given is extended in place and returned. images[i]: context i's images,
    (where its placeholders start, pixels), for a model that reads them."""
    n, given, pool = len(contexts), caches or [None] * len(contexts), pool or BufferPool()
    images = images or [[] for _ in contexts]
    cached_width = max(0 if kv is None else kv.length for kv in given)   # the batch's columns before the pending ones
    # Rows with the same context and nothing cached (a GRPO group on its first turn) are prefilled once and copied
    keys = [(tuple(context), tuple(pixels.numpy().tobytes() for _, pixels in images[i])) if kv is None else i
            for i, (context, kv) in enumerate(zip(contexts, given))]
    first_row: dict = {}
    for i, key in enumerate(keys):
        first_row.setdefault(key, i)
    logits, cache, attention, next_position = prefill(model, [contexts[i] for i in first_row.values()],
                                                      [given[i] for i in first_row.values()], pad_id, max_new_tokens,
                                                      pool, [images[i] for i in first_row.values()])
    if len(first_row) < n:
        index = {key: j for j, key in enumerate(first_row)}
        source = torch.tensor([index[key] for key in keys])           # (n,): the prefilled row each row copies
        cache.batch_select_indices(source)
        logits, attention, next_position = logits[source], attention[source], next_position[source]
    rows = torch.arange(n)                                             # which context each batch row belongs to
    running = torch.ones(n, dtype=torch.bool)                          # (b,): rows still writing
    new_ids: list[list[int]] = [[] for _ in range(n)]
    logprobs: list[list[float]] = [[] for _ in range(n)]
    kept: list[EpisodeCache | None] = [None] * n
    stop = torch.tensor(stop_ids)
    for step in range(max_new_tokens):
        live = running.nonzero().squeeze(1)
        tokens, logp = sample_next(logits[live], temperature, generator)   # only the rows still writing draw
        for row, token, lp in zip(rows[live].tolist(), tokens.tolist(), logp.tolist()):
            new_ids[row].append(token)
            logprobs[row].append(lp)
        running[live] = ~torch.isin(tokens, stop)
        done = step == max_new_tokens - 1 or not running.any()
        # Finished rows leave the batch once they are half of it. Leaving copies the others' cache, so it
        # happens at most log2(n) + 1 times per message; until then a finished row is fed padding, masked out.
        if done or 2 * running.sum() <= len(running):
            leaving = torch.ones_like(running) if done else ~running
            if caches is not None:                                     # each leaving row keeps its cache
                for b in leaving.nonzero().squeeze(1).tolist():
                    kept[int(rows[b])] = keep_row(cache, b, attention[b], cached_width, given[int(rows[b])])
            if done:
                break
            keep = running.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            rows, running, attention, next_position = rows[keep], running[keep], attention[keep], next_position[keep]
        fed = torch.full((len(rows),), pad_id, dtype=torch.long)
        fed[running] = torch.tensor([new_ids[row][-1] for row in rows[running].tolist()], dtype=torch.long)
        attention = torch.cat([attention, running[:, None].long()], dim=1)     # a finished row's column is masked
        logits = model(input_ids=fed[:, None], attention_mask=attention, position_ids=next_position[:, None],
                       cache=cache, use_cache=True).logits[:, -1]
        next_position = next_position + 1
    pool.release()
    return new_ids, logprobs, kept


def rollout(model, tokenizer, envs: list[gym.Env], seeds: list[int], options: list[dict | None] | None = None,
            temperature: float = 1.0, max_new_tokens: int = 96, max_context: int | None = None, seed: int = 0,
            batch_size: int = 256, reuse_cache: bool = True, keep_history: bool = True, progress: bool = False
            ) -> list[Trajectory]:
    """Play one episode in each environment, all in lock-step. Same seeds, same trajectories.

    reuse_cache=True keeps each unfinished episode's KV cache between its turns, so a turn prefills only the
    tokens appended since its last one; False re-prefills the whole history every turn (the baseline).
    keep_history=False starts every turn from a fresh context, the latest observation alone (nothing to reuse)."""
    generator = torch.Generator().manual_seed(seed)
    stop_ids = stop_token_ids(model, tokenizer)
    per_image = patches_per_image(model)         # placeholders per image; None for a model that reads no images
    max_context = max_context or getattr(model.config, "max_position_embeddings", 2048)
    trajectories, last_observation, last_state, tools = [], [], [], []
    for env, env_seed, env_options in zip(envs, seeds, options or [None] * len(envs)):
        observation, info = env.reset(seed=env_seed, options=env_options)
        shown = info.get("images", [])
        prompt = expand_image_marks(observation, len(shown), per_image)
        ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], tools=info.get("tools") or None,
                                            add_generation_prompt=True, return_dict=False)
        env_id = env.spec.id if env.spec else getattr(env.unwrapped, "name", type(env.unwrapped).__name__)
        trajectories.append(Trajectory(env_id, env_seed, token_ids=list(ids), loss_mask=[0] * len(ids),
                                       logprobs=[0.0] * len(ids), info={"success": False, **info.get("hidden", {})},
                                       context_starts=[] if keep_history else [0],
                                       images=placed_images(ids, 0, shown, per_image)))
        if info.get("show"):  # what the environment asks the viewer to show with the prompt (see viz.shows)
            trajectories[-1].info["show"] = info["show"]
        last_observation.append(observation)
        last_state.append(info.get("state"))
        tools.append(info.get("tools"))
    caches: list[EpisodeCache | None] = [None] * len(envs)   # episode i's keys and values, kept between turns
    pool = BufferPool()                              # the batch's KV memory, reused from turn to turn
    active = list(range(len(envs)))
    bar = tqdm(total=len(envs), desc="episodes", disable=not progress)
    while active:
        for start in range(0, len(active), batch_size):
            chunk = active[start:start + batch_size]
            new_ids, logprobs, kept = generate_turn(
                model, [context(trajectories[i]) for i in chunk],
                [caches[i] for i in chunk] if reuse_cache and keep_history else None,
                tokenizer.pad_token_id, stop_ids, max_new_tokens, temperature, generator, pool,
                [context_images(trajectories[i]) for i in chunk] if per_image else None)
            for i, ids, lps, kv in zip(chunk, new_ids, logprobs, kept):
                _record_turn(trajectories[i], envs[i], last_observation, last_state, i, ids, lps, tokenizer, stop_ids,
                             tools[i], per_image)
                caches[i] = kv
        for i in active:
            if not trajectories[i].turns[-1].done and len(context(trajectories[i])) + max_new_tokens > max_context:
                trajectories[i].info["context_full"] = True  # no room for another message: stop here
        still_open = [i for i in active if not trajectories[i].turns[-1].done and "context_full" not in
                      trajectories[i].info]
        for i in set(active) - set(still_open):
            caches[i] = None                          # a finished episode frees its cache
        bar.update(len(active) - len(still_open))
        active = still_open
    bar.close()
    return trajectories


def context(trajectory: Trajectory) -> list[int]:
    """The tokens the model conditions on next: the whole episode, or its latest fresh context."""
    return trajectory.token_ids[trajectory.context_starts[-1]:] if trajectory.context_starts else trajectory.token_ids


def context_images(trajectory: Trajectory) -> list[tuple[int, torch.Tensor]]:
    """The images of `context(trajectory)`: (where its placeholders start in the context, pixels)."""
    start = trajectory.context_starts[-1] if trajectory.context_starts else 0
    return [(image["start"] - start, to_pixels(image["pixels"])) for image in trajectory.images
            if image["start"] >= start]


def placed_images(ids: list[int], offset: int, images: list, per_image: int | None) -> list[dict]:
    """An observation's images as the trajectory keeps them: where each one's placeholders start among `ids`
    (tokens that will sit at `offset`), and its pixels as uint8 rows."""
    if not images:
        return []
    return [{"start": offset + at, "pixels": np.asarray(image, dtype=np.uint8).tolist()}
            for at, image in zip(image_starts(ids, per_image), images)]


def _record_turn(trajectory: Trajectory, env: gym.Env, last_observation: list[str], last_state: list, i: int,
                 ids: list[int], logprobs: list[float], tokenizer, stop_ids: list[int], tools: list | None,
                 per_image: int | None = None) -> None:
    """Send one message to its environment and append it, and the observation (appended to the history, or as a
    fresh context when the trajectory has context_starts), to the trajectory."""
    stopped = ids[-1] in stop_ids
    text = tokenizer.decode(ids[:-1] if stopped else ids, skip_special_tokens=False)
    observation, reward, terminated, truncated, info = env.step(text)
    done = terminated or truncated
    trajectory.turns.append(Turn(last_observation[i], text, info["action"], observation, float(reward), done,
                                 show=info.get("show", {}), state=last_state[i]))
    trajectory.token_ids += ids
    trajectory.loss_mask += [1] * len(ids)
    trajectory.logprobs += logprobs
    trajectory.info["success"] = bool(info.get("success", False))
    if not done:
        shown = info.get("images", [])
        content = expand_image_marks(observation, len(shown), per_image)
        fresh = fresh_context_text(tokenizer, content, tools) if trajectory.context_starts else None
        obs_ids, retrieved = observation_tokens(tokenizer, content, info.get("retrieved", []), fresh)
        start = len(trajectory.token_ids)
        trajectory.images += placed_images(obs_ids, start, shown, per_image)
        if fresh is not None:
            trajectory.context_starts.append(start)
        trajectory.retrieved += [[start + a, start + b] for a, b in retrieved]
        trajectory.token_ids += obs_ids
        trajectory.loss_mask += [0] * len(obs_ids)
        trajectory.logprobs += [0.0] * len(obs_ids)
    last_observation[i], last_state[i] = observation, info.get("state")
