"""GUI and web agents (notebook 16): a page read as text, acted on with clicks and typing, in a twin written in
Python and in real MiniWoB++ pages in a real browser.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/WebTwin-v0", task="click-button")   # pure Python, thousands of episodes a second
    env = gym.make("agentic_lab/MiniWoB-v0", task="click-button")   # MiniWoB++ in headless Chromium (Selenium)

**The real benchmark.** MiniWoB++ (Farama's `miniwob` package) is a set of small web pages, each a task stated in
one sentence ("Click on the "okay" button."), in a real browser; its observation lists the page's visible elements
(`dom_elements`: a ref, the parent's ref, the tag, the text, the value, the position and size), and its actions
click an element by ref or type text into one. It pays 1 for a finished task and -1 (or a partial score) for a
failed one; the course uses MiniWoB++'s binary processor, 1 or -1.

**The twin.** The same six task kinds (TASKS), built by a page generator in Python with MiniWoB++'s element
fields, tags and utterances, and the same dynamics (a click on the target button ends the episode, typing appends
to a text box, a checkbox toggles, Submit checks the form). A page takes microseconds instead of a browser's
tenth of a second, so RL can train on it within a notebook. Held out: the test split draws its words (button
labels, links, names, checkbox labels) from a vocabulary the training pages never use, and its sentences from
phrasings the training pages never use. `perturbation` changes the layout the way a redesign does: "moved" (the
elements in another order and place), "relabelled" (every label but the target's is a held-out word), "crowded"
(twice the distractors).

**One renderer for both** (`render_page`): the agent reads the same text whichever page is behind it, a line per
element that shows something, `[ref] kind "text" @x,y`, so a policy trained on the twin acts on MiniWoB++ unchanged.

The tools are `click(ref)` and `type(ref, text)`. A ref that is not on the page, text typed into a button, or a
click on nothing clickable is an error observation with the invalid-action penalty, checked before the browser is
touched; the page stays as it was.
"""
from __future__ import annotations

import json
import os
import random
import re
import string
import zlib
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from agentic_lab.envs import TextEnv, printable
from agentic_lab.eval import success_rate
from agentic_lab.rollout import rollout
from agentic_lab.tasks import assistant, observation
from agentic_lab.tools import Tool, ToolError, call_tool
from agentic_lab.trajectory import Trajectory
from agentic_lab.vision import png_data_uri

WARM_START = Path(__file__).resolve().parent.parent / "data" / "web-warm"
TASKS = ("click-test-2", "click-button", "click-link", "enter-text", "focus-text", "click-checkboxes")
PERTURBATIONS = (None, "moved", "relabelled", "crowded")
MAX_TURNS = 6
SCREEN_WIDTH, AREA_TOP, AREA_HEIGHT = 160, 50, 160     # MiniWoB++'s task area: 160 x 160 pixels below the prompt

# Words the pages are made of: lorem ipsum, as in MiniWoB++, and first names for the text to type. A word belongs to
# the test split by a hash of it, so no held-out word is ever on a training page.
_WORDS = ("amet aliquam ante arcu augue blandit commodo congue cras cursus dapibus dictum donec dui egestas eget elit "
          "enim erat eros est etiam felis fringilla fusce gravida iaculis id in integer justo lacinia lacus laoreet "
          "leo libero ligula lorem luctus magna mauris metus mi morbi nam nec neque nibh nisi non nulla nunc odio "
          "orci pede pellentesque pharetra placerat porta porttitor proin purus quam quis rhoncus risus rutrum "
          "sagittis sapien sed sem semper sit sodales tellus tempus tortor turpis ultrices urna ut varius vel velit "
          "vitae viverra").split()
_NAMES = ("Agustina Jerald Marcella Tobias Ines Kendra Rolf Sybil Dario Lena Mateo Priya Oskar Nadia Felix Yara Hugo "
          "Ilse Bruno Carmen Emil Greta Ivan Jonah Kira Luca Mira Nils Olga Pavel Rosa Sven Tara Umar Vera Wren").split()
_OKAY_WORDS = ("ok", "okay", "yes", "submit", "next", "previous", "no", "cancel")


def held_out_word(word: str) -> bool:
    return zlib.crc32(word.lower().encode()) % 5 == 0


def vocabulary(split: str, words: tuple[str, ...] = _WORDS) -> list[str]:
    return [w for w in words if held_out_word(w) == (split == "test")]


# Sentences: MiniWoB++'s own first (training pages use it, so the real pages read as training did), then others; the
# test split uses only the last phrasing of each task, which no training page uses.
PHRASINGS = {
    "click-test-2": ("Click button {target}.", "Press button {target}.", "Push the {target} button."),
    "click-button": ('Click on the "{target}" button.', 'Press the "{target}" button.', 'Hit the button "{target}".'),
    "click-link": ('Click on the link "{target}".', 'Follow the link "{target}".', 'Open the "{target}" link.'),
    "enter-text": ('Enter "{target}" into the text field and press Submit.',
                   'Type "{target}" in the text box and press Submit.', 'Write "{target}" in the field, then Submit.'),
    "focus-text": ("Focus into the textbox.", "Click inside the text box.", "Put the cursor in the text field."),
    "click-checkboxes": ("Select {target} and click Submit.", "Check {target}, then press Submit.",
                         "Tick {target} and click Submit."),
}


def _random_labels(rng: random.Random, n: int, split: str) -> list[str]:
    labels: list[str] = []
    while len(labels) < n:
        label = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(2, 7)))
        if held_out_word(label) == (split == "test") and label.lower() not in {w.lower() for w in labels}:
            labels.append(label)
    return labels


def phrasing(task: str, split: str, rng: random.Random) -> str:
    options = PHRASINGS[task]
    return options[-1] if split == "test" else rng.choice(options[:-1])


# --- the renderer: one for MiniWoB++'s elements and the twin's -------------------------------------------------
def _number(value) -> float:
    """A coordinate: MiniWoB++ gives arrays of one float32, the twin plain numbers."""
    return float(value[0]) if hasattr(value, "__len__") else float(value)


def _checked(element: dict) -> bool:
    return str(element.get("value", "")) == "True"


def describe(elements: list[dict]) -> list[tuple[int, str, str]]:
    """(ref, kind, text) of each element an agent can see or use, in page order: buttons, links, text boxes,
    checkboxes (with their label's text, which the page keeps in a text node beside the box) and text. Containers
    (body, div, form, label with nothing of their own) are left out."""
    labels = {}
    for element in elements:
        if element["tag"] == "input_checkbox":
            siblings = [e for e in elements if e["parent"] == element["parent"] and e["tag"] == "t"]
            labels[element["ref"]] = siblings[0] if siblings else None
    label_refs = {e["ref"] for e in labels.values() if e is not None}
    shown = []
    for e in elements:
        tag, text = e["tag"], str(e.get("text", "")).strip()
        if tag == "button":
            shown.append((e["ref"], "button", text))
        elif tag == "a" or (tag == "span" and "alink" in str(e.get("classes", ""))):
            shown.append((e["ref"], "link", text))
        elif tag == "input_text":
            shown.append((e["ref"], "textbox", str(e.get("value", ""))))
        elif tag == "input_checkbox":
            label = labels[e["ref"]]
            shown.append((e["ref"], "checkbox", "" if label is None else str(label["text"]).strip()))
        elif text and e["ref"] not in label_refs and tag != "body":
            shown.append((e["ref"], "text", text))
    return shown


def render_page(utterance: str, elements: list[dict]) -> str:
    """What the agent reads: the task's sentence, then a line per element, `[ref] kind "text" @x,y`, with
    ` checked` on a ticked box."""
    positions = {e["ref"]: (round(_number(e["left"])), round(_number(e["top"]))) for e in elements}
    checked = {e["ref"] for e in elements if e["tag"] == "input_checkbox" and _checked(e)}
    lines = [utterance]
    for ref, kind, text in describe(elements):
        x, y = positions[ref]
        lines.append(f'[{ref}] {kind} "{text}" @{x},{y}' + (" checked" if ref in checked else ""))
    return "\n".join(lines)


def refusal(elements: list[dict], ref, action: str) -> str | None:
    """Why `action` ("click" or "type") cannot go to `ref` on this page, or None if it can."""
    kinds = {r: kind for r, kind, _ in describe(elements)}
    if ref not in kinds:
        return f"no element [{ref}] on the page"
    if action == "type" and kinds[ref] != "textbox":
        return f"[{ref}] is a {kinds[ref]}: only a textbox takes text"
    if action == "click" and kinds[ref] == "text":
        return f"[{ref}] is text: there is nothing to click"
    return None


# --- the twin ------------------------------------------------------------------------------------------------------
@dataclass
class Page:
    """A twin page: MiniWoB++'s element fields, and what the task wants."""
    utterance: str
    elements: list[dict]
    target: object          # the word, name, or tuple of checkbox labels the task asks for


def _element(ref: int, parent: int, tag: str, text: str = "", left: float = 0, top: float = 0, width: float = 40,
             height: float = 21, classes: str = "") -> dict:
    return {"ref": ref, "parent": parent, "tag": tag, "text": text, "value": "", "left": left, "top": top,
            "width": width, "height": height, "classes": classes, "flags": [0, 0, 0, 1]}


def make_page(task: str, rng: random.Random, split: str = "train", perturbation: str | None = None) -> Page:
    """A page of one task kind: the body, the wrapper and the task area (refs 1 to 3) as on MiniWoB++, then the
    task's elements and distractors, laid out top to bottom (or, "moved", anywhere in the area and in any order)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    if perturbation not in PERTURBATIONS:
        raise ValueError(f"perturbation must be one of {PERTURBATIONS}")
    words, names = vocabulary(split), vocabulary(split, _NAMES)
    distractors = rng.randint(1, 3) * (2 if perturbation == "crowded" else 1)
    items: list[tuple] = []          # (tag, text, classes) in page order
    if task == "click-test-2":
        target = "ONE"
        items = [("button", "ONE", ""), ("button", "TWO", "")]
    elif task == "click-button":
        labels = rng.sample(words, distractors + 1)
        target = labels[0]
        items = [("button", w, "") for w in labels] + [("div", " ".join(rng.sample(words, 3)), "")]
    elif task == "click-link":
        labels = rng.sample(words, distractors + 1)
        target = labels[0]
        items = [("span", w, "alink") for w in labels] + \
                [("t", " ".join(rng.sample(words, rng.randint(1, 3))), "") for _ in range(distractors + 1)]
    elif task == "enter-text":
        target = rng.choice(names)
        items = [("input_text", "", ""), ("button", "Submit", "")]
    elif task == "focus-text":
        target = None
        items = [("input_text", "", "")] + [("div", " ".join(rng.sample(words, 2)), "") for _ in range(distractors - 1)]
    else:  # click-checkboxes: MiniWoB++ labels its boxes with random strings of letters and digits
        labels = _random_labels(rng, distractors + 2, split)
        target = tuple(labels[:rng.randint(1, 2)])
        items = [("checkbox", w, "") for w in labels]
    if perturbation == "relabelled" and task in ("click-button", "click-link", "click-checkboxes"):
        spare = _random_labels(rng, len(items), "test") if task == "click-checkboxes" else \
            [w for w in vocabulary("test") if w not in labels]
        rng.shuffle(spare)
        wanted = set(target) if isinstance(target, tuple) else {target}
        items = [(tag, text if text in wanted or tag in ("div", "t") else spare.pop(), classes)
                 for tag, text, classes in items]
    rng.shuffle(items)
    if task == "click-checkboxes":
        items.append(("button", "Submit", ""))
    elements = [_element(1, 0, "body", width=SCREEN_WIDTH, height=AREA_TOP + AREA_HEIGHT),
                _element(2, 1, "div", width=SCREEN_WIDTH, height=AREA_TOP + AREA_HEIGHT),
                _element(3, 2, "div", top=AREA_TOP, width=SCREEN_WIDTH, height=AREA_HEIGHT)]
    ref, text_ref, top = 4, -1, AREA_TOP + 2
    for tag, text, classes in items:
        left = rng.randint(2, 100) if perturbation == "moved" or task == "click-test-2" else 2
        y = rng.randint(AREA_TOP + 2, AREA_TOP + AREA_HEIGHT - 22) if perturbation == "moved" else top
        if tag == "checkbox":            # a label holding the box and its text, as MiniWoB++'s pages have
            elements += [_element(ref, 3, "label", left=left, top=y + 4, width=60, height=13),
                         _element(ref + 1, ref, "input_checkbox", left=left + 4, top=y, width=13, height=13),
                         _element(text_ref, ref, "t", text, left=left + 27, top=y + 4, height=13)]
            ref, text_ref = ref + 2, text_ref - 1
        elif tag == "t":
            elements.append(_element(text_ref, 3, "t", text, left=left, top=y, height=11))
            text_ref -= 1
        else:
            elements.append(_element(ref, 3, tag, text, left=left, top=y, classes=classes))
            ref += 1
        top += 21
    sentence = phrasing(task, split, rng).format(
        target=", ".join(target) if isinstance(target, tuple) else target)
    if perturbation == "moved":
        elements[3:] = sorted(elements[3:], key=lambda e: (e["top"], e["left"]))   # page order follows the layout
    return Page(sentence, elements, target)


# --- the scripted expert ---------------------------------------------------------------------------------------
def wanted(task: str, utterance: str) -> list[str]:
    """What the sentence asks for: the quoted word (or button ONE's name, or the boxes to tick), read from any of the
    task's phrasings, the real page's included."""
    if task == "focus-text":
        return []
    quoted = re.findall(r'"([^"]*)"', utterance)
    if quoted:
        return quoted[:1]
    if task == "click-test-2":
        return [re.search(r"\b(ONE|TWO)\b", utterance).group(1)]
    listed = re.match(r"^\w+ (.*?),? (?:and|then) ", utterance).group(1)     # "Select a, b and click Submit."
    return [w.strip() for w in listed.split(",") if w.strip()]


def expert_actions(task: str, utterance: str, elements: list[dict]) -> list[tuple[str, dict]]:
    """The tool calls that finish the page from where it stands, found the way a careful person would, from the
    sentence and the rendered elements only (so it runs on real pages too): what is already typed or ticked is not
    done again. The demonstrations notebook 16's clone imitates."""
    shown = describe(elements)
    targets = wanted(task, utterance)
    checked = {e["ref"] for e in elements if e["tag"] == "input_checkbox" and _checked(e)}

    def ref_of(kind: str, text: str | None = None) -> int:
        return next(ref for ref, k, t in shown if k == kind and (text is None or t == text))
    if task in ("click-test-2", "click-button"):
        return [("click", {"ref": ref_of("button", targets[0])})]
    if task == "click-link":
        return [("click", {"ref": ref_of("link", targets[0])})]
    if task == "focus-text":
        return [("click", {"ref": ref_of("textbox")})]
    submit = ("click", {"ref": ref_of("button", "Submit")})
    if task == "enter-text":
        box = ref_of("textbox")
        typed = next(t for ref, k, t in shown if ref == box)
        return ([] if typed == targets[0] else [("type", {"ref": box, "text": targets[0]})]) + [submit]
    return [("click", {"ref": ref}) for ref, kind, label in shown
            if kind == "checkbox" and (label in targets) != (ref in checked)] + [submit]


class WebEnv(TextEnv):
    """What the twin and the real pages share: the two tools, the refusal of impossible actions before the page is
    touched, the rendering, and MiniWoB++'s binary reward (1 for a finished task, -1 for a failed one, 0 before the
    end). Subclasses say what a click or typing does (`_click`, `_type`) and give the page's elements."""
    ACTION_KINDS = ("tool_call",)

    def __init__(self, task: str, max_turns: int = MAX_TURNS, render_mode: str | None = None):
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}")
        tools = {"click": Tool("click", "Click an element of the page.", {"ref": (int, "the element's [ref]")},
                               lambda ref: self._act("click", ref)),
                 "type": Tool("type", "Type text into a text box.", {"ref": (int, "the text box's [ref]"),
                                                                      "text": (str, "what to type")},
                              lambda ref, text: self._act("type", ref, text))}
        super().__init__(tools, max_turns, render_mode)
        self.task_name, self.success, self.done, self.reward_now = task, False, False, 0.0

    def _act(self, action: str, ref, text: str = "") -> str:
        why = refusal(self.elements(), ref, action)
        if why:
            raise ToolError(why)
        self.reward_now, self.done = (self._click(ref) if action == "click" else self._type(ref, text))
        return self.page_text()

    def act(self, action):
        self.reward_now = 0.0
        observation = call_tool(action.tool, action.arguments, self.tools)
        if observation.startswith("Error:"):
            return observation + "\n" + self.page_text(), 0.0, False   # the penalty is TextEnv's
        self.success = self.reward_now > 0
        return observation, self.reward_now, self.done

    def page_text(self) -> str:
        return render_page(self.utterance, self.elements())

    def info(self) -> dict:
        return super().info() | {"success": self.success, "hidden": {"task": self.task_name}}


class WebTwinEnv(WebEnv):
    """A twin page per episode (`make_page`): `split` picks the vocabulary and phrasings, `perturbation` the layout.
    `task` and `perturbation` may each be a tuple, or "any" for all: each episode draws its task kind and layout
    from its seed, so one environment serves a mix of pages (and a GRPO group, which shares a seed, shares its
    page)."""

    def __init__(self, task: str | tuple[str, ...] = "click-button", split: str = "train",
                 perturbation: str | tuple | None = None, max_turns: int = MAX_TURNS, render_mode: str | None = None):
        tasks = TASKS if task == "any" else (task,) if isinstance(task, str) else tuple(task)
        layouts = PERTURBATIONS if perturbation == "any" else \
            (perturbation,) if perturbation is None or isinstance(perturbation, str) else tuple(perturbation)
        if not (set(tasks) <= set(TASKS) and set(layouts) <= set(PERTURBATIONS)):
            raise ValueError(f"task must be among {TASKS} and perturbation among {PERTURBATIONS}, or either 'any'")
        super().__init__(tasks[0], max_turns, render_mode)
        self.tasks, self.perturbations, self.split = tasks, layouts, split
        self.page_perturbation = layouts[0]             # the layout of the page on screen, drawn at each reset

    def info(self) -> dict:
        info = super().info()
        info["hidden"]["layout"] = self.page_perturbation or "standard"
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = random.Random(int(self.np_random.integers(2**31)))
        draw = lambda options: rng.choice(options) if len(options) > 1 else options[0]  # a fixed one draws nothing
        self.task_name, self.page_perturbation = draw(self.tasks), draw(self.perturbations)
        self.page = make_page(self.task_name, rng, self.split, self.page_perturbation)
        self.utterance, self.turns, self.success, self.done = self.page.utterance, 0, False, False
        self.last_observation = printable(self.page_text(), 4096)
        return self.last_observation, self.info()

    def elements(self) -> list[dict]:
        return self.page.elements

    def _by_ref(self, ref: int) -> dict:
        return next(e for e in self.page.elements if e["ref"] == ref)

    def _click(self, ref: int) -> tuple[float, bool]:
        element, task, target = self._by_ref(ref), self.task_name, self.page.target
        for e in self.page.elements:
            e["flags"] = [int(e is element)] + e["flags"][1:]            # the clicked element has the focus
        if element["tag"] == "input_checkbox":
            element["value"] = "" if _checked(element) else "True"
            return 0.0, False
        if element["tag"] == "input_text":
            return (1.0, True) if task == "focus-text" else (0.0, False)
        if task in ("click-test-2", "click-button", "click-link"):
            return (1.0 if element["text"] == target else -1.0), True
        if element["text"] != "Submit":
            return 0.0, False
        if task == "enter-text":
            box = next(e for e in self.page.elements if e["tag"] == "input_text")
            return (1.0 if box["value"] == target else -1.0), True
        if task == "click-checkboxes":
            ticked = {label for ref_, kind, label in describe(self.page.elements)
                      if kind == "checkbox" and _checked(self._by_ref(ref_))}
            return (1.0 if ticked == set(target) else -1.0), True
        return -1.0, True

    def _type(self, ref: int, text: str) -> tuple[float, bool]:
        box = self._by_ref(ref)
        box["value"] = str(box["value"]) + text                          # typing appends, as keys do
        return (1.0, True) if self.task_name == "focus-text" else (0.0, False)


# --- the clone's demonstrations, and what an agent did ----------------------------------------------------------
def demonstration(env: WebEnv) -> list[dict]:
    """The expert's episode on the page `env` was just reset to, as a conversation: the page, then each tool call
    and the page it led to (the expert asks again after every step, as a policy does)."""
    messages = [{"role": "user", "content": env.last_observation}]
    done = False
    while not done:
        tool, arguments = expert_actions(env.task_name, env.utterance, env.elements())[0]
        text = "<tool_call>" + json.dumps({"name": tool, "arguments": arguments}) + "</tool_call>"
        page, _, terminated, truncated, _ = env.step(text)
        done = terminated or truncated
        messages += [assistant(tool=tool, **arguments)] + ([] if done else [observation(page)])
    return messages


def play_pages(model, tokenizer, n: int, tasks: tuple = TASKS, layouts: tuple = PERTURBATIONS, split: str = "test",
               temperature: float = 0.0, seed: int = 0, first_seed: int = 100_000) -> list[Trajectory]:
    """n twin pages of each task kind in each layout, seeds first_seed, first_seed + 1, ...: the same pages for
    every policy, so two policies' episodes pair page by page (a trajectory's info holds its task and layout)."""
    kinds = [(task, layout) for task in tasks for layout in layouts]
    envs = [gym.make("agentic_lab/WebTwin-v0", task=task, split=split, perturbation=layout)
            for task, layout in kinds for _ in range(n)]
    seeds = [first_seed + k for _ in kinds for k in range(n)]
    return rollout(model, tokenizer, envs, seeds, temperature=temperature, seed=seed, max_new_tokens=64)


def play_real(model, tokenizer, n: int, tasks: tuple = TASKS, temperature: float = 0.0, seed: int = 0,
              first_seed: int = 1) -> list[Trajectory]:
    """n real MiniWoB++ pages of each task kind, seeds first_seed, first_seed + 1, ...: the pages a scripted policy
    gets from `env.reset(seed=...)` with the same seeds. One browser per kind, reused from page to page, so the
    kinds are played side by side one seed at a time (a browser per episode would take a second and 400 MB each)."""
    envs = [gym.make("agentic_lab/MiniWoB-v0", task=task) for task in tasks]
    try:
        played = [rollout(model, tokenizer, envs, [first_seed + k] * len(envs), temperature=temperature, seed=seed + k,
                          max_new_tokens=64) for k in range(n)]
    finally:
        for env in envs:
            env.close()
    return [by_seed[i] for i in range(len(tasks)) for by_seed in played]   # grouped by kind, in seed order


def web_report(trajectories: list[Trajectory]) -> dict[str, dict]:
    """By task (and "all"): n, success ± SE, actions per episode, and the share of actions the page refused."""
    report = {}
    for name in [*TASKS, "all"]:
        episodes = [t for t in trajectories if name in ("all", t.info["task"])]
        if not episodes:
            continue
        turns = [turn for t in episodes for turn in t.turns]
        p, se = success_rate(episodes)
        report[name] = {"n": len(episodes), "success": p, "stderr": se, "actions": len(turns) / len(episodes),
                        "refused": sum(turn.action.kind == "invalid" or (turn.result or "").startswith("Error:")
                                       for turn in turns) / max(len(turns), 1)}
    return report


# --- the real pages --------------------------------------------------------------------------------------------
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def miniwob_available() -> str | None:
    """None if MiniWoB++ can run here, else what is missing (the notebook and the tests say it and skip)."""
    try:
        import miniwob  # noqa: F401
    except ImportError:
        return "the miniwob package is not installed (make setup installs it)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.path.exists(path):
            return f"{path} is missing (Debian's {package}; make test installs it when run as root)"
    return None


class MiniWoBEnv(WebEnv):
    """A MiniWoB++ task in headless Chromium, through Selenium, read and acted on exactly as the twin is. The
    browser starts on the first reset (2-3 s, about 400 MB) and stops with `close()`.

    MiniWoB++ fails an episode after 10 s of wall-clock time (`core.EPISODE_MAX_TIME`), a limit made for a person at
    a keyboard. A model on a CPU playing six pages side by side can spend that before its first click, and be failed
    for a right answer; so each episode here gets `time_limit` seconds (60 by default), and the score says what the
    agent did, not how fast the machine is."""

    def __init__(self, task: str = "click-button", max_turns: int = MAX_TURNS, render_mode: str | None = None,
                 time_limit: float = 60.0):
        super().__init__(task, max_turns, render_mode)
        self.browser = None
        self.observation = None
        self.time_limit = time_limit

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if self.browser is None:
            missing = miniwob_available()
            if missing:
                raise RuntimeError(f"MiniWoB++ cannot run here: {missing}")
            # Without these two, Selenium looks for a browser and a driver to download: the network.
            os.environ.setdefault("MINIWOB_CHROME_BINARY", CHROMIUM)
            os.environ.setdefault("MINIWOB_CHROMEDRIVER", CHROMEDRIVER)
            import miniwob
            gym.register_envs(miniwob)
            self.browser = gym.make(f"miniwob/{self.task_name}-v1").unwrapped
        self.browser.instance.driver.execute_script(f"core.EPISODE_MAX_TIME = {round(self.time_limit * 1000)};")
        self.observation, _ = self.browser.reset(seed=int(self.np_random.integers(2**31)))
        self.utterance, self.turns, self.success, self.done = self.observation["utterance"], 0, False, False
        self.last_observation = printable(self.page_text(), 4096)
        return self.last_observation, self.info()

    def elements(self) -> list[dict]:
        return list(self.observation["dom_elements"]) if self.observation is not None else []

    def info(self) -> dict:
        """The viewer draws the page as the browser drew it beside each turn (info["show"]); the model reads text."""
        shown = {"show": {"screenshot": png_data_uri(self.screenshot())}} if self.observation is not None else {}
        return super().info() | shown

    def _step(self, action) -> tuple[float, bool]:
        self.observation, _, terminated, _, info = self.browser.step(action)
        if not terminated:
            return 0.0, False
        return (1.0 if info["raw_reward"] == 1 else -1.0), True        # MiniWoB++'s binary reward processor

    def _click(self, ref: int) -> tuple[float, bool]:
        from miniwob.action import ActionTypes
        return self._step(self.browser.create_action(ActionTypes.CLICK_ELEMENT, ref=ref))

    def _type(self, ref: int, text: str) -> tuple[float, bool]:
        from miniwob.action import ActionTypes
        return self._step(self.browser.create_action(ActionTypes.FOCUS_ELEMENT_AND_TYPE_TEXT, ref=ref, text=text))

    def screenshot(self):
        """The page as the browser drew it: an (height, width, 3) uint8 array."""
        return None if self.observation is None else self.observation["screenshot"]

    def close(self):
        if self.browser is not None:
            self.browser.close()
            self.browser = None
