"""The trajectory viewer: its views and colourings, what environments add to their turns, `show_source`, and the
exported page in a real headless Chromium (the live widget in JupyterLab: test_viewer_live.py)."""
import copy
import html
import re
from pathlib import Path

import gymnasium as gym
import pytest

import agentic_lab.envs  # noqa: F401
from agentic_lab import viz
from agentic_lab.envs import KeyDoorEnv
from agentic_lab.eval import play_tasks
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.tasks import sample_tasks
from agentic_lab.trajectory import load_trajectories, save_trajectories
from agentic_lab.viz import TrajectoryViewer
from tests.browser import launch, sync_api


@pytest.fixture(scope="module")
def runs(tiny):
    model, tokenizer = tiny
    seeds = group_seeds(n_groups=3, group_size=4)
    play = lambda seed: rollout(model, tokenizer, [gym.make("agentic_lab/SearchQA-v0") for _ in seeds], seeds,
                                temperature=1.0, seed=seed)
    return {"before": play(0), "after": play(1)}


def test_group_advantages_are_centred_within_each_group(runs, tiny):
    viewer = TrajectoryViewer(runs, tiny[1])
    assert viewer.size == 4
    for name, advantages in viewer.advantages.items():
        for g in range(3):
            assert abs(sum(advantages[4 * g: 4 * g + 4])) < 1e-6


def test_per_turn_advantages_colour_each_message_by_its_own(tiny):
    model, tokenizer = tiny
    episode = rollout(model, tokenizer, [gym.make("agentic_lab/CoinRooms-v0", horizon=5)], [0], max_new_tokens=12)[0]
    per_turn = [(-1) ** k * 0.5 * (k + 1) for k in range(len(episode.turns))]
    pane = viz.render_trajectory(episode, tokenizer, advantage=per_turn)
    for k, (turn, value) in enumerate(zip(pane.turns, per_turn)):
        assert f"A {value:+.2f}" in turn and f"advantage {value:+.2f}" in turn   # the label and each token's tip
    assert "· advantage" not in pane.head                                       # no one number for the episode


def test_views_turns_and_the_shared_prompt(runs, tiny):
    viewer = TrajectoryViewer(runs, tiny[1])
    assert "alv-turn" in viewer.widget().children[-1].value
    group = viewer.html("group", "before", 5)
    assert group.count('class="alv-ep on"') == 4 and "#4 " in group and "#7 " in group  # the members of 5's group
    assert group.count('class="alv-prompt"') == 1  # the task they share, shown once above them
    assert viewer.html("compare", "before", 0).count('class="alv-ep on"') == 2
    longest = max(range(viewer.n), key=lambda i: len(runs["before"][i].turns))
    assert len(runs["before"][longest].turns) > 1  # search questions take a tool call and an answer
    # turns count from 1, as the panes say: turn=1 shows the first turn only
    first_only = viewer.html("episode", "before", longest, turn=1)
    assert 'class="alv-turn" data-turn="1"' in first_only and 'class="alv-turn off" data-turn="2"' in first_only
    assert 'class="alv-turn off"' not in viewer.html("episode", "before", longest)


def test_the_viewer_opens_on_the_group_with_a_spread(runs, tiny):
    """Notebook 06's group viewer opened on a group where all eight failed: nothing to see in its colours."""
    viewer = TrajectoryViewer(runs, tiny[1])
    returns = [t.total_reward for t in runs["before"]]
    spreads = [max(returns[g:g + 4]) - min(returns[g:g + 4]) for g in range(0, 12, 4)]
    start = viewer.opening()
    assert spreads[start // 4] == max(spreads)
    assert returns[start] == max(returns[start - start % 4:start - start % 4 + 4])  # its best member


def test_without_groups_there_is_no_advantage_colouring(runs, tiny):
    """Before/after on distinct seeds: every advantage would be 0, so the mode is not offered; the legend says why."""
    singles = {name: ts[::4] for name, ts in runs.items()}  # one episode per seed
    viewer = TrajectoryViewer(singles, tiny[1])
    assert viewer.modes == ("mask", "logprob") and viewer.views == ("episode", "compare")
    assert "not GRPO groups" in viewer.html("compare") and "advantage +" not in viewer.html("compare")
    with pytest.raises(ValueError, match="colourings"):
        viewer.widget(mode="advantage")


def test_the_filter_never_leaves_a_filtered_out_episode_on_screen(runs, tiny):
    viewer = TrajectoryViewer(runs["before"], tiny[1])
    box = viewer.widget()
    show, episode = box.children[0].children[:2]
    out = box.children[-1]
    assert episode.value == viewer.start  # never blank (ipywidgets 8 leaves it None when options come later)
    for choice in ("success", "failure"):
        show.value = choice
        allowed = viewer.allowed(choice)
        if allowed:
            assert episode.value in allowed and [i for _, i in episode.options] == allowed
            assert f"#{episode.value} " in out.value
        else:
            assert episode.value is None and "No episode" in out.value


def with_outcome(trajectory, success: bool, reward: float):
    """A copy of an episode whose verdict and return are set (its last turn carries the reward)."""
    changed = copy.deepcopy(trajectory)
    changed.info["success"] = success
    for turn in changed.turns:
        turn.reward = 0.0
    changed.turns[-1].reward = reward
    return changed


def test_labels_and_the_filter_follow_the_run_shown_and_a_partial_return_is_no_failure(runs, tiny):
    """Notebook 11: with a second run selected the dropdown still read the first run's verdicts, and a half-right
    episode (+0.5) was a failure, so "success" showed nothing and "failure" hid half-right banks."""
    before = [with_outcome(t, False, -1.0) for t in runs["before"]]
    after = [with_outcome(t, i % 3 == 0, 1.0 if i % 3 == 0 else 0.5 if i % 3 == 1 else 0.0)
             for i, t in enumerate(runs["after"])]
    viewer = TrajectoryViewer({"before": before, "after": after}, tiny[1])
    assert viewer.filters == ("all", "success", "partial", "failure")
    assert viewer.allowed("success") == [] and viewer.allowed("success", "after") == [0, 3, 6, 9]
    assert viewer.allowed("partial", "after") == [1, 4, 7, 10]
    assert viewer.label(1, "after").endswith("◐ +0.50") and viewer.label(1).endswith("✗")
    assert "◐ partial" in viewer.html("episode", "after", 1)
    box = viewer.widget()
    show, episode, run = box.children[0].children
    run.value = "after"
    show.value = "partial"
    assert [i for _, i in episode.options] == [1, 4, 7, 10] and episode.value in (1, 4, 7, 10)
    assert all(label.endswith("◐ +0.50") for label, _ in episode.options)
    run.value = "before"
    assert episode.value is None and "No episode of before here is a partial" in box.children[-1].value
    assert TrajectoryViewer(runs, tiny[1]).filters == ("all", "success", "failure")   # offered only when there is one


def test_compare_is_offered_only_for_runs_that_played_the_same_tasks(runs, tiny):
    """Notebook 11 compared memory-bank streams with MEM1 episodes, different tasks, side by side."""
    assert "compare" in TrajectoryViewer(runs, tiny[1]).views
    shifted = {"before": runs["before"], "after": runs["after"][4:] + runs["after"][:4]}   # other seeds at each index
    assert "compare" not in TrajectoryViewer(shifted, tiny[1]).views


def test_the_turn_control_ends_at_the_last_turn_on_screen(runs, tiny):
    """Notebook 11: the slider reached turn 12 on a one-turn episode, and steps 12 to 2 changed nothing."""
    episodes = runs["before"][:1] + play_tasks(*tiny, sample_tasks("arithmetic", 1, seed=5, split="test"), max_turns=1)
    viewer = TrajectoryViewer(episodes, tiny[1])
    turns = [len(viewer.panes["run", i].turns) for i in range(viewer.n)]
    long, short = 0, 1
    assert turns[short] < turns[long]
    box = viewer.widget(index=long)
    episode, turn = box.children[0].children[1], box.children[2]
    assert turn.max == turn.value == turns[long]
    episode.value = short
    assert turn.max == turn.value == turns[short]
    episode.value = long
    assert turn.max == turn.value == turns[long]      # at its end it stays at the end


def test_episodes_given_their_task_are_not_labelled_with_a_seed(tiny):
    """Notebook 00 played tasks handed to the environment, and every one said `seed 0`."""
    played = play_tasks(*tiny, sample_tasks("arithmetic", 2, seed=5, split="test"), max_turns=1)
    assert all(t.seed is None for t in played)
    assert "seed" not in viz.format_trajectory(played[0]).splitlines()[0]
    assert TrajectoryViewer(played, tiny[1]).size == 1  # not a GRPO group


class MappedKeyDoor(KeyDoorEnv):
    """KeyDoor that shows the viewer the whole map at every turn, which the agent never sees."""
    def info(self) -> dict:
        grid = "\n".join("".join(self.cell(r, c) for c in range(self.SIZE)) for r in range(self.SIZE))
        return super().info() | {"show": {"map": grid}}


def test_an_environment_adds_what_its_turns_show(tiny, tmp_path):
    """The extension point: info["show"] from reset and step is kept with the trajectory and drawn under its
    turn, by default as text, or by a renderer the environment registers with `viz.shows`."""
    model, tokenizer = tiny
    played = rollout(model, tokenizer, [MappedKeyDoor(max_turns=2) for _ in range(2)], seeds=[3, 3],
                     temperature=1.0, seed=0)
    played = load_trajectories(save_trajectories(played, tmp_path / "keydoor.jsonl"))  # it survives a save
    assert "A" in played[0].info["show"]["map"] and all("map" in turn.show for turn in played[0].turns)
    viewer = TrajectoryViewer(played, tokenizer)
    page = viewer.html("episode", index=0)
    assert page.count('<div class="alv-show-name">map</div>') == 1 + len(played[0].turns)  # the prompt and each turn
    assert html.escape(played[0].turns[0].show["map"]) in page
    last_turn = page[page.rindex('data-turn="'):]
    assert "alv-show" in last_turn  # drawn inside its turn, so stepping back hides it with the turn
    try:
        viz.shows("map")(lambda grid: f'<table class="grid">{grid.count("#")} walls</table>')
        redrawn = TrajectoryViewer(played, tokenizer).html("episode", index=0)
        assert '<table class="grid">' in redrawn and '<pre class="alv-pre">' not in redrawn
    finally:
        viz.ENTRY_RENDERERS.pop("map")
    assert viz.show_entry("data:image/png;base64,AAAA").startswith("<img")
    assert html.escape('"k": [') in viz.show_entry({"k": [1]})  # JSON for what is neither text nor image


def test_show_source_is_highlighted_and_never_wraps_mid_word():
    listing = viz.source_html(viz.show_source)
    assert "white-space:pre;" in listing and "word-break:normal" in listing and "overflow-x:auto" in listing
    assert "agentic_lab.viz" in listing and "def</span>" in listing


def test_export_is_readable_by_others_and_the_widget_says_where_it_is(runs, tiny, tmp_path):
    viewer = TrajectoryViewer(runs, tiny[1])
    assert "static copy" not in str([c.value for c in viewer.widget().children if hasattr(c, "value")])
    path = Path(viewer.to_html(tmp_path / "viewer.html"))
    assert path.stat().st_mode & 0o777 == 0o644  # a web server, running as another user, can serve it
    captions = [c.value for c in viewer.widget().children if isinstance(c, viz.ipywidgets.HTML)]
    assert any("static copy" in text and str(path) in text for text in captions)


def test_the_site_shows_the_static_viewer_where_the_notebook_shows_the_widget(runs, tiny, monkeypatch):
    viewer = TrajectoryViewer(runs, tiny[1])
    live = viewer.widget()._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in live and "text/html" not in live  # a notebook stays lean
    monkeypatch.setenv("AGENTIC_LAB_SITE", "1")
    bundle = viewer.widget(view="compare", mode="logprob", index=3)._repr_mimebundle_()
    page = bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert page.count('class="alv-ep"') == 2 * viewer.n and "<script>" in page   # every pane, and the controls
    assert '"view": "compare"' in page and '"mode": "logprob"' in page and '"start": 3' in page


@pytest.mark.browser
def test_exported_page_in_a_real_browser(runs, tiny, tmp_path):
    api = sync_api()
    viewer = TrajectoryViewer(runs, tiny[1])
    path = Path(viewer.to_html(tmp_path / "new folder" / "viewer.html"))  # creates its folder
    assert "http" not in path.read_text().replace("http-equiv", "")  # self-contained: nothing to fetch
    assert not list(path.parent.glob(".*.tmp"))  # written atomically, nothing left behind
    longest = max(range(viewer.n), key=lambda i: len(runs["before"][i].turns))
    with api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(path.as_uri())
        shown = page.locator(".alv-ep.on")
        assert shown.count() == 1 and page.locator(".c-episode").input_value() == str(viewer.start)
        assert f"#{viewer.start} " in shown.locator(".alv-head").inner_text()
        assert shown.locator(".alv-turn").count() >= 1
        policy_token = shown.locator('.t[title^="written by the policy"]').first
        mask_colour = policy_token.evaluate("e => getComputedStyle(e).backgroundColor")
        assert mask_colour not in ("rgba(0, 0, 0, 0)", "transparent")
        # the filter keeps the selection when it can, and what is on screen is always the selection
        for choice in ("success", "failure", "all"):
            page.select_option(".c-filter", choice)
            options = page.locator(".c-episode option").all_inner_texts()
            if options:
                selected = page.locator(".c-episode").input_value()
                assert f"#{selected} " in page.locator(".alv-ep.on .alv-head").inner_text()
                assert choice == "all" or all(("✓" in o) == (choice == "success") for o in options)
        # step control: turns count from 1; one turn back hides the last turn
        page.select_option(".c-episode", str(longest))
        assert page.locator(".c-step").inner_text().strip() == f"turn {viewer.max_turns} of {viewer.max_turns}"
        visible = page.locator(".alv-ep.on .alv-turn:not(.off)").count()
        page.click(".c-prev")
        assert page.locator(".alv-ep.on .alv-turn:not(.off)").count() == visible - 1
        assert re.fullmatch(r"turn \d+ of \d+", page.locator(".c-step").inner_text().strip())
        page.click(".c-next")
        # colouring by log-prob changes the policy tokens' colour
        page.select_option(".c-mode", "logprob")
        assert "mode-logprob" in page.locator(".alv").first.get_attribute("class")
        # a GRPO group, one row per member, their shared prompt once above; two runs side by side
        page.select_option(".c-view", "group")
        assert page.locator(".alv-ep.on").count() == 4 and "shared" in page.locator(".alv").first.get_attribute("class")
        assert page.locator(".alv-shared .alv-prompt").count() == 1
        assert page.locator(".alv").first.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        page.select_option(".c-view", "compare")
        assert page.locator(".alv-ep.on").count() == 2
        page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
        browser.close()
    assert (tmp_path / "viewer.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def looked(tiny):
    """Two groups of two Look-v0 episodes of a VLM (untrained patch projection), scripted to crop then answer: each
    episode shows two images, the half view in its prompt and the crop in its first turn."""
    from agentic_lab.vision import from_text_model
    from tests.test_vision import CropsFirst
    model, tokenizer = tiny
    played = rollout(from_text_model(model).eval(), tokenizer, [CropsFirst() for _ in range(4)], group_seeds(2, 2),
                     temperature=1.0, max_new_tokens=8, seed=0)
    return played, tokenizer


def test_each_image_is_drawn_where_the_policy_saw_it(looked):
    from agentic_lab.vision import IMAGE_TOKEN
    played, tokenizer = looked
    page = TrajectoryViewer(played, tokenizer).html("episode", index=0)
    assert page.count('class="t alv-img"') == 2 and page.count('src="data:image/png;base64,') == 2
    assert html.escape(IMAGE_TOKEN) not in page                      # the placeholders are not spelled out
    prompt, first_turn = page.split('data-turn="1"')[0], page.split('data-turn="1"')[1].split('data-turn="2"')[0]
    assert "alv-img" in prompt and "alv-img" in first_turn


@pytest.mark.browser
def test_images_in_the_exported_page(looked, tmp_path):
    api = sync_api()
    played, tokenizer = looked
    path = Path(TrajectoryViewer(played, tokenizer).to_html(tmp_path / "look.html"))
    with api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(path.as_uri())
        images = page.locator(".alv-ep.on img")
        assert images.count() == 2
        for k in range(2):  # decoded (a broken data: URI has natural width 0) and drawn at 3× its 32 pixels
            assert images.nth(k).evaluate("e => [e.complete, e.naturalWidth, e.clientWidth]") == \
                [True, 32, 96]
        page.select_option(".c-view", "group")      # the group's shared prompt shows its one image once
        assert page.locator(".alv-shared img").count() == 1
        browser.close()


def test_the_legend_says_whether_an_advantage_is_per_episode_or_per_turn(runs, tiny):
    """Notebook 09 shows episode-level, GiGPO and critic advantages side by side: the legend must not call them all
    one A_i per episode."""
    viewer = TrajectoryViewer(runs, tiny[1])
    assert "one A_i for all tokens of an episode)" in viewer._legend()
    per_turn = {"before": viewer.advantages["before"],
                "after": [[a] * len(t.turns) for a, t in zip(viewer.advantages["after"], runs["after"])]}
    mixed = TrajectoryViewer(runs, tiny[1], advantages=per_turn)._legend()
    assert "episode in before" in mixed and "one A per turn in after" in mixed
