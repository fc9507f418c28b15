"""Verifiable rewards: programs that score an episode, no learned reward model in between (RLVR).

    outcome reward   1 if the final answer is right, else 0          what we want
    format reward    1 if every message is <think>…</think><answer>…</answer> or a well-formed tool call

The outcome reward is checked by the task itself (the environment's return); the format reward only looks
at the shape of the text, so a policy can earn it without being right: a reward for *how* it answers,
useful as a small shaping term, harmful as the main one (notebook 17 returns to this as reward hacking).
"""
from __future__ import annotations

import re

from agentic_lab.trajectory import Trajectory

_ANSWER_FORMAT = re.compile(r"<think>[^<]+</think><answer>[^<]+</answer>")


def outcome_reward(trajectory: Trajectory) -> float:
    """1.0 if the episode ended with a correct answer, else 0.0."""
    return float(trajectory.success)


def format_reward(text: str) -> float:
    """1.0 if `text` is exactly <think>reasoning</think><answer>answer</answer>, both non-empty, else 0.0."""
    return float(bool(_ANSWER_FORMAT.fullmatch(text.strip())))


def episode_format_reward(trajectory: Trajectory) -> float:
    """The format reward of the episode's last message (its answer)."""
    return format_reward(trajectory.turns[-1].text) if trajectory.turns else 0.0


def outcome_and_format(trajectory: Trajectory, format_weight: float = 0.1) -> float:
    """r = 1[correct] + w · 1[well-formed]: the format term breaks ties between wrong answers."""
    return outcome_reward(trajectory) + format_weight * episode_format_reward(trajectory)
