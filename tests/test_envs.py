"""Every registered environment passes Gymnasium's checker, and no text crashes `step`."""
import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab.envs import INVALID_PENALTY, KeyDoorEnv
from agentic_lab.tasks import sample_tasks

# MiniWoB-v0 drives a real browser: tests/test_web.py runs the same checks on it, marked browser
ENV_IDS = sorted(name for name in gym.registry if name.startswith("agentic_lab/") and name != "agentic_lab/MiniWoB-v0")


def call(tool: str, **arguments) -> str:
    import json
    return f"<tool_call>{json.dumps({'name': tool, 'arguments': arguments})}</tool_call>"


def test_environments_are_registered():
    assert {"agentic_lab/Calculator-v0", "agentic_lab/KeyDoor-v0", "agentic_lab/MemoryBank-v0",
            "agentic_lab/MemoryState-v0", "agentic_lab/TwoAttempts-v0"} <= set(ENV_IDS)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_gymnasium_env_checker_passes(env_id):
    check_env(gym.make(env_id).unwrapped, skip_render_check=True)


def test_calculator_episode_tool_then_answer():
    env = gym.make("agentic_lab/Calculator-v0")
    task = sample_tasks("calculator", 1, seed=0)[0]
    observation, info = env.reset(seed=0, options={"task": task})
    assert observation == task.prompt and info["tools"][0]["function"]["name"] == "calc"
    expr = task.solution[0]["tool_calls"][0]["function"]["arguments"]["expr"]
    observation, reward, terminated, truncated, _ = env.step(call("calc", expr=expr))
    assert observation == task.answer and reward == 0 and not terminated
    observation, reward, terminated, truncated, info = env.step(f"<answer>{task.answer}</answer>")
    assert reward == 1 and terminated and info["success"]


def test_malformed_actions_cost_a_penalty_and_end_in_truncation():
    env = gym.make("agentic_lab/Calculator-v0")
    env.reset(seed=1)
    for _ in range(3):
        observation, reward, terminated, truncated, info = env.step("<answer>1")
        assert observation.startswith("Error:") and reward == -INVALID_PENALTY and not terminated
    assert not truncated
    *_, truncated, _ = env.step(call("search", query="x"))  # a tool this task does not offer
    assert truncated


@pytest.mark.parametrize("env_id, action", [
    ("agentic_lab/Calculator-v0", call("calc", expr="2**2")),           # an operator calc refuses
    ("agentic_lab/Calculator-v0", call("calc", expression="1+1")),      # a wrong argument name
    ("agentic_lab/Calculator-v0", call("calc", expr=12)),               # a number where text is due
    ("agentic_lab/SearchQA-v0", call("search")),                        # a missing argument
    ("agentic_lab/Copy-v0", call("read", key=" ")),                     # an empty key
    ("agentic_lab/KeyDoor-v0", call("move", direction="Q")),            # a value outside U, D, L, R
])
def test_a_tool_that_refuses_its_arguments_costs_the_penalty(env_id, action):
    env = gym.make(env_id)
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and info["invalid"] and not terminated


def test_key_door_needs_the_key_before_the_door():
    env = KeyDoorEnv()
    env.reset(seed=3)
    env.agent, env.key = (env.door[0], env.wall_col - 1), (-1, -1)  # next to the door; the key out of reach
    observation, reward, *_ = env.step(call("move", direction="R"))
    assert "locked" in observation and reward == 0
    env.has_key = True
    observation, reward, *_ = env.step(call("move", direction="R"))
    assert env.agent == env.door


def test_same_seed_same_episode():
    a, b = gym.make("agentic_lab/KeyDoor-v0"), gym.make("agentic_lab/KeyDoor-v0")
    assert a.reset(seed=5)[0] == b.reset(seed=5)[0]
    moves = [call("move", direction=d) for d in "RRDDLU"]
    assert [a.step(m)[:4] for m in moves] == [b.step(m)[:4] for m in moves]


TAGS = ["<answer>", "</answer>", "<tool_call>", "</tool_call>", "<think>", "</think>", "<plan>", "</plan>", "<|end|>",
        '{"name": ', '"arguments": ', '"calc"', '"move"', '"search"', "R", "forward", "{", "}", "[", "]", '"', "1e999",
        "9" * 40, "__import__", "NaN", "\\u0000", "\n", "<mem_add>", "<mem_update>", "<mem_delete>", "<mem_noop>",
        "</mem>", "<state>", "</state>", "99 ", "1 ", "take", "E", '"run"', '"code"', '"read"', '"key"',
        "def f(x):", "while True: pass"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(env_id=st.sampled_from(ENV_IDS),
       pieces=st.lists(st.one_of(st.sampled_from(TAGS), st.text(max_size=20)), max_size=30))
def test_no_text_crashes_step(env_id, pieces):
    env = gym.make(env_id, disable_env_checker=True).unwrapped
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step("".join(pieces))
    assert isinstance(observation, str) and env.observation_space.contains(observation)
    assert isinstance(reward, float) and isinstance(info, dict)
