"""Two attempts (notebook 12): the feedback modes, what info records, the SCoRe stage II reward."""
import gymnasium as gym
import pytest
import torch

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


# --- the training loop's options for SCoRe: credit per attempt, a KL weight per attempt ---------------------------
def test_turn_credit_compares_each_attempt_with_the_same_attempt_of_the_group():
    """SCoRe's stage II rewards (α = 10) by hand: attempt 1 is credited with r1 alone, attempt 2 with r2 + bonus."""
    from agentic_lab.actions import parse_action
    from agentic_lab.rl import RLConfig, turn_advantages
    from agentic_lab.trajectory import Trajectory, Turn
    turn_rewards = [[0, 11], [1, 1], [0, 0], [1, -10]]
    trajectories = [Trajectory("two", None, turns=[Turn("o", "", parse_action("<answer>R</answer>"), None, r, k == 1)
                                                   for k, r in enumerate(rewards)]) for rewards in turn_rewards]
    got, _ = turn_advantages(trajectories, torch.zeros(4), RLConfig(group_size=4, credit="turn", scale_rewards="none"))
    assert got == [[-0.5, 10.5], [0.5, 0.5], [-0.5, -0.5], [0.5, -10.5]]
    scaled, _ = turn_advantages(trajectories, torch.zeros(4), RLConfig(group_size=4, credit="turn"))
    assert scaled[0][0] == pytest.approx(-0.5 / (1 / 3) ** 0.5, rel=1e-5)


def test_a_refused_message_does_not_shift_the_attempts_credit_and_kl_weight_compare():
    """Episode 0 opens with a message the environment refused: its first answer is still attempt 1, compared with
    the other episodes' first answers and weighed by β₁ (by message index it was attempt 2)."""
    from agentic_lab.actions import parse_action
    from agentic_lab.rl import RLConfig, attempt_indices, turn_advantages
    from agentic_lab.trajectory import Trajectory, Turn
    answer, refused = parse_action("<answer>R</answer>"), parse_action("no tags at all")
    episodes = [[(refused, -0.1), (answer, 1), (answer, 1)], [(answer, 0), (answer, 0)], [(answer, 0), (answer, 1)]]
    trajectories = [Trajectory("two", None, turns=[Turn("o", "", action, None, r, False) for action, r in turns])
                    for turns in episodes]
    assert [attempt_indices(t) for t in trajectories] == [[0, 0, 1], [0, 1], [0, 1]]
    got, _ = turn_advantages(trajectories, torch.zeros(3), RLConfig(group_size=3, credit="turn", scale_rewards="none"))
    first = [-0.1, 1, 0, 0]   # every message of attempt 1 in the group, the refused one among them
    second = [1, 0, 1]
    mean1, mean2 = sum(first) / 4, sum(second) / 3
    want = [[-0.1 - mean1, 1 - mean1, 1 - mean2], [-mean1, -mean2], [-mean1, 1 - mean2]]
    assert [a for row in got for a in row] == pytest.approx([a for row in want for a in row])


def test_grpo_loss_takes_one_kl_weight_per_token():
    from agentic_lab.algorithms import grpo_loss
    torch.manual_seed(0)
    logprobs, old, ref = (-torch.rand(2, 5) for _ in range(3))
    mask, advantages = torch.ones(2, 5), torch.tensor([1.0, -1.0])
    scalar, _ = grpo_loss(logprobs, old, advantages, mask, beta=0.3, ref_logprobs=ref)
    constant, _ = grpo_loss(logprobs, old, advantages, mask, beta=torch.full((2, 5), 0.3), ref_logprobs=ref)
    assert torch.allclose(scalar, constant)
    halves = torch.tensor([[0.3] * 5, [0.0] * 5])     # the first sequence only: the mean of the two per-row losses
    rows = [grpo_loss(logprobs[i:i + 1], old[i:i + 1], advantages[i:i + 1], mask[i:i + 1], beta=b, ref_logprobs=ref[i:i + 1])[0]
            for i, b in enumerate((0.3, 0.0))]
    assert torch.allclose(grpo_loss(logprobs, old, advantages, mask, beta=halves, ref_logprobs=ref)[0], sum(rows) / 2)


def test_a_kl_weight_per_attempt_is_beta_when_the_attempts_agree():
    """Two steps from the warm start, which answers twice (on the first π_θ = π_ref, where the KL term and its
    gradient are 0): one β for every attempt trains exactly as beta does, and a β on the first attempt only trains
    differently."""
    from agentic_lab import load_model
    from agentic_lab.reflection import MAX_NEW_TOKENS, WARM_START
    from agentic_lab.rl import RLConfig, grpo_train
    model, tokenizer = load_model(WARM_START)
    def train(**kl):
        trained = type(model)(model.config)
        trained.load_state_dict(model.state_dict())
        config = RLConfig(n_groups=2, group_size=3, max_new_tokens=MAX_NEW_TOKENS, lr=1e-2, **kl)
        history = grpo_train(trained, tokenizer, lambda: gym.make("agentic_lab/TwoAttempts-v0"), steps=2,
                             config=config, progress=False)
        return history[-1]["kl"], list(trained.parameters())
    (beta_kl, a), (turn_kl, b), (_, c) = train(beta=0.5), train(turn_beta=(0.5,)), train(turn_beta=(0.5, 0.0))
    assert beta_kl > 0 and beta_kl == pytest.approx(turn_kl, rel=1e-5)
    assert all(torch.allclose(x, y) for x, y in zip(a, b)) and not all(torch.allclose(x, y) for x, y in zip(a, c))


def test_demonstrations_answer_twice_with_the_models_own_answers(tiny):
    from agentic_lab.reflection import demonstrations
    from agentic_lab.tasks import sample_tasks
    model, tokenizer = tiny
    conversations = demonstrations(model, tokenizer, 40, seed=3)
    prompts = {t.prompt: t for t in sample_tasks("navigation", 128, seed=3_000, split="train")}
    assert len(conversations) == 40
    for user, first, feedback, second in conversations:
        task = prompts[user["content"]]
        assert first["content"].startswith("<answer>") and second["content"].startswith("<answer>")
        right = task.check(first["content"][len("<answer>"):-len("</answer>")])
        assert feedback["content"] == RETRY if right else feedback["content"].endswith("again.")
    assert demonstrations(model, tokenizer, 40, seed=3) == conversations


def test_the_report_counts_each_transition_and_a_missing_attempt_as_wrong():
    from agentic_lab.actions import parse_action
    from agentic_lab.reflection import attempts_report
    from agentic_lab.trajectory import Trajectory, Turn
    def episode(task, *attempts):
        show = {"feedback": "none", "attempts": [{"answer": a, "correct": c} for a, c in attempts]}
        turn = Turn(task, "", parse_action("<answer>R</answer>"), None, 0.0, True, show)
        return Trajectory("two", None, turns=[turn])
    row = attempts_report([episode("a", ("RR", False), ("RD", True)), episode("b", ("DD", True), ("DD", True)),
                           episode("c", ("UU", True), ("L", False)), episode("d", ("LL", False))])["none"]
    assert (row["n"], row["accuracy_1"], row["accuracy_2"], row["delta"]) == (4, 0.5, 0.5, 0.0)
    assert (row["wrong_to_right"], row["right_to_wrong"]) == (0.25, 0.25)
    assert row["edit_distance"] == (1 + 0 + 2 + 2) / 4


def test_the_reports_standard_errors_count_tasks_not_samples():
    """Four samples of each of two tasks, one always right and one always wrong at attempt 1: two tasks' worth of
    evidence, SE = sd(1, 0)/sqrt(2) = 0.5, not the sqrt(p(1 - p)/8) = 0.177 of eight independent draws."""
    from agentic_lab.actions import parse_action
    from agentic_lab.reflection import attempts_report
    from agentic_lab.trajectory import Trajectory, Turn
    def episode(task, first, second):
        show = {"feedback": "none", "attempts": [{"answer": "R", "correct": first}, {"answer": "R", "correct": second}]}
        turn = Turn(task, "", parse_action("<answer>R</answer>"), None, 0.0, True, show)
        return Trajectory("two", None, turns=[turn])
    row = attempts_report([episode("easy", True, True)] * 4 + [episode("hard", False, k < 2) for k in range(4)])["none"]
    assert (row["n"], row["tasks"], row["accuracy_1"], row["accuracy_2"]) == (8, 2, 0.5, 0.75)
    assert row["accuracy_1_se"] == pytest.approx(0.5)
    assert row["delta"] == 0.25 and row["delta_se"] == pytest.approx(0.25)   # task deltas 0 and 0.5


# --- notebook 12's headline claims, at its own scale ------------------------------------------------------------
@pytest.mark.slow
def test_a_bare_verdict_makes_the_second_attempt_better_and_no_feedback_makes_it_worse(training_threads):
    """Section 3 (300 held-out tasks, once each at T = 1, the shipped warm start, no training): after "Wrong" the
    second attempt gains over the first by more than two standard errors and never breaks a right answer; with no
    feedback it loses."""
    from agentic_lab import load_model
    from agentic_lab.reflection import MAX_NEW_TOKENS, WARM_START, TwoAttemptsEnv, attempts_report
    from agentic_lab.rollout import rollout
    warm, tokenizer = load_model(WARM_START)
    seeds = [100_000 + k for k in range(300)]
    rows = {feedback: attempts_report(rollout(warm, tokenizer, [TwoAttemptsEnv(feedback=feedback, split="test") for _ in seeds],
                                              seeds, temperature=1.0, max_new_tokens=MAX_NEW_TOKENS))[feedback]
            for feedback in ("none", "wrong")}
    assert rows["wrong"]["delta"] > 2 * rows["wrong"]["delta_se"] and rows["wrong"]["right_to_wrong"] == 0
    assert rows["none"]["delta"] < 0


@pytest.mark.slow
def test_self_training_rounds_raise_first_attempt_accuracy(training_threads):
    """Section 6 at its scale (3 rounds of 4 samples on 256 train tasks and 30 fine-tuning steps at 3e-4, without
    rationalisation, from the shipped warm start): held-out first-attempt accuracy (300 tasks × 4 samples at T = 1,
    paired by task) rises by more than two standard errors."""
    import copy

    import numpy as np

    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain, play_tasks
    from agentic_lab.reflection import WARM_START, TwoAttemptsEnv, self_training_round
    from agentic_lab.tasks import sample_tasks
    warm, tokenizer = load_model(WARM_START)
    test_tasks = [TwoAttemptsEnv(split="test").reset(seed=100_000 + k)[1]["task"] for k in range(300)]

    def accuracy(model):
        played = play_tasks(model, tokenizer, [t for t in test_tasks for _ in range(4)], temperature=1.0, seed=9,
                            max_turns=1)
        return [np.mean([p.success for p in played[4 * i:4 * i + 4]]) for i in range(len(test_tasks))]
    model = copy.deepcopy(warm)
    for k in range(3):
        self_training_round(model, tokenizer, sample_tasks("navigation", 256, seed=500 + k, split="train"), samples=4,
                            steps=30, lr=3e-4, seed=k)
    gain, stderr = paired_gain(accuracy(warm), accuracy(model))
    assert gain > 2 * stderr


def test_the_viewer_shows_the_attempts_as_one_line_and_nothing_where_there_is_nothing_yet():
    """The viewer drew raw `feedback none / attempts [] / edit_distance null` blocks under the prompt and every turn."""
    from agentic_lab.viz import render_shown
    env = gym.make("agentic_lab/TwoAttempts-v0", feedback="none").unwrapped
    _, info = env.reset(options={"task": TASK})
    assert render_shown(info["show"]) == ""
    first = env.step("<answer>DDRRRU</answer>")[-1]["show"]
    assert "1: DDRRRU ✓" in render_shown(first) and "edit_distance" not in render_shown(first)
    second = render_shown(env.step("<answer>D<R</answer>")[-1]["show"])
    assert "1: DDRRRU ✓ · 2: D&lt;R ✗" in second and "edit_distance" in second and "feedback" not in second


def test_rationalisation_keeps_only_what_the_hint_corrected():
    """STaR's rationalisation counted a right first answer of the hinted episode (a fifth unhinted sample) as
    rationalised and kept it, mixing extra sampling into the hint's gain."""
    from agentic_lab.actions import parse_action
    from agentic_lab.reflection import hinted_answer
    from agentic_lab.trajectory import Trajectory, Turn
    def episode(*attempts):
        show = {"feedback": "check", "attempts": [{"answer": a, "correct": c} for a, c in attempts]}
        return Trajectory("two", None, turns=[Turn("t", "", parse_action("<answer>R</answer>"), None, 0.0, True, show)])
    assert hinted_answer(episode(("RR", False), ("RD", True))) == "RD"
    assert hinted_answer(episode(("DD", True), ("DD", True))) is None      # right at once: a sample, not a hint's work
    assert hinted_answer(episode(("RR", False), ("RU", False))) is None
    assert hinted_answer(episode(("RR", False))) is None                    # no second attempt
