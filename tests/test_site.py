"""The course site (`make site`, site/build.py): built from one notebook, then read in headless Chromium from a
file:// URL with every request off the machine refused: the math typeset, a figure shown, a progress-bar widget
drawn from its saved state by the widgets' HTML manager, the trajectory viewer
answering a click with no kernel behind it, the search finding a word from a page, nothing fetched from the network.
And the build's own checks: the landing page read from the notebooks, and a broken link failing the build."""
import importlib.util
import subprocess
import sys

import pytest

from tests.browser import launch, sync_api
from tests.test_lab import ROOT

SITE_NOTEBOOKS = ("06_agent_loop",)  # math, a figure, an exercise, a progress bar and a trajectory viewer
LOCAL = ("file:", "data:", "blob:", "about:")

spec = importlib.util.spec_from_file_location("site_build", ROOT / "site" / "build.py")
site_build = sys.modules["site_build"] = importlib.util.module_from_spec(spec)  # dataclasses look it up there
spec.loader.exec_module(site_build)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    sync_api()  # skip before any work where no browser can be driven
    if not (ROOT / "site" / "node_modules").is_dir():
        pytest.skip("site/node_modules is missing (make test installs it with npm ci)")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, str(ROOT / "site" / "build.py"), "--notebooks", *SITE_NOTEBOOKS,
                            "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return out / "_build" / "html"


def test_the_landing_page_is_read_from_the_notebooks():
    chapter = site_build.read_chapter(ROOT / "notebooks" / "08_tool_use.ipynb")
    assert chapter.title.startswith("Tool use") and chapter.minutes > 0
    assert len(chapter.objectives) == 5 and chapter.objectives[0].startswith("run ReAct")
    assert "06" in chapter.builds_on and all(n < "08" for n in chapter.builds_on)
    assert chapter.exercises and all(name in site_build.EXERCISES for name in chapter.exercises)
    page = site_build.landing_page([chapter])
    assert "[Tool use" in page and "<!--" not in page and site_build.EXERCISES[chapter.exercises[0]].task in page


def test_a_link_to_a_missing_file_is_found(tmp_path):
    (tmp_path / "_static").mkdir()
    (tmp_path / "there.png").write_bytes(b"")
    (tmp_path / "_static" / "macros.html").write_text('<a href="{{ pathto(x) }}">')  # a theme's template, not a page
    (tmp_path / "page.html").write_text('<a href="#top"></a><a href="https://example.org/x"></a><img src="there.png">'
                                        '<img src="gone.png"><a href="other.html#part"></a>')
    assert site_build.broken_links(tmp_path) == ["page.html -> gone.png", "page.html -> other.html#part"]


@pytest.mark.browser
@pytest.mark.slow
def test_the_site_works_offline_in_a_real_browser(site):
    api = sync_api()
    assert (site / "index.html").exists() and (site / "timings.html").exists()
    with api.sync_playwright() as p:
        browser = launch(p)
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        remote = []
        context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(LOCAL)
                      else (remote.append(route.request.url), route.abort()))
        page = context.new_page()
        failed = []
        # Sphinx's search fetches each page it finds to show a summary, which a browser refuses from file:// (the
        # results are listed all the same; served over http the summaries show): those are not missing files.
        page.on("requestfailed", lambda request: request.resource_type in ("document", "fetch", "xhr")
                or failed.append(f"{request.url} ({request.failure})"))

        page.goto((site / "index.html").as_uri())
        assert page.locator("a", has_text="The agent loop").count() >= 1  # the course plan links each chapter
        assert page.locator(".bd-header-announcement", has_text="quick mode").count() == 1

        page.goto((site / "06_agent_loop.html").as_uri())
        page.wait_for_selector("mjx-container", timeout=30_000)              # MathJax, served by the site itself
        assert page.locator("mjx-container").count() > 10
        figure = page.locator(".cell_output img").first
        assert figure.evaluate("img => img.complete && img.naturalWidth > 100")
        assert page.locator("text=NotImplementedError").count() >= 1         # an exercise as a learner meets it
        assert page.locator("text=The course's solution").count() == 0       # and never its solution

        page.wait_for_selector(".widget-hprogress", timeout=30_000)          # a widget, from its saved state
        viewer = page.locator(".alv").first                                   # the static viewer, no kernel needed
        panes = lambda: viewer.locator(".alv-ep.on").count()
        viewer.locator(".c-view").select_option("episode")
        assert panes() == 1
        viewer.locator(".c-view").select_option("compare")
        assert panes() == 2                                                   # before and after, side by side
        before = viewer.locator(".c-step").inner_text()
        viewer.locator(".c-prev").click()
        assert viewer.locator(".c-step").inner_text() != before

        page.goto((site / "search.html").as_uri() + "?q=tokenizer")           # Sphinx's search, from its own index
        page.wait_for_selector("#search-results li", timeout=30_000)
        assert page.locator("#search-results li a", has_text="agent loop").count() >= 1
        browser.close()
    assert remote == [], f"the site asked the network for {remote}"
    assert failed == [], f"files the site needs are missing: {failed}"
