"""Build the course site: execute the notebooks, then one static, searchable site that works offline.

    make site                       # every notebook in quick mode (a banner on every page says so)
    make site SITE_MODE=full        # the full runs, whose numbers the text quotes
    python site/build.py --notebooks 00_tour 06_agent_loop --out /tmp/site    # some notebooks only

jupyter-book 1.x (Sphinx and myst-nb) executes the notebooks and caches their outputs with jupyter-cache, keyed
on their code cells, in `<out>/cache/<mode>`: a rebuild after editing one notebook re-executes only that one. The
cache does not see the package: after changing `agentic_lab`, delete the cache folder to re-execute everything.
The JavaScript a page needs (MathJax for the math, RequireJS and the Jupyter widgets' HTML manager for widgets)
is copied into the site from `site/node_modules` (`npm ci`, pinned by package-lock.json), so nothing is fetched
when the site is built or read. Warnings fail the build, and so does a link or image that points at no file.
The site is `<out>/_build/html/`: open its index.html, or copy the folder to any static host.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from agentic_lab.exercises import EXERCISES  # noqa: E402
from agentic_lab.runmode import QUICK_ENV, SITE_ENV  # noqa: E402

SITE = ROOT / "site"
NOTEBOOKS = ROOT / "notebooks"
# What a page loads, site/node_modules/<path> -> <book source>/<path>. Sphinx serves _vendor as _static (not _static
# itself: jupyter-book would add every .js file in it to every page) and copies _extra to the site's root, where the
# widgets' manager looks for its fonts (beside the page, at the path it has in the npm package).
JAVASCRIPT = {
    "mathjax/es5": "_vendor/mathjax",
    "requirejs/require.js": "_vendor/require.js",
    "@jupyter-widgets/html-manager/dist": "_extra/@jupyter-widgets/html-manager/dist",
}
TIMEOUT = {"quick": 300, "full": 1200}  # seconds per notebook: quick mode's budget is 60 s, full mode's 5 min
QUICK_BANNER = ("Built in quick mode: every notebook ran with small steps and small samples, so the numbers on these "
                "pages differ from the ones the text quotes, which come from full mode (make site SITE_MODE=full).")


@dataclass
class Chapter:
    """What the landing page says about one notebook, read from the notebook itself."""
    stem: str                                              # "08_tool_use"
    title: str                                             # "Tool use: when to call, which tool, ..."
    minutes: float                                         # full-mode time, as its first code cell announces it
    objectives: list[str] = field(default_factory=list)    # its "You will" list
    builds_on: list[str] = field(default_factory=list)     # the earlier notebooks its text names ("06")
    exercises: list[str] = field(default_factory=list)     # the exercises it checks (agentic_lab.exercises)
    experiments: list[str] = field(default_factory=list)   # the experiments/ scripts that extend it

    @property
    def number(self) -> str:
        return self.stem[:2]


def read_chapter(path: Path) -> Chapter:
    cells = json.loads(path.read_text())["cells"]
    text = lambda kind: "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == kind)
    first = "".join(cells[0]["source"])
    title = re.match(r"#\s*\d\d\s*·\s*(.+)", first).group(1).strip()
    minutes = float(re.search(r"announce\(full_minutes=([\d.]+)\)", text("code")).group(1))
    you_will = first.split("**You will**", 1)[1].strip().split("\n\n")[0] if "**You will**" in first else ""
    objectives = [" ".join(item.split()) for item in re.split(r"^\d+\.\s+", you_will.strip(), flags=re.M) if item.strip()]
    number = int(path.stem[:2])
    named = set()
    for match in re.finditer(r"[Nn]otebooks? (\d\d(?:\s*(?:–|-|,|and|or)\s*\d\d)*)", text("markdown")):
        numbers = [int(n) for n in re.findall(r"\d\d", match.group(1))]
        if "–" in match.group(1) and len(numbers) == 2:       # "notebooks 01–05"
            numbers = list(range(numbers[0], numbers[1] + 1))
        named.update(n for n in numbers if n < number)
    scripts = set(re.findall(r"experiments/(\w+\.py)", text("markdown") + text("code")))
    scripts |= {p.name for p in (ROOT / "experiments").glob(f"{path.stem[:2]}_*.py")}
    exercises = list(dict.fromkeys(re.findall(r'check\(\s*"(\w+)"', text("code"))))
    return Chapter(path.stem, title, minutes, objectives, [f"{n:02d}" for n in sorted(named)], exercises,
                   sorted(scripts))


def landing_page(chapters: list[Chapter]) -> str:
    """site/intro.md with the course plan and the instructors' notes filled in."""
    plan = ["## The course", "", "| | chapter | full mode on 2 cores |", "|---|---|---|"]
    plan += [f"| {c.number} | [{c.title}]({c.stem}.ipynb) | {c.minutes:g} min |" for c in chapters]
    notes = []
    for c in chapters:
        notes += [f"### {c.number} · {c.title}", ""]
        notes += ["The learner will:", ""] + [f"{k}. {item}" for k, item in enumerate(c.objectives, 1)] + [""]
        notes.append("Builds on: " + (", ".join(f"[{n}]({s.stem}.ipynb)" for n in c.builds_on
                                                for s in chapters if s.number == n) or "nothing before it") + ".")
        notes.append("")
        if c.exercises:
            notes += ["Exercises:", ""] + [f"- `{name}`: {EXERCISES[name].task}" for name in c.exercises] + [""]
        if c.experiments:
            notes += ["Extended by: " + ", ".join(f"`experiments/{s}`" for s in c.experiments) + ".", ""]
    page = (SITE / "intro.md").read_text()
    return page.replace("<!-- plan -->", "\n".join(plan)).replace("<!-- instructors -->", "\n".join(notes))


def book_config(mode: str, cache: Path) -> dict:
    """jupyter-book's _config.yml (written as JSON, which YAML reads)."""
    return {
        "title": "Agentic RL Lab",
        "author": "Agentic RL Lab",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "cache", "cache": str(cache), "timeout": TIMEOUT[mode],
                    "run_in_temp": False, "allow_errors": False},
        "html": {"announcement": QUICK_BANNER if mode == "quick" else "", "home_page_in_navbar": True,
                 "use_repository_button": False},
        "launch_buttons": {"binderhub_url": "", "jupyterhub_url": "", "colab_url": "", "thebe": False},
        "sphinx": {"config": {
            "html_show_sourcelink": False,
            "html_show_copyright": False,
            "mathjax_path": "mathjax/tex-chtml.js",                 # relative: served from the site's _static
            "html_static_path": ["_vendor"],
            "html_extra_path": ["_extra"],
            "nb_ipywidgets_js": {"require.js": {}, "../@jupyter-widgets/html-manager/dist/embed-amd.js": {}},
            # A trajectory viewer's output carries the widget and the static viewer (text/html, agentic_lab.viz):
            # a page has no kernel to answer the widget's controls, so the site shows the static one.
            "nb_mime_priority_overrides": [["html", "text/html", 5]],
        }},
    }


def stage(notebooks: list[Path], src: Path, mode: str, cache: Path) -> None:
    """The book's source folder: the notebooks, the landing page, the timings page, its configuration and the
    JavaScript it serves."""
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for path in notebooks:  # copied with a new time, so Sphinx reads each again and takes its outputs from the
        shutil.copy(path, src / path.name)  # cache: with the file's own time, an edit made during a build was missed
    (src / "index.md").write_text(landing_page([read_chapter(p) for p in notebooks]))
    (src / "timings.md").write_text("# How long each chapter ran\n\nExecuted for this build, in "
                                    f"{mode} mode (a chapter taken from the cache shows when it ran).\n\n"
                                    "```{nb-exec-table}\n```\n")
    toc = {"format": "jb-book", "root": "index",
           "chapters": [{"file": p.stem} for p in notebooks] + [{"file": "timings"}]}
    (src / "_toc.yml").write_text(json.dumps(toc, indent=1))
    (src / "_config.yml").write_text(json.dumps(book_config(mode, cache), indent=1))
    modules = SITE / "node_modules"
    for package_path, destination in JAVASCRIPT.items():
        origin, target = modules / package_path, src / destination
        if not origin.exists():
            raise SystemExit(f"{origin} is missing: run `npm ci --prefix site` (make site does)")
        target.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if origin.is_dir() else shutil.copy2)(origin, target)


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.targets += [value for name, value in attrs if name in ("href", "src") and value]


def broken_links(html_dir: Path) -> list[str]:
    """Every href or src in the site's pages that names a local file which does not exist, as "page -> target"
    (_static holds the themes' template fragments, which are not pages)."""
    broken = []
    for page in sorted(p for p in html_dir.rglob("*.html") if "_static" not in p.relative_to(html_dir).parts):
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for target in parser.targets:
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path:    # external, data:, or an anchor on the same page
                continue
            if not (page.parent / unquote(parts.path)).exists():
                broken.append(f"{page.relative_to(html_dir)} -> {target}")
    return broken


def execution_times(cache: Path) -> dict[str, float]:
    """Seconds each notebook's cached execution took, by notebook name."""
    from jupyter_cache import get_cache
    return {Path(r.uri).stem: r.data.get("execution_seconds") for r in get_cache(cache).list_cache_records()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("quick", "full"), default=os.environ.get("SITE_MODE", "quick"))
    parser.add_argument("--notebooks", nargs="*", help="notebook names (default: all of notebooks/)")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "site")
    args = parser.parse_args()
    names = args.notebooks or [p.stem for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))]
    notebooks = [NOTEBOOKS / f"{name.removesuffix('.ipynb')}.ipynb" for name in names]
    out = args.out.resolve()
    cache, src = out / "cache" / args.mode, out / "src"
    stage(notebooks, src, args.mode, cache)

    env = {k: v for k, v in os.environ.items() if k != QUICK_ENV} | {SITE_ENV: "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    if args.mode == "quick":
        env[QUICK_ENV] = "1"
    start = time.time()
    build = subprocess.run([str(Path(sys.executable).parent / "jupyter-book"), "build", str(src), "--path-output",
                            str(out), "--builder", "html", "--warningiserror", "--keep-going", "--quiet"], env=env)
    html_dir = out / "_build" / "html"
    broken = broken_links(html_dir) if html_dir.exists() else []
    for link in broken:
        print(f"broken link: {link}", file=sys.stderr)
    if build.returncode or broken:
        raise SystemExit(f"the site did not build cleanly (jupyter-book exit {build.returncode}, "
                         f"{len(broken)} broken links)")
    times = execution_times(cache)
    for name in names:
        print(f"{name:22s} executed in {times.get(name, float('nan')):6.1f} s ({args.mode} mode, cached)")
    size = sum(p.stat().st_size for p in html_dir.rglob("*") if p.is_file())
    print(f"built in {time.time() - start:.0f} s: {html_dir / 'index.html'} ({size / 1e6:.0f} MB)")


if __name__ == "__main__":
    main()
