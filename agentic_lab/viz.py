"""Showing what an agent did: plain-text trajectories, success bar charts, and the trajectory viewer."""
from __future__ import annotations

import html
import inspect
import json
import math
import uuid
from pathlib import Path

import torch

from agentic_lab.algorithms import group_advantages
from agentic_lab.trajectory import Trajectory, mask_runs


def show_source(obj) -> None:
    """Show the package's own code for a function or class in a notebook: the code the course runs,
    not a copy of it that could drift."""
    source = inspect.getsource(obj)
    where = f"{inspect.getmodule(obj).__name__}  ({Path(inspect.getsourcefile(obj)).name}, line " \
            f"{inspect.getsourcelines(obj)[1]})"
    try:
        from IPython.display import Markdown, display
        display(Markdown(f"`{where}`\n```python\n{source}```"))
    except ImportError:  # outside IPython
        print(f"# {where}\n{source}")


def format_trajectory(trajectory: Trajectory) -> str:
    """The episode, one labelled line per message, rewards per turn, and the verdict."""
    def indent(text: str) -> str:
        return text.replace("\n", "\n" + " " * 13)
    lines = [f"[{trajectory.env_id}, seed {trajectory.seed}]"]
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


# --- the interactive trajectory viewer ----------------------------------------------------------
# Every trajectory is rendered to HTML once, in Python: one <span> per token, carrying its colour in
# each colouring mode as CSS variables (--m mask, --l log-prob, --a advantage). Switching the mode,
# stepping through turns, picking an episode, a group or a run only shows, hides or re-classes those
# spans, so the notebook widget (Python) and the exported static page (a few lines of JavaScript)
# share one renderer.

VIEWER_CSS = """
.alv{font-family:system-ui,sans-serif;font-size:13px;color:#222}
.alv-controls{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-bottom:8px}
.alv-panes{display:flex;gap:10px;align-items:flex-start}
.alv-ep{flex:1;min-width:240px;border:1px solid #ccc;border-radius:6px;padding:6px;display:none}
.alv-ep.on{display:block}
.alv-head{font-weight:600;margin-bottom:4px}
.alv-head .ok{color:#187a2f}.alv-head .no{color:#b3261e}
.alv-turn{border-top:1px dashed #ddd;padding:4px 0}
.alv-turn.off{display:none}
.alv-r{font-size:11px;color:#555}
.alv-toks{font-family:ui-monospace,monospace;white-space:pre-wrap;word-break:break-all;line-height:1.6}
.alv .t{border-radius:2px}
.alv .sp{color:#6a1b9a;font-weight:600}
.alv.mode-mask .t{background:var(--m)}
.alv.mode-logprob .t{background:var(--l)}
.alv.mode-advantage .t{background:var(--a)}
.alv-legend{font-size:11px;color:#555}
"""


def _policy_colour(value: float, positive: str = "46,160,67", negative: str = "215,58,73") -> str:
    """A translucent green for value > 0, red for value < 0; value in [-1, 1]."""
    rgb = positive if value >= 0 else negative
    return f"rgba({rgb},{min(1.0, abs(value)) * 0.85:.2f})"


def _token_span(text: str, special: bool, mask: int, logprob: float, advantage: float) -> str:
    if mask:
        colours = ("rgba(46,160,67,.35)", _policy_colour(-(1 - math.exp(logprob))), _policy_colour(advantage / 2))
        tip = f"written by the policy; log-prob {logprob:.3f} (p={math.exp(logprob):.2f}); advantage {advantage:+.2f}"
    else:
        colours = ("rgba(0,0,0,.06)", "transparent", "transparent")
        tip = "shown to the policy (masked out of the loss)"
    shown = html.escape(text).replace("\n", "↵\n")
    style = f"--m:{colours[0]};--l:{colours[1]};--a:{colours[2]}"
    return f'<span class="t{" sp" if special else ""}" style="{style}" title="{tip}">{shown}</span>'


def render_trajectory(trajectory: Trajectory, tokenizer, advantage: float = 0.0, label: str = "") -> str:
    """One trajectory as HTML: a header, then each turn (what it saw, what it wrote, its reward)."""
    tokens = tokenizer.convert_ids_to_tokens(trajectory.token_ids)
    texts = [tokenizer.convert_tokens_to_string([t]) if t not in tokenizer.all_special_tokens else t for t in tokens]
    special = set(tokenizer.all_special_tokens)
    logprobs = trajectory.logprobs or [0.0] * len(tokens)
    spans = [_token_span(texts[k], tokens[k] in special, trajectory.loss_mask[k], logprobs[k], advantage)
             for k in range(len(tokens))]
    runs = mask_runs(trajectory.loss_mask)
    turns, seen = [], ""
    for value, a, b in runs:
        if value == 0:
            seen = "".join(spans[a:b])
            continue
        k = len(turns)
        reward = trajectory.turns[k].reward if k < len(trajectory.turns) else 0.0
        turns.append(f'<div class="alv-turn" data-turn="{k}"><div class="alv-r">turn {k + 1} · reward {reward:+g}'
                     f'</div><div class="alv-toks">{seen}{"".join(spans[a:b])}</div></div>')
        seen = ""
    verdict = '<span class="ok">success</span>' if trajectory.success else '<span class="no">failure</span>'
    head = (f'<div class="alv-head">{html.escape(label)} {html.escape(trajectory.env_id)} · seed {trajectory.seed}'
            f' · {verdict} · return {trajectory.total_reward:+g} · advantage {advantage:+.2f}</div>')
    return head + "".join(turns)


class TrajectoryViewer:
    """Step through episodes turn by turn, colour tokens by loss mask, log-prob or advantage, compare a GRPO
    group side by side, or two runs (before / after training) side by side; filter by success.

        viewer = TrajectoryViewer({"before": before, "after": after}, tokenizer)
        viewer                         # in a notebook: the interactive widget
        viewer.to_html("run.html")     # the same view as one self-contained static page

    `advantages` (per run, one per trajectory) default to group-relative advantages, groups being
    consecutive trajectories with the same environment and seed (see `rollout.group_seeds`)."""

    MODES = ("mask", "logprob", "advantage")
    VIEWS = ("episode", "group", "compare")

    def __init__(self, runs: dict[str, list[Trajectory]] | list[Trajectory], tokenizer,
                 advantages: dict[str, list[float]] | None = None):
        self.runs = runs if isinstance(runs, dict) else {"run": runs}
        lengths = {len(v) for v in self.runs.values()}
        if len(lengths) != 1:
            raise ValueError("runs must hold the same number of trajectories, in the same order")
        self.n = lengths.pop()
        self.advantages = advantages or {name: self.group_advantages(ts) for name, ts in self.runs.items()}
        self.groups = [(t.env_id, t.seed) for t in next(iter(self.runs.values()))]
        self.panes = {(name, i): render_trajectory(t, tokenizer, self.advantages[name][i], label=name)
                      for name, ts in self.runs.items() for i, t in enumerate(ts)}
        self.max_turns = max(len(t.turns) for ts in self.runs.values() for t in ts)

    @staticmethod
    def group_advantages(trajectories: list[Trajectory]) -> list[float]:
        keys = [(t.env_id, t.seed) for t in trajectories]
        size = 1
        while size < len(keys) and keys[size] == keys[0]:
            size += 1
        if size == 1 or len(keys) % size:
            return [0.0] * len(keys)
        rewards = torch.tensor([t.total_reward for t in trajectories], dtype=torch.float64)
        return group_advantages(rewards, size).tolist()

    def visible(self, view: str, run: str, index: int) -> list[tuple[str, int]]:
        """Which (run, index) panes a view shows for the selected episode."""
        if view == "group":
            return [(run, i) for i in range(self.n) if self.groups[i] == self.groups[index]]
        if view == "compare":
            return [(name, index) for name in self.runs]
        return [(run, index)]

    def html(self, view: str = "episode", run: str | None = None, index: int = 0, step: int | None = None,
             mode: str = "mask") -> str:
        """The view for one state of the controls (what the widget shows)."""
        run = run or next(iter(self.runs))
        step = self.max_turns - 1 if step is None else step
        panes = []
        for key in self.visible(view, run, index):
            body = self.panes[key]
            for k in range(step + 1, self.max_turns):
                body = body.replace(f'class="alv-turn" data-turn="{k}"', f'class="alv-turn off" data-turn="{k}"')
            panes.append(f'<div class="alv-ep on">{body}</div>')
        return (f'<div class="alv mode-{mode}"><style>{VIEWER_CSS}</style>{self._legend()}'
                f'<div class="alv-panes">{"".join(panes)}</div></div>')

    def _legend(self) -> str:
        return ('<div class="alv-legend">mask: green = written by the policy (trained on), grey = shown to it; '
                'log-prob: redder = less likely under the sampler; advantage: green positive, red negative.</div>')

    def widget(self):
        import ipywidgets as w
        names = list(self.runs)
        first = self.runs[names[0]]
        filt = w.Dropdown(options=["all", "success", "failure"], description="show")
        episode = w.Dropdown(description="episode")
        run = w.Dropdown(options=names, description="run")
        view = w.ToggleButtons(options=list(self.VIEWS), description="view")
        mode = w.ToggleButtons(options=list(self.MODES), description="colour")
        step = w.IntSlider(min=0, max=self.max_turns - 1, value=self.max_turns - 1, description="turn")
        out = w.HTML()

        def refill(*_):
            keep = [i for i, t in enumerate(first) if filt.value == "all" or t.success == (filt.value == "success")]
            episode.options = [(f"{i}: {first[i].env_id.split('/')[-1]} seed {first[i].seed}"
                                f" {'✓' if first[i].success else '✗'}", i) for i in keep] or [("none", 0)]

        def redraw(*_):
            out.value = self.html(view.value, run.value, episode.value or 0, step.value, mode.value)
        filt.observe(refill, "value")
        for control in (episode, run, view, mode, step):
            control.observe(redraw, "value")
        refill()
        redraw()
        return w.VBox([w.HBox([filt, episode, run]), view, mode, step, out])

    def _repr_mimebundle_(self, **kwargs):
        return self.widget()._repr_mimebundle_(**kwargs)

    def to_html(self, path) -> str:
        """Write the viewer as one self-contained HTML file (no network needed to open it)."""
        uid = "alv" + uuid.uuid4().hex[:8]
        names = list(self.runs)
        first = self.runs[names[0]]
        panes = "".join(f'<div class="alv-ep" data-run="{html.escape(name)}" data-i="{i}">{body}</div>'
                        for (name, i), body in self.panes.items())
        meta = {"n": self.n, "runs": names, "groups": [list(g) for g in self.groups],
                "success": [t.success for t in first], "maxTurns": self.max_turns,
                "labels": [f"{i}: {t.env_id.split('/')[-1]} seed {t.seed}" for i, t in enumerate(first)]}
        options = lambda values: "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)
        page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Agentic RL Lab trajectories</title>
<style>{VIEWER_CSS}</style></head><body>
<div class="alv mode-mask" id="{uid}">
<div class="alv-controls">
<label>show <select class="c-filter">{options(["all", "success", "failure"])}</select></label>
<label>episode <select class="c-episode"></select></label>
<label>run <select class="c-run">{options(names)}</select></label>
<label>view <select class="c-view">{options(self.VIEWS)}</select></label>
<label>colour <select class="c-mode">{options(self.MODES)}</select></label>
<button class="c-prev">&larr; turn</button><span class="c-step"></span><button class="c-next">turn &rarr;</button>
</div>{self._legend()}
<div class="alv-panes">{panes}</div></div>
<script>
(function() {{
  const root = document.getElementById("{uid}"), meta = {json.dumps(meta)};
  const $ = s => root.querySelector(s);
  let step = meta.maxTurns - 1;
  function refill() {{
    const f = $(".c-filter").value, sel = $(".c-episode");
    sel.innerHTML = "";
    meta.labels.forEach((label, i) => {{
      if (f === "all" || meta.success[i] === (f === "success")) {{
        const o = document.createElement("option"); o.value = i; o.textContent = label + (meta.success[i] ? " ✓" : " ✗");
        sel.appendChild(o);
      }}
    }});
  }}
  function draw() {{
    const i = Number($(".c-episode").value || 0), run = $(".c-run").value, view = $(".c-view").value;
    root.className = "alv mode-" + $(".c-mode").value;
    const g = JSON.stringify(meta.groups[i]);
    root.querySelectorAll(".alv-ep").forEach(el => {{
      const r = el.dataset.run, j = Number(el.dataset.i);
      const on = view === "group" ? (r === run && JSON.stringify(meta.groups[j]) === g)
               : view === "compare" ? j === i : (r === run && j === i);
      el.classList.toggle("on", on);
      el.querySelectorAll(".alv-turn").forEach(t => t.classList.toggle("off", Number(t.dataset.turn) > step));
    }});
    $(".c-step").textContent = " turn " + (step + 1) + " of " + meta.maxTurns + " ";
  }}
  $(".c-filter").addEventListener("change", () => {{ refill(); draw(); }});
  ["c-episode", "c-run", "c-view", "c-mode"].forEach(c => $("." + c).addEventListener("change", draw));
  $(".c-prev").addEventListener("click", () => {{ step = Math.max(0, step - 1); draw(); }});
  $(".c-next").addEventListener("click", () => {{ step = Math.min(meta.maxTurns - 1, step + 1); draw(); }});
  refill(); draw();
}})();
</script></body></html>"""
        Path(path).write_text(page, encoding="utf-8")
        return str(path)
