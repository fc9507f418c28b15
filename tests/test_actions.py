import pytest

from agentic_lab.actions import parse_action


@pytest.mark.parametrize("text, kind, detail", [
    ("<answer>42</answer>", "answer", "42"),
    ("<think>6*7=42</think><answer> 42 </answer><|end|>", "answer", "42"),
    ('<tool_call>{"name": "calc", "arguments": {"expr": "6*7"}}</tool_call>', "tool_call", "calc"),
])
def test_well_formed_actions(text, kind, detail):
    action = parse_action(text)
    assert action.kind == kind and detail in (action.answer, action.tool)


def test_a_plan_travels_with_the_action():
    assert parse_action("<plan> RRD </plan><answer>R</answer>").plan == "RRD"
    assert parse_action('<plan>look</plan><tool_call>{"name": "search"}</tool_call>').plan == "look"
    assert parse_action("<answer>R</answer>").plan is None


@pytest.mark.parametrize("text, reason", [
    ("42", "no <tool_call> and no <answer>"),
    ("<answer>42", "never closed"),
    ("42</answer>", "without a matching"),
    ("<answer><answer>1</answer></answer>", "nested"),
    ("<plan>RR<answer>R</answer></plan>", "nested"),
    ("<plan>RR</plan>", "no <tool_call> and no <answer>"),
    ("<plan>R</plan><plan>D</plan><answer>R</answer>", "at most one <plan>"),
    ("<answer>1</answer><answer>2</answer>", "exactly one"),
    ('<answer>1</answer><tool_call>{"name": "calc"}</tool_call>', "exactly one"),
    ("<tool_call>calc(1+2)</tool_call>", "not valid JSON"),
    ('<tool_call>{"name": "calc", "arguments": {"expr": NaN}}</tool_call>', "not valid JSON"),
    ('<tool_call>{"arguments": {}}</tool_call>', '"name"'),
    ('<tool_call>{"name": "calc", "arguments": "1+2"}</tool_call>', "JSON object"),
    ("<tool_call>" + "[" * 5000 + "</tool_call>", "longer than"),
    ("<tool_call>" + "[" * 1900 + "</tool_call>", "JSON"),
])
def test_malformed_actions_become_invalid_with_a_reason(text, reason):
    action = parse_action(text)
    assert action.kind == "invalid" and reason in action.error
