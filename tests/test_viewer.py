"""The trajectory viewer: the widget renders, and the exported page works in a real headless Chromium."""
from pathlib import Path

import gymnasium as gym
import pytest

import agentic_lab.envs  # noqa: F401
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.viz import TrajectoryViewer

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def runs(tiny):
    model, tokenizer = tiny
    seeds = group_seeds(n_groups=3, group_size=4)
    play = lambda seed: rollout(model, tokenizer, [gym.make("agentic_lab/SearchQA-v0") for _ in seeds], seeds,
                                temperature=1.0, seed=seed)
    return {"before": play(0), "after": play(1)}


def test_group_advantages_are_centred_within_each_group(runs, tiny):
    viewer = TrajectoryViewer(runs, tiny[1])
    for name, advantages in viewer.advantages.items():
        for g in range(3):
            assert abs(sum(advantages[4 * g: 4 * g + 4])) < 1e-6


def test_widget_and_views(runs, tiny):
    viewer = TrajectoryViewer(runs, tiny[1])
    box = viewer.widget()
    assert "alv-turn" in box.children[-1].value
    assert viewer.html("group", "before", 0).count('class="alv-ep on"') == 4
    assert viewer.html("compare", "before", 0).count('class="alv-ep on"') == 2
    longest = max(range(viewer.n), key=lambda i: len(runs["before"][i].turns))
    assert len(runs["before"][longest].turns) > 1  # search questions take a tool call and an answer
    assert 'class="alv-turn off"' in viewer.html("episode", "before", longest, step=0)


@pytest.mark.browser
def test_exported_page_in_a_real_browser(runs, tiny, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (make test installs it when run as root)")
    viewer = TrajectoryViewer(runs, tiny[1])
    path = Path(viewer.to_html(tmp_path / "viewer.html"))
    assert "http" not in path.read_text().replace("http-equiv", "")  # self-contained: nothing to fetch
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.goto(path.as_uri())
        shown = page.locator(".alv-ep.on")
        assert shown.count() == 1
        assert shown.locator(".alv-turn").count() >= 1
        policy_token = shown.locator('.t[title^="written by the policy"]').first
        mask_colour = policy_token.evaluate("e => getComputedStyle(e).backgroundColor")
        assert mask_colour not in ("rgba(0, 0, 0, 0)", "transparent")
        # step control: one turn back hides the last turn (when there is more than one)
        page.select_option(".c-episode", index=max(range(viewer.n), key=lambda i: len(runs["before"][i].turns)))
        visible = page.locator(".alv-ep.on .alv-turn:not(.off)").count()
        page.click(".c-prev")
        assert page.locator(".alv-ep.on .alv-turn:not(.off)").count() == max(1, visible - 1)
        assert page.locator(".c-step").inner_text().strip().startswith("turn")
        # colouring by log-prob changes the policy tokens' colour
        page.select_option(".c-mode", "logprob")
        assert "mode-logprob" in page.locator(".alv").first.get_attribute("class")
        # a GRPO group side by side; two runs side by side
        page.select_option(".c-view", "group")
        assert page.locator(".alv-ep.on").count() == 4
        page.select_option(".c-view", "compare")
        assert page.locator(".alv-ep.on").count() == 2
        page.screenshot(path=str(tmp_path / "viewer.png"), full_page=True)
        browser.close()
    assert (tmp_path / "viewer.png").stat().st_size > 1000
