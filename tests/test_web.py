"""Notebook 16's pages: the twin's six tasks solved by the scripted expert on every split and layout, held-out words
and sentences never on a training page, impossible actions refused with the penalty; and, marked browser, the same
renderer, refusals and expert on real MiniWoB++ pages, which pass the environment checks the twin passes."""
import json
import random
import re
import statistics
import time

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, web
from agentic_lab.envs import INVALID_PENALTY


def call(tool: str, **arguments) -> str:
    return "<tool_call>" + json.dumps({"name": tool, "arguments": arguments}) + "</tool_call>"


def play_expert(env) -> tuple[float, dict]:
    inner = env.unwrapped
    for tool, arguments in web.expert_actions(inner.task_name, inner.utterance, inner.elements()):
        _, reward, terminated, _, info = env.step(call(tool, **arguments))
    assert terminated
    return reward, info


@pytest.mark.parametrize("perturbation", web.PERTURBATIONS)
@pytest.mark.parametrize("split", ["train", "test"])
@pytest.mark.parametrize("task", web.TASKS)
def test_the_expert_solves_every_twin_page(task, split, perturbation):
    env = gym.make("agentic_lab/WebTwin-v0", task=task, split=split, perturbation=perturbation)
    for seed in range(20):
        env.reset(seed=seed)
        reward, info = play_expert(env)
        assert reward == 1.0 and info["success"]


@pytest.mark.parametrize("task", web.TASKS)
def test_held_out_pages_use_words_and_sentences_no_training_page_uses(task):
    """Every word on a page (labels, links, text) and every word the sentence asks for (a name to type, a button,
    boxes to tick), compared without case or punctuation ("Amet," is "amet"): MiniWoB++'s fixed words aside. In
    every layout but "relabelled", which puts held-out words on a page by design."""
    def read(split):
        env = gym.make("agentic_lab/WebTwin-v0", task=task, split=split, perturbation=(None, "moved", "crowded"))
        pages = [env.reset(seed=seed)[0] for seed in range(200)]
        shown = [w for page in pages for line in page.splitlines()[1:]
                 for w in re.match(r'\[-?\d+\] \w+ "([^"]*)"', line).group(1).split()]
        asked = [w for page in pages for w in web.wanted(task, page.splitlines()[0]) if w != "nothing"]
        words = {w.strip(".,:").lower() for w in shown + asked} - {"submit", "one", "two"}
        return words, {page.splitlines()[0].split('"')[0] for page in pages}
    train_words, train_sentences = read("train")
    test_words, test_sentences = read("test")
    assert not train_words & test_words
    assert not train_sentences & test_sentences
    assert all(web.held_out_word(w) for w in test_words)


def test_a_mixed_environment_draws_each_pages_task_and_layout_from_its_seed():
    """task="any" and perturbation="any": every task kind in every layout turns up, a seed gives the same page each
    time (a GRPO group shares its seed, so its members share a page), and the expert still solves every page."""
    env = gym.make("agentic_lab/WebTwin-v0", task="any", perturbation="any")
    kinds = set()
    for seed in range(300):
        page, info = env.reset(seed=seed)
        kinds.add((info["hidden"]["task"], info["hidden"]["layout"]))
        assert env.reset(seed=seed)[0] == page
        assert play_expert(env)[0] == 1.0
    assert kinds == {(task, layout or "standard") for task in web.TASKS for layout in web.PERTURBATIONS}
    two = gym.make("agentic_lab/WebTwin-v0", task=("click-test-2", "focus-text"))
    assert {two.reset(seed=seed)[1]["hidden"]["task"] for seed in range(50)} == {"click-test-2", "focus-text"}
    with pytest.raises(ValueError):
        gym.make("agentic_lab/WebTwin-v0", task=("click-test-2", "scroll"))


def test_a_wrong_click_fails_and_ends_the_episode():
    env = gym.make("agentic_lab/WebTwin-v0", task="click-button")
    env.reset(seed=0)
    inner = env.unwrapped
    wrong = next(ref for ref, kind, text in web.describe(inner.elements())
                 if kind == "button" and text != inner.page.target)
    _, reward, terminated, _, info = env.step(call("click", ref=wrong))
    assert (reward, terminated, info["success"]) == (-1.0, True, False)


@pytest.mark.parametrize("action, message", [
    (call("click", ref=99), "no element [99]"), (call("click", ref="4"), "must be int"),
    (call("type", ref=6, text="x"), "only a textbox takes text"), (call("click", ref=-1), "nothing to click"),
    (call("type", ref=4), "missing ['text']"), ("<answer>done</answer>", "takes no answer"),
])
def test_an_impossible_action_is_refused_with_the_penalty_and_the_page_stays(action, message):
    env = gym.make("agentic_lab/WebTwin-v0", task="enter-text")
    page, _ = env.reset(seed=3)
    env.unwrapped.page.elements.append(web._element(-1, 3, "t", "a note", top=120))    # some text to click
    before = env.unwrapped.page_text()
    observation, reward, terminated, _, _ = env.step(action)
    assert message in observation and reward == -INVALID_PENALTY and not terminated
    assert env.unwrapped.page_text() == before


def test_typing_appends_and_submit_checks_the_whole_value():
    env = gym.make("agentic_lab/WebTwin-v0", task="enter-text")
    env.reset(seed=0)
    target = env.unwrapped.page.target
    env.step(call("type", ref=5, text=target[:2]))
    observation, _, _, _, _ = env.step(call("type", ref=5, text=target[2:] + "x"))
    assert f'[5] textbox "{target}x"' in observation
    _, reward, terminated, _, _ = env.step(call("click", ref=6))
    assert (reward, terminated) == (-1.0, True)


def test_the_twin_measures_text_as_chromium_does():
    # widths Chromium gave MiniWoB++'s elements (click-button seed 1, click-link seed 1, enter-text): a caption, a
    # link, a button in the browser's 13.33 px font, and the 25-pixel-padded Submit
    assert web.text_width("pharetra malesuada quis:") == pytest.approx(112.859, abs=0.1)
    assert web.text_width("amet.") == pytest.approx(25.016, abs=0.1)
    assert web.button_width("Cancel") == pytest.approx(57.5, abs=0.1)
    page = web.make_page("enter-text", random.Random(0))
    assert next(e["width"] for e in page.elements if e["text"] == "Submit") == pytest.approx(95.484, abs=0.1)


# --- real MiniWoB++ pages ------------------------------------------------------------------------------------------
needs_miniwob = pytest.mark.skipif(web.miniwob_available() is not None, reason=str(web.miniwob_available()))


@pytest.fixture(scope="module")
def browser_envs():
    envs = {task: gym.make("agentic_lab/MiniWoB-v0", task=task) for task in web.TASKS}
    yield envs
    for env in envs.values():
        env.close()


@pytest.mark.browser
@needs_miniwob
def test_the_expert_reads_real_pages_through_the_same_renderer(browser_envs):
    for task, env in browser_envs.items():
        for seed in range(3):
            page, _ = env.reset(seed=seed)
            assert page.splitlines()[0] == env.unwrapped.utterance and all(
                line.startswith("[") for line in page.splitlines()[1:]), page
            reward, info = play_expert(env)
            assert reward == 1.0 and info["success"], (task, page)


@pytest.mark.browser
@needs_miniwob
def test_twin_pages_are_as_long_and_as_tall_as_real_ones(browser_envs):
    """The twin builds a kind's pages as MiniWoB++ does: over 20 real and 200 twin pages of each kind, the number of
    lines the agent reads and the lowest element's top agree in mean and in range."""
    for task, env in browser_envs.items():
        real = [(len(env.reset(seed=seed)[0].splitlines()) - 1, max(web._number(e["top"]) for e in
                                                                      env.unwrapped.elements())) for seed in range(20)]
        twin = [(len(web.describe(page.elements)), max(e["top"] for e in page.elements))
                for page in (web.make_page(task, random.Random(seed)) for seed in range(200))]
        for i, (slack, name) in enumerate(((1.0, "lines"), (12.0, "lowest top"))):
            r, t = [x[i] for x in real], [x[i] for x in twin]
            assert abs(statistics.mean(r) - statistics.mean(t)) <= slack, (task, name)
            assert min(t) <= min(r) + slack and max(t) >= max(r) - slack, (task, name)


@pytest.mark.browser
@needs_miniwob
def test_a_real_page_refuses_what_the_twin_refuses_before_the_browser_acts(browser_envs):
    env = browser_envs["enter-text"]
    env.reset(seed=0)
    before = env.unwrapped.page_text()
    for action in (call("click", ref=99), call("type", ref=6, text="x")):
        observation, reward, terminated, _, _ = env.step(action)
        assert observation.startswith("Error:") and reward == -INVALID_PENALTY and not terminated
    assert env.unwrapped.page_text() == before


@pytest.mark.browser
@needs_miniwob
def test_the_real_environment_passes_gymnasiums_checker(browser_envs):
    check_env(browser_envs["click-button"].unwrapped, skip_render_check=True)


@pytest.mark.browser
@needs_miniwob
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(max_size=60), st.builds(call, st.sampled_from(["click", "type", "scroll"]),
                                                       ref=st.integers(-3, 30))))
def test_no_text_crashes_a_real_page(browser_envs, text):
    env = browser_envs["click-checkboxes"]
    if env.unwrapped.browser is None or env.unwrapped.done:
        env.reset(seed=0)
    observation, reward, _, _, _ = env.step(text)
    assert isinstance(observation, str) and -1.0 - INVALID_PENALTY <= reward <= 1.0


@pytest.mark.browser
@needs_miniwob
def test_a_model_meets_the_real_pages_a_script_gets_from_the_same_seeds(browser_envs):
    model, tokenizer = load_model(web.WARM_START)
    played = web.play_real(model, tokenizer, 2, tasks=("click-test-2", "enter-text"))
    assert [(t.info["task"], t.seed) for t in played] == [("click-test-2", 1), ("click-test-2", 2),
                                                           ("enter-text", 1), ("enter-text", 2)]
    for trajectory in played:
        page, _ = browser_envs[trajectory.info["task"]].reset(seed=trajectory.seed)
        assert page in tokenizer.decode(trajectory.token_ids)
    assert all(t.success for t in played if t.info["task"] == "click-test-2")    # not failed by MiniWoB++'s 10 s


@pytest.mark.browser
@needs_miniwob
def test_a_real_episode_waits_for_a_slow_agent():
    # MiniWoB++ fails an episode whose time runs out before the task is done; MiniWoB-v0 gives the time_limit
    for time_limit, reward_after_a_second in ((0.5, -1.0), (60.0, 1.0)):
        env = gym.make("agentic_lab/MiniWoB-v0", task="click-test-2", time_limit=time_limit)
        try:
            env.reset(seed=0)
            ref = web.expert_actions("click-test-2", env.unwrapped.utterance, env.unwrapped.elements())[0][1]["ref"]
            time.sleep(1.0)
            _, reward, terminated, _, _ = env.step(call("click", ref=ref))
            assert (reward, terminated) == (reward_after_a_second, True), time_limit
        finally:
            env.close()


def test_the_expert_does_not_redo_what_the_page_already_shows():
    env = gym.make("agentic_lab/WebTwin-v0", task="click-checkboxes")
    env.reset(seed=2)
    inner = env.unwrapped
    first, *rest = web.expert_actions(inner.task_name, inner.utterance, inner.elements())
    env.step(call(*first[:1], **first[1]))
    assert web.expert_actions(inner.task_name, inner.utterance, inner.elements()) == rest


@pytest.mark.slow
def test_the_clone_breaks_on_a_crowded_page_and_does_not_recover():
    """Notebook 16, section 4, at its scale (10 held-out pages a kind and layout): on the two kinds whose words every
    page shares (click-test-2's ONE, focus-text's textbox) the clone is right on the standard layout and loses more
    than two standard errors of it when lines of text come first (its demonstrations always had the target at ref
    4); and after the page refuses an action it seldom finishes the episode."""
    from agentic_lab.eval import standard_error
    clone, tokenizer = load_model(web.WARM_START)
    played = web.play_pages(clone, tokenizer, 10, tasks=("click-test-2", "focus-text"), layouts=(None, "crowded"))
    standard = [float(t.success) for t in played if t.info["layout"] == "standard"]
    crowded = [float(t.success) for t in played if t.info["layout"] == "crowded"]
    gap = sum(standard) / len(standard) - sum(crowded) / len(crowded)
    assert sum(standard) == len(standard)
    assert gap > 2 * (standard_error(standard) ** 2 + standard_error(crowded) ** 2) ** 0.5
    stuck = [t for t in played if any((turn.result or "").startswith("Error:") for turn in t.turns)]
    assert stuck and sum(t.success for t in stuck) <= len(stuck) / 4


@pytest.mark.slow
def test_grpo_on_crowded_pages_repairs_them_and_keeps_the_standard_ones():
    """Notebook 16's GRPO cell at its scale: 8 steps of 4 crowded click-test-2 training pages × 8 tries, seed 0; on
    20 held-out pages the crowded ones gain more than two standard errors, paired page by page with the clone, and
    the standard ones stay solved."""
    import copy

    from agentic_lab.eval import paired_gain
    from agentic_lab.rl import RLConfig, grpo_train
    clone, tokenizer = load_model(web.WARM_START)
    policy = copy.deepcopy(clone)
    config = RLConfig(n_groups=4, group_size=8, lr=3e-4, temperature=1.0, max_new_tokens=64, keep_history=False)
    grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/WebTwin-v0", task="click-test-2",
                                                   perturbation="crowded"), 8, config, seed=0, progress=False)
    held_out = dict(tasks=("click-test-2",), layouts=(None, "crowded"))
    before, after = (web.play_pages(model, tokenizer, 20, **held_out) for model in (clone, policy))
    success = {(name, layout): [float(t.success) for t in played if t.info["layout"] == layout]
               for name, played in (("clone", before), ("grpo", after)) for layout in ("standard", "crowded")}
    gain, se = paired_gain(success["clone", "crowded"], success["grpo", "crowded"])
    assert gain > 2 * se
    assert sum(success["grpo", "standard"]) == len(success["grpo", "standard"])
