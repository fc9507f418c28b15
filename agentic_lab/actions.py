"""Turn the text a model wrote into an action: a tool call, a final answer, or an invalid action.

A message may also carry a plan, `<plan>...</plan>`, written before acting (notebook 07): it is kept with
the action (`Action.plan`) for the environment to record, the way `<think>` is allowed and ignored.

Whatever the model writes, `parse_action` returns an `Action` and never raises: malformed text becomes
an `invalid` action whose `error` tells the agent what was wrong (it becomes the next observation).
Nothing the model writes is ever evaluated; tool arguments are parsed as JSON only.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Literal

MAX_ACTION_CHARS = 2000  # longer text is refused before any parsing

_TAG = re.compile(r"<(/?)(think|plan|tool_call|answer)>")


@dataclass(frozen=True)
class Action:
    kind: Literal["tool_call", "answer", "invalid"]
    tool: str | None = None
    arguments: dict | None = None
    answer: str | None = None
    error: str | None = None
    plan: str | None = None  # the text inside <plan>...</plan>, if the message has one


def invalid(error: str) -> Action:
    return Action("invalid", error=error)


def parse_action(text: str, end_token: str = "<|end|>") -> Action:
    """Parse one assistant message: optional <think>...</think>, at most one <plan>...</plan>, then exactly
    one of <tool_call>{"name": ..., "arguments": {...}}</tool_call> or <answer>...</answer>."""
    if len(text) > MAX_ACTION_CHARS:
        return invalid(f"message longer than {MAX_ACTION_CHARS} characters")
    text = text.split(end_token, 1)[0] if end_token else text
    spans: dict[str, list[str]] = {"think": [], "plan": [], "tool_call": [], "answer": []}
    open_tag, start = None, 0
    for match in _TAG.finditer(text):
        closing, name = match.group(1) == "/", match.group(2)
        if not closing:
            if open_tag is not None:
                return invalid(f"<{name}> inside <{open_tag}>: tags cannot be nested")
            open_tag, start = name, match.end()
        elif open_tag != name:
            return invalid(f"</{name}> without a matching <{name}>")
        else:
            spans[name].append(text[start:match.start()])
            open_tag = None
    if open_tag is not None:
        return invalid(f"<{open_tag}> is never closed")
    calls, answers, plans = spans["tool_call"], spans["answer"], spans["plan"]
    if len(calls) + len(answers) == 0:
        return invalid("no <tool_call> and no <answer>: write one of them")
    if len(calls) + len(answers) > 1:
        return invalid("write exactly one <tool_call> or one <answer> per turn")
    if len(plans) > 1:
        return invalid("write at most one <plan> per turn")
    plan = plans[0].strip() if plans else None
    if answers:
        return Action("answer", answer=answers[0].strip(), plan=plan)
    action = _parse_tool_call(calls[0])
    return replace(action, plan=plan) if action.kind == "tool_call" else action


def _parse_tool_call(body: str) -> Action:
    try:
        call = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        return invalid(f"tool call is not valid JSON ({str(e)[:60]})")
    if not isinstance(call, dict) or not isinstance(call.get("name"), str):
        return invalid('tool call must be {"name": "...", "arguments": {...}}')
    arguments = call.get("arguments", {})
    if not isinstance(arguments, dict):
        return invalid("tool call arguments must be a JSON object")
    return Action("tool_call", tool=call["name"], arguments=arguments)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")
