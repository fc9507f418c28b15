"""Perception (notebook 13): the Look-v0 scene, its tools, the train/test split and the four rewards."""
import json
import random

import gymnasium as gym
import numpy as np
import pytest

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab.actions import Action
from agentic_lab.envs import INVALID_PENALTY
from agentic_lab.perception import (DIGIT, GLYPHS, WORN, LookEnv, cell_box, crop, curiosity_rewards,
                                    deepeyes_reward, demonstration, draw_scene, glance, glance_ceiling, glyph,
                                    look_metrics, outcome_reward, tool_bonus_reward, visual_operations)
from agentic_lab.trajectory import Trajectory, Turn


def call(tool, **box):
    return f"<tool_call>{json.dumps({'name': tool, 'arguments': box})}</tool_call>"


@pytest.mark.parametrize("split", ["train", "test"])
def test_the_scene_has_one_digit_legible_only_at_full_size(split):
    for seed in range(20):
        scene, digit, (x, y) = draw_scene(random.Random(seed), split)
        assert (scene[y:y + 5, x:x + 3] >= WORN).tolist() == glyph(digit).tolist()
        assert (scene >= WORN).sum() == glyph(digit).sum()                  # the marks are grey, not white
        assert (scene == WORN).sum() == (split == "test")                   # a held-out digit: one pixel worn
        zoomed = crop(scene, *cell_box(x, y))                               # a 16×16 cell, twice as large
        assert (zoomed >= WORN).sum() == 4 * glyph(digit).sum()
        view = glance(scene)                                                # 4×4 cells, each drawn 8×8
        assert view.shape == (32, 32) and (view == view.max()).sum() == 64  # one brightest cell: the digit's
        assert view[y // 16 * 8, x // 16 * 8] == view.max()


@pytest.mark.parametrize("split", ["train", "test"])
def test_a_glance_shows_how_many_pixels_a_digit_lights_not_which(split):
    rng, twins = random.Random(2), []
    while not twins:                              # a scene whose digit has twins (0, 6, 9 or 2, 3, 5)
        scene, digit, (x, y) = draw_scene(rng, split)
        twins = [d for d in GLYPHS if d != digit and glyph(d).sum() == glyph(digit).sum()]
    worn = int((scene[y:y + 5, x:x + 3] == WORN).sum())
    other = scene.copy()
    other[y:y + 5, x:x + 3] = 0
    for d in twins:                               # the twin drawn the same way: as many pixels worn
        pixels = other[y:y + 5, x:x + 3]
        pixels[glyph(d)] = DIGIT
        pixels[tuple(np.argwhere(glyph(d))[:worn].T)] = WORN
        assert np.array_equal(glance(other), glance(scene)) and not np.array_equal(other, scene)
        other[y:y + 5, x:x + 3] = 0


def test_the_glance_ceiling_is_of_the_digits_of_the_scenes_played():
    assert glance_ceiling() == 0.6                          # six lit counts among ten equally likely digits
    assert glance_ceiling(["0", "0", "6", "1"]) == 0.75     # 0 and 6 look alike: guess 0, wrong once in four
    assert glance_ceiling(GLYPHS) == 0.6


def test_held_out_scenes_are_new_at_the_pixel_level():
    """What the model reads of a held-out scene, its glance and the crop of the digit's cell, is never pixel for
    pixel what it read in training (issue 36: split by (digit, x, y), all 300 held-out crops were training ones)."""
    def seen(split, seeds):
        crops, glances = set(), set()
        for seed in seeds:
            scene, _, (x, y) = draw_scene(random.Random(seed), split)
            crops.add(crop(scene, *cell_box(x, y)).tobytes())
            glances.add(glance(scene).tobytes())
        return crops, glances
    train_crops, train_glances = seen("train", range(3000))
    test_crops, test_glances = seen("test", range(100_000, 100_300))
    assert not test_crops & train_crops
    assert not test_glances & train_glances


def test_crop_shows_the_box_and_an_answer_ends_the_episode():
    env = gym.make("agentic_lab/Look-v0").unwrapped
    observation, info = env.reset(seed=3)
    assert observation.count("<image>") == 1 and info["images"][0].shape == (32, 32)
    box = dict(zip(("x0", "y0", "x1", "y1"), cell_box(*env.position)))
    observation, reward, terminated, _, info = env.step(call("crop", **box))
    assert reward == 0 and not terminated and "<image>" in observation
    assert np.array_equal(info["images"][0], crop(env.scene, *box.values()))
    observation, reward, terminated, _, info = env.step(f"<answer>{env.digit}</answer>")
    assert reward == 1 and terminated and info["success"] and info["images"] == []


def test_erase_blanks_the_box_and_shows_the_new_view():
    env = LookEnv()
    env.reset(seed=4)
    x, y = env.position
    _, _, _, _, info = env.step(call("erase", x0=x, y0=y, x1=x + 3, y1=y + 5))
    assert (env.scene == DIGIT).sum() == 0 and np.array_equal(info["images"][0], glance(env.scene))


@pytest.mark.parametrize("box", [
    dict(x0=0, y0=0, x1=0, y1=16),          # zero width
    dict(x0=60, y0=0, x1=70, y1=16),        # past the right edge
    dict(x0=-1, y0=0, x1=8, y1=8),          # before the left edge
    dict(x0="a", y0=0, x1=8, y1=8),         # not a number
    dict(x0=1.5, y0=0, x1=8, y1=8),         # not an integer
    dict(x0=0, y0=0, x1=8),                 # a corner missing
])
@pytest.mark.parametrize("tool", ["crop", "erase"])
def test_a_bad_box_is_an_error_observation_with_the_penalty(tool, box):
    env = LookEnv()
    env.reset(seed=0)
    before = env.scene.copy()
    observation, reward, terminated, _, info = env.step(call(tool, **box))
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and info["invalid"] and not terminated
    assert info["images"] == [] and np.array_equal(env.scene, before)


def test_demonstrations_answer_right_and_look_when_told():
    for seed in range(10):
        messages, tools, images = demonstration(seed, look=seed % 2 == 1)
        assert len(images) == 1 + seed % 2 and {t["function"]["name"] for t in tools} == {"crop", "erase"}
        env = LookEnv()
        env.reset(seed=seed)
        assert messages[-1]["content"] == f"<answer>{env.digit}</answer>"


def test_a_demonstration_without_tools_is_the_one_glance_game():
    messages, tools, images = demonstration(3, look=False, tools=False)
    assert tools == [] and len(images) == 1 and len(messages) == 2
    with pytest.raises(AssertionError):
        demonstration(3, look=True, tools=False)


def episode(success: bool, calls: int, invalid: bool = False) -> Trajectory:
    turns = [Turn("", "", Action("tool_call", tool="crop", arguments={}), "", 0.0, False) for _ in range(calls)]
    turns += [Turn("", "", Action("invalid", error="x"), "", -0.1, False)] if invalid else []
    turns.append(Turn("", "", Action("answer", answer="1"), "", float(success), True))
    return Trajectory("agentic_lab/Look-v0", 0, turns, info={"success": success})


def test_curiosity_pays_for_looking_only_while_the_group_rarely_looks():
    # 1 of 8 looks: RaPR = 1/8, bonus 0.5 · (0.3 - 0.125) = 0.0875 (the paper's appendix C.3 figure)
    group = [episode(True, 1)] + [episode(True, 0)] * 7
    assert curiosity_rewards(group)[:2] == pytest.approx([1.0875, 1.0])
    # 3 of 8 look (RaPR 0.375 > H): no bonus; two calls beyond the first cost 2 · 0.05
    group = [episode(False, 3)] + [episode(True, 1)] * 2 + [episode(True, 0)] * 5
    assert curiosity_rewards(group)[:3] == pytest.approx([-0.1, 1.0, 1.0])


def test_deepeyes_pays_for_tools_only_with_a_right_answer_and_the_control_always():
    assert deepeyes_reward(episode(True, 1)) == pytest.approx(2.2)
    assert deepeyes_reward(episode(False, 1)) == pytest.approx(0.2)
    assert deepeyes_reward(episode(True, 0)) == pytest.approx(1.0)
    assert deepeyes_reward(episode(True, 0, invalid=True)) == pytest.approx(0.8)
    assert tool_bonus_reward(episode(False, 3)) == pytest.approx(0.6)
    assert outcome_reward(episode(True, 3)) == 1.0 and visual_operations(episode(True, 3)) == 3


def test_look_metrics_count_looks_calls_and_the_groups_under_the_target():
    group_a = [episode(True, 0), episode(True, 0), episode(False, 0), episode(True, 1)]   # RaPR 1/4 < 0.3
    group_b = [episode(True, 2), episode(True, 1), episode(False, 0), episode(True, 0)]   # RaPR 1/2
    assert look_metrics(group_a + group_b, group_size=4) == {"look_rate": 3 / 8, "calls": 4 / 8, "bonus_groups": 0.5}


def test_every_digit_is_drawn():
    digits = {draw_scene(random.Random(seed))[1] for seed in range(200)}
    assert digits == set(GLYPHS)


def test_without_looking_the_agent_answers_at_once():
    env = gym.make("agentic_lab/Look-v0", look=False).unwrapped
    _, info = env.reset(seed=0)
    assert info["tools"] == []
    observation, reward, terminated, truncated, _ = env.step(call("crop", x0=0, y0=0, x1=16, y1=16))
    assert observation.startswith("Error:") and reward == -INVALID_PENALTY and truncated


@pytest.mark.slow
def test_rl_on_the_outcome_teaches_the_warm_start_to_look_and_to_be_right_more_often(training_threads):
    """Section 5 at its scale (40 GRPO steps of 4 scenes × 8 at lr 1e-4 on the outcome, eyes frozen, from the shipped
    warm start): on 300 held-out scenes at T = 1, paired with the warm start, accuracy rises by more than two
    standard errors and the look rate rises."""
    import copy

    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain
    from agentic_lab.perception import LOOK_WARM_START, look_report, outcome_reward
    from agentic_lab.rl import RLConfig, grpo_train
    from agentic_lab.rollout import rollout
    from agentic_lab.vision import freeze_patch_projector
    warm, tokenizer = load_model(LOOK_WARM_START)
    seeds = [100_000 + k for k in range(300)]

    def play(model):
        return rollout(model, tokenizer, [LookEnv(split="test") for _ in seeds], seeds, temperature=1.0, seed=0)
    policy = freeze_patch_projector(copy.deepcopy(warm))
    grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/Look-v0"), 40,
               RLConfig(n_groups=4, group_size=8, lr=1e-4), reward_fn=outcome_reward, progress=False)
    before, after = play(warm), play(policy)
    gain, stderr = paired_gain([t.success for t in before], [t.success for t in after])
    assert gain > 2 * stderr
    assert look_report(after)["look_rate"] > look_report(before)["look_rate"]


def test_a_refused_crop_is_no_visual_operation():
    """A crop off the scene, or one where no tool is offered, shows nothing: DeepEyes' tool bonus and the curiosity
    rate counted it as looking."""
    from agentic_lab.actions import parse_action
    call = '<tool_call>{"name": "crop", "arguments": {"x0": 0, "y0": 0, "x1": 999, "y1": 5}}</tool_call>'
    refused = Turn("", call, parse_action(call), "Error: the box must lie inside the scene", -0.1, False)
    carried_out = Turn("", call, parse_action(call), "<image>\nThe box (0, 0)-(8, 8) at full size.", 0.0, False)
    answer = Turn("", "<answer>3</answer>", parse_action("<answer>3</answer>"), "Correct.", 1.0, True)
    episode = lambda *turns: Trajectory("agentic_lab/Look-v0", 0, turns=list(turns), info={"success": True})
    assert visual_operations(episode(refused, answer)) == 0
    assert visual_operations(episode(refused, carried_out, answer)) == 1
    assert deepeyes_reward(episode(refused, answer)) == pytest.approx(1.0)   # right and well formed; no tool bonus
