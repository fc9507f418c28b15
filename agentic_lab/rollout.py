"""Run a model on tasks, turn by turn: generate a message, parse the action, call the tool, repeat.

Token in, token out: each episode keeps the exact token ids the model produced, and observations are
appended as tokens (rendered by the tokenizer's own chat template), so nothing the model wrote is ever
re-tokenised. Rows of a batch that finish early leave the batch at the next turn.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from agentic_lab.actions import parse_action
from agentic_lab.tasks import Task
from agentic_lab.tools import call_tool


@dataclass
class Episode:
    task: Task
    messages: list[dict]          # the conversation as text: prompt, assistant turns, observations
    token_ids: list[int]          # the whole episode as the model saw it
    answer: str | None = None     # what the model put inside <answer>...</answer>, if it got there
    success: bool = False
    errors: list[str] = field(default_factory=list)  # invalid actions, in order

    @property
    def turns(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)


def prompt_ids(tokenizer, task: Task) -> list[int]:
    return tokenizer.apply_chat_template(task.messages(), tools=task.tool_schemas(), add_generation_prompt=True,
                                         return_dict=False)


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


@torch.no_grad()
def generate(model, tokenizer, prompts: list[list[int]], max_new_tokens: int, temperature: float,
             stop_ids: list[int]) -> list[list[int]]:
    """One batched `generate` call; returns each row's new tokens up to and including its stop token."""
    batch = tokenizer.pad({"input_ids": prompts}, padding=True, return_tensors="pt")  # left padding
    sampling = dict(do_sample=True, temperature=temperature, top_k=0, top_p=1.0) if temperature > 0 else \
        dict(do_sample=False)
    out = model.generate(**batch, max_new_tokens=max_new_tokens, eos_token_id=stop_ids,
                         pad_token_id=tokenizer.pad_token_id, **sampling)
    rows = []
    for row in out[:, batch["input_ids"].shape[1]:].tolist():
        stop = next((k for k, t in enumerate(row) if t in stop_ids), None)
        rows.append(row if stop is None else row[: stop + 1])
    return rows


def run_episodes(model, tokenizer, tasks: list[Task], temperature: float = 0.0, max_turns: int = 4,
                 max_new_tokens: int = 96, seed: int = 0, batch_size: int = 128,
                 progress: bool = False) -> list[Episode]:
    """Play each task to the end: an answer, or `max_turns` assistant messages. Same seed, same episodes."""
    torch.manual_seed(seed)
    stop_ids = stop_token_ids(model, tokenizer)
    episodes = [Episode(t, t.messages(), prompt_ids(tokenizer, t)) for t in tasks]
    open_episodes = list(episodes)
    bar = tqdm(total=len(tasks), desc="episodes", disable=not progress)
    for _ in range(max_turns):
        for start in range(0, len(open_episodes), batch_size):
            chunk = open_episodes[start: start + batch_size]
            outputs = generate(model, tokenizer, [e.token_ids for e in chunk], max_new_tokens, temperature, stop_ids)
            for episode, new_ids in zip(chunk, outputs):
                _advance(episode, new_ids, tokenizer, stop_ids)
        bar.update(sum(e.answer is not None for e in open_episodes))
        open_episodes = [e for e in open_episodes if e.answer is None]
        if not open_episodes:
            break
    bar.update(len(open_episodes))
    bar.close()
    return episodes


def _advance(episode: Episode, new_ids: list[int], tokenizer, stop_ids: list[int]) -> None:
    """Record one assistant message and act on it."""
    finished = bool(new_ids) and new_ids[-1] in stop_ids
    text = tokenizer.decode(new_ids[:-1] if finished else new_ids, skip_special_tokens=False)
    episode.token_ids = episode.token_ids + new_ids
    episode.messages.append({"role": "assistant", "content": text})
    action = parse_action(text, end_token="") if finished else None
    if action is not None and action.kind == "answer":
        episode.answer = action.answer
        episode.success = episode.task.check(action.answer)
        return
    if action is None:
        result = "Error: the message did not end; finish each message with one action."
    elif action.kind == "invalid":
        result = f"Error: {action.error}"
    elif action.tool not in episode.task.tools:
        result = f"Error: tool {action.tool!r} is not available here."
    else:
        result = call_tool(action.tool, action.arguments)
    if result.startswith("Error:"):
        episode.errors.append(result)
    episode.messages.append({"role": "tool", "content": result})
    episode.token_ids = episode.token_ids + observation_ids(tokenizer, result)
