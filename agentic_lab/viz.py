"""Showing what an agent did: plain-text trajectories, success bar charts, the package's own code, and the
trajectory viewer, which environments extend with what their turns should show (`info["show"]`, `shows`)."""
from __future__ import annotations

import html
import inspect
import json
import math
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import ipywidgets
import torch

from agentic_lab.algorithms import group_advantages
from agentic_lab.runmode import is_site
from agentic_lab.trajectory import Trajectory, turn_spans, write_atomically
from agentic_lab.vision import IMAGE_TOKEN_ID, png_data_uri


def source_html(obj) -> str:
    """The code of a function or class, highlighted, as HTML that scrolls sideways instead of wrapping:
    JupyterLab's output style wraps a <pre> anywhere, which cut names in two (`importance_sam|pling_level`)."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    code = highlight(inspect.getsource(obj), PythonLexer(), HtmlFormatter(nowrap=True, noclasses=True))
    return (f'<div style="font:12px ui-monospace,monospace;color:#555">{html.escape(_where(obj))}</div>'
            '<pre style="white-space:pre;word-break:normal;overflow-wrap:normal;overflow-x:auto;margin:2px 0 8px;'
            f'padding:6px 8px;background:#f6f8fa;border-radius:4px;font-size:12px;line-height:1.4">{code}</pre>')


def show_source(obj) -> None:
    """Show the package's own code for a function or class in a notebook: the code the course runs,
    not a copy of it that could drift."""
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display
    except ImportError:
        get_ipython = lambda: None  # noqa: E731
    if get_ipython() is None:  # a plain script
        print(f"# {_where(obj)}\n{inspect.getsource(obj)}")
    else:
        display(HTML(source_html(obj)))


def _where(obj) -> str:
    return (f"{inspect.getmodule(obj).__name__}  ({Path(inspect.getsourcefile(obj)).name}, line "
            f"{inspect.getsourcelines(obj)[1]})")


def format_trajectory(trajectory: Trajectory) -> str:
    """The episode, one labelled line per message, rewards per turn, and the verdict."""
    def indent(text: str) -> str:
        return text.replace("\n", "\n" + " " * 13)
    seed = "" if trajectory.seed is None else f", seed {trajectory.seed}"  # None: the task was given, not drawn
    lines = [f"[{trajectory.env_id}{seed}]"]
    for k, turn in enumerate(trajectory.turns):
        if k == 0:
            lines.append(f"{'task':>11}: {indent(turn.observation)}")
        lines.append(f"{'model':>11}: {indent(turn.text)}")
        lines.append(f"{'env':>11}: {indent(turn.result or '')}   (reward {turn.reward:+g})")
    answer = trajectory.info.get("answer")
    verdict = "success" if trajectory.success else "failure" + (f" (gold answer: {answer})" if answer else "")
    lines.append(f"{'result':>11}: {verdict}")
    return "\n".join(lines)


def plot_success(results: dict[str, dict[str, dict]], ax=None, title: str = "held-out success"):
    """Grouped bars: one group per family, one bar per setting, with ±1 standard error."""
    import matplotlib.pyplot as plt
    ax = ax or plt.subplots(figsize=(8, 3))[1]
    settings = list(results)
    families = list(results[settings[0]])
    width = 0.8 / len(settings)
    for k, setting in enumerate(settings):
        xs = [i + k * width for i in range(len(families))]
        ys = [results[setting][f]["success"] for f in families]
        errs = [results[setting][f]["stderr"] for f in families]
        ax.bar(xs, ys, width, yerr=errs, label=setting, capsize=3)
    ax.set_xticks([i + width * (len(settings) - 1) / 2 for i in range(len(families))], families)
    ax.set_ylim(0, 1)
    ax.set_ylabel("success")
    ax.set_title(title)
    ax.legend()
    return ax


# --- what an environment adds to its turns ------------------------------------------------------
# An environment shows more than text by returning `info["show"]` from `reset` and `step`: a dict of
# JSON-serialisable entries, e.g. {"plan": "1. look up ...", "memory": ["Ada lives in Oslo"],
# "image": "data:image/png;base64,..."}. The rollout keeps each step's with its turn (`Turn.show`), the
# reset's with the trajectory (`Trajectory.info["show"]`), and the viewer draws every entry under its turn:
# a data: URI as an image, a string as text, anything else as JSON; an empty entry (None, "", [], {}) or one
# its renderer draws as "" is left out. For a richer drawing, register one by the entry's name, next to the
# environment:
#
#     @shows("memory")
#     def memory_bank(entries: list[str]) -> str:
#         return "<ol>" + "".join(f"<li>{html.escape(e)}</li>" for e in entries) + "</ol>"

EntryRenderer = Callable[[Any], str]  # an entry's value -> HTML
ENTRY_RENDERERS: dict[str, EntryRenderer] = {}


def shows(name: str) -> Callable[[EntryRenderer], EntryRenderer]:
    """Register how the viewer draws the entry `name` of an environment's info["show"]."""
    def register(render: EntryRenderer) -> EntryRenderer:
        ENTRY_RENDERERS[name] = render
        return render
    return register


def show_entry(value: Any) -> str:
    """The drawing of an entry nobody registered: an image, text, or JSON."""
    if isinstance(value, str) and value.startswith("data:image/"):
        return f'<img src="{html.escape(value)}" alt="" style="max-width:100%">'
    text = value if isinstance(value, str) else json.dumps(value, indent=1, ensure_ascii=False)
    return f'<pre class="alv-pre">{html.escape(text)}</pre>'


def render_shown(show: dict[str, Any]) -> str:
    drawn = {name: ENTRY_RENDERERS.get(name, show_entry)(value) for name, value in show.items()
             if not (value is None or isinstance(value, (str, list, dict)) and not value)}
    return "".join(f'<div class="alv-show"><div class="alv-show-name">{html.escape(name)}</div>{drawing}</div>'
                   for name, drawing in drawn.items() if drawing)


# --- the interactive trajectory viewer ----------------------------------------------------------
# Every trajectory is rendered to HTML once, in Python: one <span> per token, carrying its colour in
# each colouring mode as CSS variables (--m mask, --l log-prob, --a advantage). Switching the mode,
# stepping through turns, picking an episode, a group or a run only shows, hides or re-classes those
# spans, so the notebook widget (Python) and the exported static page (a few lines of JavaScript)
# share one renderer. A pane is one episode: a one-line header, the prompt, then its turns, turn k being
# the k-th message of the policy, what came back, and what the environment showed with it.

class ViewerBox(ipywidgets.VBox):
    """The live viewer's widget. Where the course site is built (`make site` sets AGENTIC_LAB_SITE=1), its output
    also carries the whole static viewer as text/html, which the site shows in its place: a web page has no Python
    kernel to answer the widget's controls, and the static viewer's script needs none."""
    static_html: str | None = None

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        return bundle | {"text/html": self.static_html} if self.static_html else bundle


VIEWER_CSS = """
.alv{font-family:system-ui,sans-serif;font-size:13px;color:#222;max-width:100%}
.alv-controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:6px}
.alv-legend{font-size:11px;color:#555;margin-bottom:6px}
.alv-panes{display:flex;gap:8px;align-items:flex-start}
.alv.view-group .alv-panes{flex-direction:column;align-items:stretch;gap:4px}
.alv-ep{flex:1 1 0;min-width:0;border:1px solid #ccc;border-radius:6px;padding:3px 6px;display:none}
.alv-ep.on{display:block}
.alv-head{font-weight:600;line-height:1.4}
.alv-head .ok{color:#187a2f}.alv-head .no{color:#b3261e}
.alv-prompt,.alv-turn{display:flex;gap:6px;border-top:1px dashed #ddd;padding:2px 0}
.alv-turn.off{display:none}
.alv-shared{border:1px solid #ccc;border-radius:6px;padding:3px 6px;margin-bottom:6px}
.alv.shared .alv-ep .alv-prompt,.alv:not(.shared) .alv-shared{display:none}
.alv-caption{font-size:11px;color:#555}
.alv-r{flex:0 0 6.5em;font-size:11px;color:#555;line-height:1.5}
.alv-body{flex:1;min-width:0}
.alv-toks{font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.5}
.alv .t{border-radius:2px}
.alv .sp{color:#6a1b9a;font-weight:600}
.alv.mode-mask .t{background:var(--m)}
.alv.mode-logprob .t{background:var(--l)}
.alv.mode-advantage .t{background:var(--a)}
.alv-show{margin:2px 0;padding:2px 6px;border-left:3px solid #8aa4c8;background:#f5f8fc}
.alv-show-name{font-size:11px;color:#555}
.alv-pre{margin:0;font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
.alv-img{display:inline-block;padding:2px;vertical-align:top}
.alv-img img{width:96px;height:96px;image-rendering:pixelated;display:block;border:1px solid #999}
"""


def _policy_colour(value: float, positive: str = "46,160,67", negative: str = "215,58,73") -> str:
    """A translucent green for value > 0, red for value < 0; value in [-1, 1]."""
    rgb = positive if value >= 0 else negative
    return f"rgba({rgb},{min(1.0, abs(value)) * 0.85:.2f})"


def _token_span(text: str, special: bool, mask: int, logprob: float, advantage: float | None,
                retrieved: bool = False) -> str:
    if mask:
        shade = "transparent" if advantage is None else _policy_colour(advantage / 2)
        colours = ("rgba(46,160,67,.35)", _policy_colour(-(1 - math.exp(logprob))), shade)
        tip = f"written by the policy; log-prob {logprob:.3f} (p={math.exp(logprob):.2f})"
        tip += "" if advantage is None else f"; advantage {advantage:+.2f}"
    elif retrieved:
        colours = ("rgba(33,118,210,.18)", "transparent", "transparent")
        tip = "retrieved by the search tool (masked out of the loss)"
    else:
        colours = ("rgba(0,0,0,.06)", "transparent", "transparent")
        tip = "shown to the policy (masked out of the loss)"
    shown = html.escape(text).replace("\n", "↵\n")
    style = f"--m:{colours[0]};--l:{colours[1]};--a:{colours[2]}"
    return f'<span class="t{" sp" if special else ""}" style="{style}" title="{tip}">{shown}</span>'


def _image_span(pixels: list, placeholders: int) -> str:
    """An image the policy was shown, in place of its placeholder tokens (out of the loss, like any observation)."""
    size = f"{len(pixels[0])}×{len(pixels)}"
    tip = f"image shown to the policy ({size} pixels, {placeholders} placeholder tokens; masked out of the loss)"
    return (f'<span class="t alv-img" style="--m:rgba(0,0,0,.06);--l:transparent;--a:transparent" title="{tip}">'
            f'<img src="{png_data_uri(pixels)}" alt="image {size}"></span>')


@dataclass(frozen=True)
class Pane:
    """One episode, rendered: a header, the prompt (with its key: equal prompts, equal keys), the turns."""
    head: str
    prompt: str
    prompt_key: int
    turns: tuple[str, ...]

    def html(self, turns: int | None = None, prompt: bool = True) -> str:
        """The pane showing turns 1..`turns` (all when None), and the prompt unless it is shown once above."""
        shown = [t if turns is None or k < turns else t.replace('class="alv-turn"', 'class="alv-turn off"', 1)
                 for k, t in enumerate(self.turns)]
        return self.head + (self.prompt if prompt else "") + "".join(shown)


def outcome(trajectory: Trajectory) -> str:
    """"success", "partial" (no success, but a positive return: half the questions right) or "failure"."""
    return "success" if trajectory.success else "partial" if trajectory.total_reward > 0 else "failure"


MARKS = {"success": "✓", "partial": "◐", "failure": "✗"}


def render_trajectory(trajectory: Trajectory, tokenizer, advantage: float | list[float] | None = None,
                      label: str = "") -> Pane:
    """One trajectory as a pane: its header, the prompt, then each turn: the message, what came back, its
    reward, and what the environment showed (`Turn.show`). `advantage` is the episode's (every token of it shares
    it), or one per turn (GiGPO, a turn-level critic: each message is coloured by its own)."""
    tokens = tokenizer.convert_ids_to_tokens(trajectory.token_ids)
    special = set(tokenizer.all_special_tokens)
    texts = [t if t in special else tokenizer.convert_tokens_to_string([t]) for t in tokens]
    logprobs = trajectory.logprobs or [0.0] * len(tokens)
    retrieved = {k for a, b in trajectory.retrieved for k in range(a, b)}
    per_turn = advantage if isinstance(advantage, (list, tuple)) else None
    token_advantage = [advantage if per_turn is None else None] * len(tokens)
    for (a, b), value in zip(turn_spans(trajectory.loss_mask), per_turn or []):
        token_advantage[a:b] = [value] * (b - a)
    spans = [_token_span(texts[k], tokens[k] in special, trajectory.loss_mask[k], logprobs[k], token_advantage[k],
                         k in retrieved) for k in range(len(tokens))]
    for image in trajectory.images:  # each run of placeholders drawn as the image it stood for, where the model saw it
        start = end = image["start"]
        while end < len(tokens) and trajectory.token_ids[end] == IMAGE_TOKEN_ID:
            end += 1
        spans[start:end] = [_image_span(image["pixels"], end - start)] + [""] * (end - start - 1)
    starts = [a for a, _ in turn_spans(trajectory.loss_mask)]  # where each message begins
    prompt_end = starts[0] if starts else len(spans)
    prompt = (f'<div class="alv-prompt"><div class="alv-r">prompt</div><div class="alv-body"><div class="alv-toks">'
              f'{"".join(spans[:prompt_end])}</div>{render_shown(trajectory.info.get("show", {}))}</div></div>')
    turns = []
    for k, (a, b) in enumerate(zip(starts, starts[1:] + [len(spans)])):
        turn = trajectory.turns[k] if k < len(trajectory.turns) else None
        reward, show = (turn.reward, turn.show) if turn else (0.0, {})
        credit = f"<br>A {per_turn[k]:+.2f}" if per_turn is not None and k < len(per_turn) else ""
        turns.append(f'<div class="alv-turn" data-turn="{k + 1}"><div class="alv-r">turn {k + 1}<br>reward {reward:+g}'
                     f'{credit}</div><div class="alv-body"><div class="alv-toks">{"".join(spans[a:b])}</div>'
                     f'{render_shown(show)}</div></div>')
    seed = "" if trajectory.seed is None else f" · seed {trajectory.seed}"
    result = outcome(trajectory)
    verdict = f'<span class="{"ok" if result == "success" else "no"}">{MARKS[result]} {result}</span>'
    shaded = "" if advantage is None or per_turn is not None else f" · advantage {advantage:+.2f}"
    head = (f'<div class="alv-head">{html.escape(label)} {html.escape(trajectory.env_id.split("/")[-1])}{seed}'
            f' · {verdict} · return {trajectory.total_reward:+g}{shaded}</div>')
    return Pane(head, prompt, zlib.crc32(str(trajectory.token_ids[:prompt_end]).encode()), tuple(turns))


class TrajectoryViewer:
    """Step through episodes turn by turn, colour tokens by loss mask, log-prob or advantage, see a GRPO
    group (one row per member) or runs that played the same tasks (before / after training) side by side; filter by
    outcome (success, partial: a positive return short of success, failure) in the run shown.

        viewer = TrajectoryViewer({"before": before, "after": after}, tokenizer)
        viewer                                          # in a notebook: the interactive widget
        viewer.widget(view="group", mode="advantage")   # the widget, opened on another view
        viewer.to_html("../runs/run.html")              # the same view as one self-contained static page

    `advantages` (per run, one per trajectory: a number, or a list of one per turn) default to group-relative
    advantages, groups being consecutive trajectories with the same environment and seed (see
    `rollout.group_seeds`). Without groups there are no advantages, and no colouring by them. The viewer opens on the group whose rewards
    are most spread, at its best member: the episode the next update would push up the most."""

    MODES = ("mask", "logprob", "advantage")
    VIEWS = ("episode", "group", "compare")
    FILTERS = ("all", "success", "partial", "failure")

    def __init__(self, runs: dict[str, list[Trajectory]] | list[Trajectory], tokenizer,
                 advantages: dict[str, list[float] | list[list[float]]] | None = None):
        self.runs = runs if isinstance(runs, dict) else {"run": runs}
        self.names = list(self.runs)
        lengths = {len(v) for v in self.runs.values()}
        if len(lengths) != 1 or 0 in lengths:
            raise ValueError("runs must hold the same number of trajectories (at least one), in the same order")
        self.n = lengths.pop()
        self.first = self.runs[self.names[0]]
        self.size = self.group_size(self.first)
        self.advantages = advantages or {name: self.group_advantages(ts) for name, ts in self.runs.items()}
        self.modes = self.MODES if any(a is not None for a in self.advantages.values()) else self.MODES[:2]
        # side by side only what can be compared: at each index every run played the same seed (the same task)
        paired = all(len({ts[i].seed for ts in self.runs.values()}) == 1 for i in range(self.n))
        offered = {"episode": True, "group": self.size > 1, "compare": len(self.runs) > 1 and paired}
        self.views = tuple(v for v in self.VIEWS if offered[v])
        found = {outcome(t) for ts in self.runs.values() for t in ts}
        self.filters = tuple(f for f in self.FILTERS if f != "partial" or "partial" in found)
        self.panes = {(name, i): render_trajectory(t, tokenizer, self._advantage(name, i), self._pane_label(name, i))
                      for name, ts in self.runs.items() for i, t in enumerate(ts)}
        self.max_turns = max(1, max(len(p.turns) for p in self.panes.values()))   # > 1: the viewer has a turn control
        self.start = self.opening()
        self.static_copy: Path | None = None  # where `to_html` last wrote the viewer

    @staticmethod
    def group_size(trajectories: list[Trajectory]) -> int:
        """Members per GRPO group: consecutive trajectories with the same environment and seed (1: no groups)."""
        keys = [(t.env_id, t.seed) for t in trajectories]
        size = 1
        while size < len(keys) and keys[size] == keys[0]:
            size += 1
        if keys[0][1] is None or len(keys) % size or any(keys[i] != keys[i - i % size] for i in range(len(keys))):
            return 1
        return size

    @classmethod
    def group_advantages(cls, trajectories: list[Trajectory]) -> list[float] | None:
        size = cls.group_size(trajectories)
        if size == 1:
            return None  # every episode alone in its group: every advantage would be 0
        rewards = torch.tensor([t.total_reward for t in trajectories], dtype=torch.float64)
        return group_advantages(rewards, size).tolist()

    def _advantage(self, name: str, i: int) -> float | list[float] | None:
        advantages = self.advantages.get(name)
        return None if advantages is None else advantages[i]

    def _pane_label(self, name: str, i: int) -> str:
        return f"{name} #{i}" if len(self.runs) > 1 else f"#{i}"

    def label(self, i: int, run: str | None = None) -> str:
        """What the episode dropdown says: number, environment, seed, outcome (in `run`, default the first)."""
        t = self.runs[run or self.names[0]][i]
        seed = "" if t.seed is None else f" seed {t.seed}"
        result = outcome(t)
        return f"{i}: {t.env_id.split('/')[-1]}{seed} {MARKS[result]}" + \
            (f" {t.total_reward:+.2f}" if result == "partial" else "")

    def allowed(self, show: str, run: str | None = None) -> list[int]:
        """The episodes a filter ("all" or an outcome) lets through in `run` (default the first)."""
        return [i for i, t in enumerate(self.runs[run or self.names[0]]) if show == "all" or outcome(t) == show]

    def turns_shown(self, view: str, run: str, index: int) -> int:
        """The most turns among the panes a view shows: how far the turn control reaches for them."""
        return max(1, max(len(self.panes[k].turns) for k in self.visible(view, run, index)))

    def opening(self) -> int:
        """The best member of the group whose returns are most spread (the first such group); 0 without groups."""
        returns = [t.total_reward for t in self.first]
        groups = [returns[g:g + self.size] for g in range(0, self.n, self.size)]
        g = max(range(len(groups)), key=lambda k: (max(groups[k]) - min(groups[k]), -k))
        return g * self.size + max(range(self.size), key=lambda k: (groups[g][k], -k))

    def visible(self, view: str, run: str, index: int) -> list[tuple[str, int]]:
        """Which (run, index) panes a view shows for the selected episode."""
        if view == "group":
            first = index - index % self.size
            return [(run, i) for i in range(first, first + self.size)]
        if view == "compare":
            return [(name, index) for name in self.names]
        return [(run, index)]

    def html(self, view: str = "episode", run: str | None = None, index: int | None = None, turn: int | None = None,
             mode: str = "mask") -> str:
        """The view for one state of the controls (what the widget shows); `turn` counts from 1, as the panes."""
        run, index = run or self.names[0], self.start if index is None else index
        keys = self.visible(view, run, index)
        shared = len(keys) > 1 and len({self.panes[k].prompt_key for k in keys}) == 1
        panes = "".join(f'<div class="alv-ep on">{self.panes[k].html(turn, prompt=not shared)}</div>' for k in keys)
        top = (f'<div class="alv-shared"><div class="alv-caption">the same prompt for each of the {len(keys)} '
               f'episodes below</div>{self.panes[keys[0]].prompt}</div>') if shared else ""
        return (f'<div class="alv mode-{mode} view-{view}{" shared" if shared else ""}"><style>{VIEWER_CSS}</style>'
                f'{self._legend()}{top}<div class="alv-panes">{panes}</div></div>')

    def _legend(self) -> str:
        per_turn = {name: any(isinstance(a, list) for a in values) for name, values in self.advantages.items()
                    if values is not None}
        each = ("one A per turn, shared by the turn's tokens" if all(per_turn.values()) else
                "one A_i for all tokens of an episode" if not any(per_turn.values()) else
                "one A_i for all tokens of an episode in " + ", ".join(n for n, t in per_turn.items() if not t) +
                "; one A per turn in " + ", ".join(n for n, t in per_turn.items() if t))
        advantage = (f"advantage: green positive, red negative ({each})"
                     if "advantage" in self.modes else "no advantage colouring: these episodes are not GRPO groups "
                     "(no two share a task), so every advantage would be 0")
        retrieved = (", blue = documents its search retrieved (shown, not trained on)"
                     if any(t.retrieved for ts in self.runs.values() for t in ts) else "")
        return (f'<div class="alv-legend">mask: green = written by the policy (trained on), grey = shown to it{retrieved}; '
                f'log-prob: redder = less likely under the sampler; {advantage}.</div>')

    def widget(self, view: str = "episode", mode: str = "mask", index: int | None = None):
        """The interactive viewer, opened on `view`, coloured by `mode`, at episode `index` (default: `opening`)."""
        w = ipywidgets
        if view not in self.views or mode not in self.modes:
            raise ValueError(f"this viewer has views {self.views} and colourings {self.modes}")
        options = lambda indices: [(self.label(i, run.value), i) for i in indices]
        show = w.Dropdown(options=self.filters, value="all", description="show")
        run = w.Dropdown(options=self.names, value=self.names[0], description="run")
        episode = w.Dropdown(options=options(range(self.n)), value=self.start if index is None else index,
                             description="episode", layout=w.Layout(width="auto"))
        compact = {"button_width": "7.5em"}
        views = w.ToggleButtons(options=self.views, value=view, description="view", style=compact)
        modes = w.ToggleButtons(options=self.modes, value=mode, description="colour", style=compact)
        opened = self.start if index is None else index
        reach = self.turns_shown(view, self.names[0], opened)
        turn = w.IntSlider(min=1, max=reach, value=reach, description="turn")
        out = w.HTML()
        refilling = []  # non-empty while the filter swaps the episode list: one redraw at the end, not one per change

        def redraw(*_):
            if refilling:
                return
            if episode.value is None:
                out.value = f'<div class="alv">No episode of {run.value} here is a {show.value}.</div>'
                return
            reach = self.turns_shown(views.value, run.value, episode.value)
            if turn.max != reach:   # the slider ends at the last turn on screen: every step shows something new
                refilling.append(True)
                try:
                    at_end, turn.max = turn.value == turn.max, reach    # a lower max pulls the value down with it
                    turn.value = reach if at_end else turn.value
                finally:
                    refilling.clear()
            out.value = self.html(views.value, run.value, episode.value, turn.value, modes.value)

        def refill(*_):
            allowed = self.allowed(show.value, run.value)
            keep = episode.value if episode.value in allowed else (allowed[0] if allowed else None)
            refilling.append(True)
            try:  # one message to the page: sent apart, the page shows a blank selection until the second arrives
                with episode.hold_sync():
                    episode.options = options(allowed)
                    episode.value = keep  # ipywidgets 8 leaves the selection blank when the options change
            finally:
                refilling.clear()
            redraw()

        show.observe(refill, "value")
        run.observe(refill, "value")        # the labels and the filter read the run shown
        for control in (episode, views, modes, turn):
            control.observe(redraw, "value")
        redraw()
        rows = [w.HBox([show, episode] + ([run] if len(self.runs) > 1 else [])), w.HBox([views, modes])]
        where = [w.HTML(f'<small>A static copy of this viewer, which needs no Python and survives closing the '
                        f'notebook: <code>{html.escape(str(self.static_copy))}</code></small>')] if self.static_copy else []
        box = ViewerBox(rows + ([turn] if self.max_turns > 1 else []) + where + [out])
        box.static_html = self.static_html(view, mode, episode.value) if is_site() else None
        return box

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)

    def to_html(self, path, view: str = "episode", mode: str = "mask", index: int | None = None) -> str:
        """Write the viewer as one self-contained HTML file (no network, no Python needed to open it), atomically,
        creating its folder, readable by others (a web server can serve it). The widget then says where it is."""
        page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>Agentic RL Lab trajectories</title>'
                f'</head><body>{self.static_html(view, mode, index)}</body></html>')
        self.static_copy = Path(path).resolve()
        return str(write_atomically(path, page))

    def static_html(self, view: str = "episode", mode: str = "mask", index: int | None = None) -> str:
        """The whole viewer as one HTML fragment: every pane, and a script for the controls, opened on `view`,
        coloured by `mode`, at episode `index`. What `to_html` writes, and what the course site shows."""
        uid = "alv" + uuid.uuid4().hex[:8]
        panes = "".join(f'<div class="alv-ep" data-run="{html.escape(name)}" data-i="{i}" data-key="{pane.prompt_key}" '
                        f'data-turns="{len(pane.turns)}">{pane.html()}</div>' for (name, i), pane in self.panes.items())
        meta = {"n": self.n, "size": self.size, "start": self.start if index is None else index,
                "view": view, "mode": mode,
                "outcomes": {name: [outcome(t) for t in ts] for name, ts in self.runs.items()},
                "labels": {name: [self.label(i, name) for i in range(self.n)] for name in self.names}}
        options = lambda values: "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)
        hidden = ' style="display:none"'
        return f"""<style>{VIEWER_CSS}</style>
<div class="alv mode-{mode} view-{view}" id="{uid}">
<div class="alv-controls">
<label>show <select class="c-filter">{options(self.filters)}</select></label>
<label>episode <select class="c-episode"></select></label>
<label{"" if len(self.runs) > 1 else hidden}>run <select class="c-run">{options(self.names)}</select></label>
<label>view <select class="c-view">{options(self.views)}</select></label>
<label>colour <select class="c-mode">{options(self.modes)}</select></label>
<span{"" if self.max_turns > 1 else hidden}><button class="c-prev">&larr; turn</button><span class="c-step"></span>
<button class="c-next">turn &rarr;</button></span>
</div>{self._legend()}
<div class="alv-shared"></div><div class="alv-none" style="display:none"></div>
<div class="alv-panes">{panes}</div></div>
<script>
(function() {{
  const root = document.getElementById("{uid}"), meta = {json.dumps(meta)};
  const $ = s => root.querySelector(s), episode = $(".c-episode");
  let step = null, reach = null, selected = meta.start;
  function refill() {{
    const f = $(".c-filter").value, run = $(".c-run").value, labels = meta.labels[run];
    const allowed = labels.map((_, i) => i).filter(i => f === "all" || meta.outcomes[run][i] === f);
    if (!allowed.includes(selected)) selected = allowed.length ? allowed[0] : null;
    episode.innerHTML = "";
    allowed.forEach(i => {{
      const o = document.createElement("option"); o.value = i; o.textContent = labels[i]; episode.appendChild(o);
    }});
    if (selected !== null) episode.value = String(selected);
  }}
  function draw() {{
    const run = $(".c-run").value, view = $(".c-view").value, i = selected;
    const first = i === null ? -1 : i - i % meta.size;
    const on = [];
    root.querySelectorAll(".alv-ep").forEach(el => {{
      const r = el.dataset.run, j = Number(el.dataset.i);
      const show = i !== null && (view === "group" ? r === run && j - j % meta.size === first
                                  : view === "compare" ? j === i : r === run && j === i);
      el.classList.toggle("on", show);
      if (show) on.push(el);
    }});
    // the step control ends at the last turn on screen; at its end it stays at the end
    const last = Math.max(1, ...on.map(el => Number(el.dataset.turns)));
    step = step === null || step === reach ? last : Math.min(step, last);
    reach = last;
    root.querySelectorAll(".alv-ep").forEach(el =>
      el.querySelectorAll(".alv-turn").forEach(t => t.classList.toggle("off", Number(t.dataset.turn) > step)));
    const shared = on.length > 1 && on.every(el => el.dataset.key === on[0].dataset.key);
    root.className = "alv mode-" + $(".c-mode").value + " view-" + view + (shared ? " shared" : "");
    $(".alv-shared").innerHTML = shared ? '<div class="alv-caption">the same prompt for each of the ' + on.length +
      ' episodes below</div>' + on[0].querySelector(".alv-prompt").outerHTML : "";
    $(".alv-none").style.display = i === null ? "" : "none";
    $(".alv-none").textContent = "No episode of " + run + " here is a " + $(".c-filter").value + ".";
    $(".c-step").textContent = " turn " + step + " of " + reach + " ";
  }}
  $(".c-filter").addEventListener("change", () => {{ refill(); draw(); }});
  episode.addEventListener("change", () => {{ selected = Number(episode.value); draw(); }});
  $(".c-run").addEventListener("change", () => {{ refill(); draw(); }});
  ["c-view", "c-mode"].forEach(c => $("." + c).addEventListener("change", draw));
  $(".c-prev").addEventListener("click", () => {{ step = Math.max(1, step - 1); draw(); }});
  $(".c-next").addEventListener("click", () => {{ step = Math.min(reach, step + 1); draw(); }});
  $(".c-view").value = meta.view; $(".c-mode").value = meta.mode;
  refill(); draw();
}})();
</script>"""
