"""Two attempts (notebook 12): the feedback modes, what info records, the SCoRe stage II reward."""
import gymnasium as gym
import pytest

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab.envs import INVALID_PENALTY
from agentic_lab.reflection import RETRY, edit_distance, navigation_check, score_rewards
from agentic_lab.tasks import Task
from agentic_lab.tokenizer import build_tokenizer

GRID = ["S.#.", "..#G", "....", "...."]
TASK = Task("navigation", "Go from S to G.\n" + "\n".join(GRID), "DDRRRU", (),
            info={"grid": GRID, "start": [0, 0], "goal": [1, 3]})


@pytest.mark.parametrize("r1, r2, expected", [(0, 1, (0, 11)), (1, 0, (1, -10)), (1, 1, (1, 1)), (0, 0, (0, 0))])
def test_score_stage_two_rewards(r1, r2, expected):
    assert score_rewards(r1, r2, alpha=10.0) == expected


def test_edit_distance():
    assert edit_distance("RRDD", "RRDD") == 0 and edit_distance("", "UUL") == 3
    assert edit_distance("kitten", "sitting") == 3 and edit_distance("RDRD", "DRDR") == 2


@pytest.mark.parametrize("plan, message", [
    ("RRR", "move 2 (R) hits a wall"), ("DDX", "move 3 ('X') is not U, D, L or R"),
    ("DD", "ends at row 3, column 1, not at G"), ("U", "move 1 (U) hits a wall or leaves the grid"),
])
def test_the_navigation_check_says_what_fails(plan, message):
    assert message in navigation_check(TASK, plan)


def play(feedback, answers, alpha=None):
    env = gym.make("agentic_lab/TwoAttempts-v0", feedback=feedback, alpha=alpha).unwrapped
    env.reset(options={"task": TASK})
    return [env.step(f"<answer>{a}</answer>") for a in answers]


def test_without_feedback_there_are_always_two_attempts_and_only_the_second_is_rewarded():
    (o1, r1, t1, _, _), (o2, r2, t2, _, info) = play("none", ["DDRRRU", "DDRR"])
    assert o1 == RETRY and (r1, t1) == (0.0, False) and (o2, r2, t2) == ("Wrong.", 0.0, True)
    assert info["attempts"] == [{"answer": "DDRRRU", "correct": True}, {"answer": "DDRR", "correct": False}]
    assert info["edit_distance"] == 2 and info["show"]["edit_distance"] == 2 and not info["success"]


def test_score_rewards_each_attempt_in_stage_two():
    (_, r1, *_), (_, r2, *_) = play("none", ["DD", "DDRRRU"], alpha=10.0)
    assert (r1, r2) == (0.0, 11.0)


@pytest.mark.parametrize("feedback, says", [("wrong", "Wrong. Answer again."), ("check", "move 2 (R) hits a wall")])
def test_feedback_after_a_wrong_first_attempt(feedback, says):
    (o1, r1, t1, _, _), (o2, r2, t2, _, info) = play(feedback, ["RRR", "DDRRRU"])
    assert says in o1 and not t1 and (o2, r2, t2) == ("Correct.", 1.0, True)
    assert [a["correct"] for a in info["attempts"]] == [False, True] and info["success"]


def test_with_feedback_a_right_first_attempt_ends_the_episode():
    [(observation, reward, terminated, _, info)] = play("check", ["DDRRRU"])
    assert (observation, reward, terminated) == ("Correct.", 1.0, True)
    assert info["attempts"][0] == info["attempts"][1] and info["edit_distance"] == 0


def test_an_invalid_message_is_not_an_attempt():
    env = gym.make("agentic_lab/TwoAttempts-v0").unwrapped
    env.reset(seed=0)
    observation, reward, terminated, _, info = env.step("<answer>RR")
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and info["attempts"] == []


def test_same_seed_same_task_and_short_observations():
    a, b = (gym.make("agentic_lab/TwoAttempts-v0").unwrapped for _ in range(2))
    assert a.reset(seed=7)[0] == b.reset(seed=7)[0]
    tokenizer = build_tokenizer()
    a.step("<answer>UUUU</answer>")
    assert len(tokenizer(a.task.prompt + navigation_check(a.task, "U" * 96) + RETRY)["input_ids"]) < 256
