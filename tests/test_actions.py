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


@pytest.mark.parametrize("text, operation, slot, entry", [
    ("<mem_add>Keso job miner</mem>", "ADD", None, "Keso job miner"),
    ("<mem_update>2 Keso job baker</mem><|end|>", "UPDATE", 2, "Keso job baker"),
    ("<mem_add></mem>", "ADD", None, None),                 # the text left out: the fact being handled
    ("<mem_update>2</mem>", "UPDATE", 2, None),
    ("<think>old</think><mem_delete> 3 </mem>", "DELETE", 3, None),
    ("<mem_noop></mem>", "NOOP", None, None),
])
def test_memory_operations(text, operation, slot, entry):
    action = parse_action(text)
    assert (action.kind, action.operation, action.slot, action.entry) == ("memory", operation, slot, entry)


@pytest.mark.parametrize("text, reason", [
    ("<mem_update>Keso job baker</mem>", "slot number"),
    ("<mem_delete>x</mem>", "slot number"),
    ("<mem_delete>2 Keso</mem>", "only a slot number"),
    ("<mem_noop>Keso</mem>", "nothing inside"),
    ("<mem_add>a</answer>", "without a matching"),
    ("<mem_merge>1 2</mem>", "without a matching"),          # an unknown operation is no tag at all
    ("<mem_noop></mem><mem_noop></mem>", "exactly one"),
    ("<state>a</state><state>b</state><answer>1</answer>", "at most one <state>"),
])
def test_malformed_memory_operations_become_invalid(text, reason):
    action = parse_action(text)
    assert action.kind == "invalid" and reason in action.error


def test_a_state_rides_with_any_action():
    assert parse_action("<state> Keso job miner </state><answer>miner</answer>").state == "Keso job miner"
    assert parse_action("<state>s</state><mem_noop></mem>").state == "s"
    assert parse_action("<answer>1</answer>").state is None
