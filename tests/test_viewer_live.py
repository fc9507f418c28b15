"""The live trajectory viewer, as a learner meets it: a real JupyterLab server, a notebook that builds a viewer,
run in headless Chromium; the test clicks the widget's controls and checks what the page shows.

Checked: the episode dropdown is never blank, the pane always shows the selected episode and the selection is
one the filter allows, the turn slider counts from 1 as the panes do, the viewer opens on a GRPO group with a
spread of rewards, the group view fits a 1,280 px wide window (its screenshot is left in the test's tmp
folder, `group_view_1280.png`), `show_source` listings scroll instead of wrapping mid-word, and saving the notebook
keeps the widgets' state, so that the viewer still shows after the notebook is closed and reopened."""
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import gymnasium as gym
import nbformat
import pytest

import agentic_lab.envs  # noqa: F401
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.trajectory import save_trajectories
from tests.browser import launch, sync_api
from tests.test_lab import ROOT, free_port

TOKEN = "agentic-lab-live-viewer"
NOTEBOOK = """\
from agentic_lab import load_model
from agentic_lab.trajectory import load_trajectories
from agentic_lab.viz import TrajectoryViewer

_, tokenizer = load_model()
TrajectoryViewer(load_trajectories("episodes.jsonl"), tokenizer)"""
SOURCE = """\
from agentic_lab.viz import show_source

show_source(TrajectoryViewer.html)"""


@pytest.fixture(scope="module")
def episodes(tiny, tmp_path_factory):
    """Three GRPO groups of four Calculator episodes, taken from a pool of forty in order: one where all fail, one
    where some succeed, one where all succeed. Episode 0 fails, as in notebook 06, where the viewer opened on one."""
    sync_api()  # skip before any work where no browser can be driven
    model, tokenizer = tiny
    seeds = group_seeds(n_groups=40, group_size=4, base_seed=500)
    pool = rollout(model, tokenizer, [gym.make("agentic_lab/Calculator-v0") for _ in seeds], seeds,
                   temperature=1.0, seed=0)
    groups = [pool[i:i + 4] for i in range(0, len(pool), 4)]
    def first_group(wins):  # the first group of the pool whose number of successes passes the test `wins`
        return next(g for g in groups if wins(sum(t.success for t in g)))
    played = first_group(lambda w: w == 0) + first_group(lambda w: 0 < w < 4) + first_group(lambda w: w == 4)
    folder = tmp_path_factory.mktemp("live")
    save_trajectories(played, folder / "episodes.jsonl")
    return folder, played


@pytest.fixture(scope="module")
def lab(episodes):
    """JupyterLab on a free local port with a token, serving the episodes' folder, its state kept in there too."""
    folder, _ = episodes
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK), nbformat.v4.new_code_cell(SOURCE)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "viewer.ipynb")
    news = folder / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no toast asking about news over the screenshot
    port = free_port()
    env = os.environ | {  # the kernel imports this checkout's package, whatever is installed
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces"),
        "JUPYTERLAB_SETTINGS_DIR": str(folder / "settings"), "IPYTHONDIR": str(folder / "ipython")}
    command = [sys.executable, "-m", "jupyterlab", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}", "--expose-app-in-browser",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    command += ["--allow-root"] if os.getuid() == 0 else []
    log = open(folder / "lab.log", "w")
    server = subprocess.Popen(command, cwd=folder, env=env, start_new_session=True, stdout=log, stderr=log)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                json.load(urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5))
                break
            except OSError:
                assert server.poll() is None, f"JupyterLab exited early; see {folder / 'lab.log'}"
                assert time.time() < deadline, f"JupyterLab did not answer within 60 s; see {folder / 'lab.log'}"
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def shown(page) -> list[tuple[str, str]]:
    """(seed, verdict) of each episode pane on screen, read from its header."""
    heads = page.locator(".alv-ep.on .alv-head").all_inner_texts()
    return [(re.search(r"seed\s(\d+)", h).group(1), "✓" if "success" in h else "✗") for h in heads]


def selected(select) -> tuple[str, str]:
    """(seed, verdict) of the episode the dropdown shows as selected."""
    label = select.evaluate("s => s.selectedIndex < 0 ? '' : s.options[s.selectedIndex].text")
    assert label, "the episode dropdown is blank"
    return re.search(r"seed\s(\d+)", label).group(1), "✓" if "✓" in label else "✗"


@pytest.mark.browser
@pytest.mark.slow
def test_live_viewer_in_jupyterlab(episodes, lab, tmp_path):
    api = sync_api()
    folder, played = episodes
    spread_seed = str(played[4].seed)  # the group with one success in four
    with api.sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(f"{lab}/lab/tree/viewer.ipynb?token={TOKEN}")
        page.wait_for_function("window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel")
        page.evaluate("""async () => {
            const notebook = window.jupyterapp.shell.currentWidget;
            await notebook.sessionContext.ready;
            await window.jupyterapp.commands.execute('notebook:run-all-cells');
        }""")
        page.wait_for_selector(".alv-ep.on .alv-head", timeout=120_000)
        control = lambda name: page.locator(".widget-dropdown", has=page.locator(f"label:text-is('{name}')"))
        episode, show = control("episode").locator("select"), control("show").locator("select")
        readout = page.locator(".widget-slider .widget-readout")

        def settled(expected_panes=1, verdict=None):
            """Wait for the kernel's answer to a click: the panes on screen are the selected episode's (and, after a
            filter, the selection is one the filter allows: until the kernel answers, the old selection and its pane
            still match each other)."""
            deadline = time.time() + 30
            while (len(shown(page)) != expected_panes or selected(episode)[0] not in {s for s, _ in shown(page)}
                   or verdict not in (None, selected(episode)[1])):
                assert time.time() < deadline, f"panes {shown(page)} never matched selection {selected(episode)}"
                time.sleep(0.2)

        # First render: a selection, the pane showing it, and the group it is in has a spread of rewards.
        time.sleep(1)  # let the widget's first state arrive in full
        assert shown(page) == [selected(episode)]
        assert selected(episode)[0] == spread_seed, "the viewer should open on a group with a spread of rewards"

        # The turn slider counts turns as the panes do: from 1, ending at the number of turns.
        assert readout.inner_text().strip() == "2"
        page.locator(".widget-slider .noUi-handle").focus()
        page.keyboard.press("ArrowLeft")
        page.wait_for_function("document.querySelectorAll('.alv-ep.on .alv-turn.off').length === 1")
        assert readout.inner_text().strip() == "1"
        page.keyboard.press("ArrowRight")

        # The group view: all four members, both outcomes, coloured by advantage, readable at 1,280 px.
        page.locator(".widget-toggle-button", has_text=re.compile("^group$")).click()
        page.wait_for_function("document.querySelectorAll('.alv-ep.on').length === 4")
        assert {verdict for _, verdict in shown(page)} == {"✓", "✗"}
        page.locator(".widget-toggle-button", has_text=re.compile("^advantage$")).click()
        page.wait_for_selector(".alv.mode-advantage")
        policy = page.locator('.alv-ep.on .t[title^="written by the policy"]').first
        assert policy.evaluate("e => getComputedStyle(e).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
        viewer = page.locator(".alv").first
        assert viewer.evaluate("e => e.scrollWidth <= e.clientWidth + 1"), "the group view overflows 1,280 px"
        heads = page.locator(".alv-ep.on .alv-head")
        one_line = "e => e.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(e).lineHeight)"
        assert all(heads.nth(k).evaluate(one_line) for k in range(heads.count())), "a member's header wraps"
        page.locator(".widget-vbox", has=viewer).first.screenshot(path=str(tmp_path / "group_view_1280.png"))
        page.locator(".widget-toggle-button", has_text=re.compile("^episode$")).click()
        settled()

        # The filter: the selection is always one it allows, and the pane shows it.
        for choice, verdict in [("success", "✓"), ("failure", "✗")]:
            show.select_option(choice)
            settled(verdict=verdict)
            assert shown(page) == [selected(episode)] and selected(episode)[1] == verdict
            assert all(verdict in label for label in episode.evaluate("s => [...s.options].map(o => o.text)"))
        show.select_option("all")
        settled()
        assert shown(page) == [selected(episode)]
        # Picking another episode shows that one.
        episode.select_option(index=0)
        settled()
        assert shown(page) == [selected(episode)] == [(str(played[0].seed), "✗")]

        # show_source scrolls sideways instead of cutting names in two.
        listing = page.locator(".jp-OutputArea-output pre", has_text="def html(").first
        style = listing.evaluate("e => [getComputedStyle(e).whiteSpace, getComputedStyle(e).wordBreak]")
        assert style == ["pre", "normal"], f"show_source listing styled {style}: it wraps"

        # The viewer survives closing the notebook: with the lab settings set-up ships (Makefile, LAB_OVERRIDES),
        # saving the notebook saves the widgets' state in it, which JupyterLab shows on reopening.
        page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
        saved = lambda: nbformat.read(folder / "viewer.ipynb", as_version=4).metadata.get("widgets", {})
        deadline = time.time() + 30
        while not saved():
            assert time.time() < deadline, "saving the notebook kept no widget state (is saveState set?)"
            time.sleep(0.5)
        state = saved()["application/vnd.jupyter.widget-state+json"]["state"]
        assert any("alv-ep" in str(model["state"].get("value", "")) for model in state.values())
        browser.close()
    assert (tmp_path / "group_view_1280.png").stat().st_size > 10_000
