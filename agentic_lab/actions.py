"""Turn the text a model wrote into an action: a tool call, a final answer, a memory operation, or an invalid action.

A message may also carry a plan, `<plan>...</plan>`, written before acting (notebook 07): it is kept with
the action (`Action.plan`) for the environment to record, the way `<think>` is allowed and ignored.

Whatever the model writes, `parse_action` returns an `Action` and never raises: malformed text becomes
an `invalid` action whose `error` tells the agent what was wrong (it becomes the next observation).
Nothing the model writes is ever evaluated; tool arguments are parsed as JSON only.

Memory operations (notebook 11) use the tiny tokenizer's memory tokens, one closing tag for all four:

    <mem_add>Keso job miner</mem>    <mem_update>2 Keso job baker</mem>    <mem_delete>2</mem>    <mem_noop></mem>

ADD and UPDATE may leave their text out (`<mem_add></mem>`, `<mem_update>2</mem>`: `Action.entry` is None), which
the memory bank takes to mean the fact it is handling, as it came. Slots are numbered from 1. Whether slot 2 exists or is empty is the environment's to say, not the parser's.
A message may also carry one `<state>...</state>` (notebook 11's rewritten internal state, MEM1), kept in
`Action.state` whatever the action is.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from typing import Literal

MAX_ACTION_CHARS = 2000  # longer text is refused before any parsing

# An opening tag (group 1) or a closing one (group 2); the memory operations all close with </mem>.
_TAG = re.compile(r"<(?:(think|plan|state|tool_call|answer|mem_add|mem_update|mem_delete|mem_noop)"
                  r"|/(think|plan|state|tool_call|answer|mem))>")
MEMORY_OPERATIONS = {"mem_add": "ADD", "mem_update": "UPDATE", "mem_delete": "DELETE", "mem_noop": "NOOP"}
_SLOT = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class Action:
    kind: Literal["tool_call", "answer", "memory", "invalid"]
    tool: str | None = None
    arguments: dict | None = None
    answer: str | None = None
    error: str | None = None
    plan: str | None = None       # the text inside <plan>...</plan>, if the message has one
    operation: str | None = None  # memory: ADD, UPDATE, DELETE or NOOP
    slot: int | None = None       # memory: the slot UPDATE or DELETE names
    entry: str | None = None      # memory: the text ADD or UPDATE stores
    state: str | None = None      # the message's <state>...</state>, if it wrote one


def invalid(error: str) -> Action:
    return Action("invalid", error=error)


def parse_action(text: str, end_token: str = "<|end|>") -> Action:
    """Parse one assistant message: optional <think>...</think>, at most one <plan>...</plan> and one
    <state>...</state>, then exactly one of <tool_call>{"name": ..., "arguments": {...}}</tool_call>,
    <answer>...</answer> or a memory operation."""
    if len(text) > MAX_ACTION_CHARS:
        return invalid(f"message longer than {MAX_ACTION_CHARS} characters")
    text = text.split(end_token, 1)[0] if end_token else text
    spans: dict[str, list[str]] = {name: [] for name in ("think", "plan", "state", "tool_call", "answer",
                                                          *MEMORY_OPERATIONS)}
    open_tag, start = None, 0
    for match in _TAG.finditer(text):
        opening, closing = match.groups()
        if opening:
            if open_tag is not None:
                return invalid(f"<{opening}> inside <{open_tag}>: tags cannot be nested")
            open_tag, start = opening, match.end()
        elif open_tag is None or ("mem" if open_tag in MEMORY_OPERATIONS else open_tag) != closing:
            return invalid(f"</{closing}> without a matching opening tag")
        else:
            spans[open_tag].append(text[start:match.start()])
            open_tag = None
    if open_tag is not None:
        return invalid(f"<{open_tag}> is never closed")
    for kept in ("plan", "state"):
        if len(spans[kept]) > 1:
            return invalid(f"write at most one <{kept}> per turn")
    actions = [(name, body) for name in ("tool_call", "answer", *MEMORY_OPERATIONS) for body in spans[name]]
    if not actions:
        return invalid("no <tool_call> and no <answer> (nor a memory operation): write one of them")
    if len(actions) > 1:
        return invalid("write exactly one <tool_call>, <answer> or memory operation per turn")
    (name, body), = actions
    if name == "answer":
        action = Action("answer", answer=body.strip())
    elif name == "tool_call":
        action = _parse_tool_call(body)
    else:
        action = _parse_memory(MEMORY_OPERATIONS[name], body.strip())
    if action.kind == "invalid":
        return action
    return replace(action, **{kept: spans[kept][0].strip() for kept in ("plan", "state") if spans[kept]})


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


def _parse_memory(operation: str, body: str) -> Action:
    """ADD takes text or nothing; UPDATE a slot number, then a space and text or nothing; DELETE a slot number; NOOP
    nothing. Text left out is entry None."""
    if operation == "NOOP":
        return Action("memory", operation="NOOP") if not body else invalid("<mem_noop></mem> takes nothing inside")
    if operation == "ADD":
        return Action("memory", operation="ADD", entry=body.strip() or None)
    slot, _, entry = body.partition(" ")
    if not _SLOT.fullmatch(slot):
        return invalid(f"<mem_{operation.lower()}> starts with a slot number, e.g. <mem_{operation.lower()}>2")
    if operation == "DELETE":
        return Action("memory", operation="DELETE", slot=int(slot)) if not entry.strip() else \
            invalid("<mem_delete> takes only a slot number")
    return Action("memory", operation="UPDATE", slot=int(slot), entry=entry.strip() or None)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")
