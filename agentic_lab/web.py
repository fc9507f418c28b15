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

**The twin.** The same six task kinds (TASKS), each page made as MiniWoB++'s own generator for the kind makes one
(its miniwob/<task>.html: click-button's six slots, click-link's twenty words with links among them, two to six
checkboxes), with its element fields, tags, refs and sentences, and each element where Chromium would draw it
(`_Layout`: Arial's letter widths, the browser's line breaking); and the same dynamics (a click on the target button
ends the episode, typing appends to a text box, a checkbox toggles, Submit checks the form). A page takes
microseconds instead of a browser's tenth of a second, so RL can train on it within a notebook. Held out: the test
split draws its words (lorem text, button labels, links, names, checkbox labels) from a vocabulary the training pages
never use, and its sentences from phrasings the training pages never use. `perturbation` changes the layout the way
a redesign does: "moved" (the elements in another order and place), "relabelled" (every label but the target's is a
held-out word), "crowded" (twice the distractors, or lines of text above a page that had none).

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
from agentic_lab.tasks import assistant
from agentic_lab.tools import Tool, ToolError, call_tool
from agentic_lab.trajectory import Trajectory
from agentic_lab.vision import png_data_uri

WARM_START = Path(__file__).resolve().parent.parent / "data" / "web-warm"
TASKS = ("click-test-2", "click-button", "click-link", "enter-text", "focus-text", "click-checkboxes")
PERTURBATIONS = (None, "moved", "relabelled", "crowded")
MAX_TURNS = 8            # click-checkboxes may ask for all six boxes: seven actions
SCREEN_WIDTH, AREA_TOP, AREA_HEIGHT = 160, 50, 160     # MiniWoB++'s task area: 160 x 160 pixels below the prompt

# --- words --------------------------------------------------------------------------------------------------------
# The words MiniWoB++'s generators draw from (its common/ui_utils.js: lorem_words, FIFTY_NAMES, click-button's eight
# button words; the first 50 names and the first 8 button words here), each with more of its kind, so the twin has
# enough words to hold some out. A word belongs to the test split by a hash of it (lower case, without punctuation),
# so no held-out word is ever on a training page; the real pages use words of both splits (their "okay" and "yes"
# buttons, for one, are held-out words).
LOREM = ("a ac accumsan adipiscing aenean aliquam aliquet amet ante arcu at auctor augue bibendum blandit commodo "
         "condimentum congue consectetur consequat convallis cras cum curabitur cursus dapibus diam dictum dictumst "
         "dignissim dis dolor donec dui duis egestas eget eleifend elementum elit enim erat eros est et etiam eu "
         "euismod facilisi facilisis fames faucibus felis fermentum feugiat fringilla fusce gravida habitant "
         "habitasse hac hendrerit iaculis id imperdiet in integer interdum ipsum justo lacinia lacus laoreet lectus "
         "leo libero ligula lobortis lorem luctus maecenas magna magnis malesuada massa mattis mauris metus mi "
         "molestie mollis montes morbi mus nam nascetur natoque nec neque netus nibh nisi nisl non nulla nullam nunc "
         "odio orci ornare parturient pellentesque penatibus pharetra phasellus placerat platea porta porttitor "
         "posuere potenti praesent pretium proin pulvinar purus quam quis quisque rhoncus ridiculus risus rutrum "
         "sagittis sapien scelerisque sed sem semper senectus sit sociis sodales sollicitudin suscipit suspendisse "
         "tellus tempor tempus tincidunt tortor tristique turpis ullamcorper ultrices ultricies urna ut varius "
         "vehicula vel velit venenatis vestibulum vitae vivamus viverra volutpat vulputate").split()
NAMES = ("Kenda Karrie Joye Cheree Deneen Tula Briana Beaulah Vina Vanda Cierra Leonie Bernardine Keli Renda "
         "Marcella Kanesha Enola Nathalie Annis Nieves Lyda Livia Kasie Tora Macie Agustina Dolores Ashlea Cristin "
         "Jerald Teodoro Rex Riley Jess Emile Donovan Keneth Chas Thaddeus Sergio Michel Myron Olin Dannie Juan Alan "
         "Ignacio Truman Augus Tobias Ines Rolf Sybil Dario Lena Mateo Priya Oskar Nadia Felix Yara Hugo Ilse Bruno "
         "Carmen Emil Greta Ivan Jonah Kira Luca Mira Nils Olga Pavel Rosa Sven Tara Umar Vera Wren").split()
BUTTON_WORDS = ("submit okay ok yes no cancel next previous back done save close apply send delete continue accept "
                "decline retry skip finish start stop open reset confirm search login").split()
COMMA_SHARE = 0.07          # of MiniWoB++'s lorem words, the share written with a comma ("amet,")


def held_out_word(word: str) -> bool:
    return zlib.crc32(word.strip(".,:").lower().encode()) % 5 == 0


def vocabulary(split: str, words: list[str] = LOREM) -> list[str]:
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


def phrasing(task: str, split: str, rng: random.Random) -> str:
    options = PHRASINGS[task]
    return options[-1] if split == "test" else rng.choice(options[:-1])


def _random_labels(rng: random.Random, n: int, split: str) -> list[str]:
    """n checkbox labels as MiniWoB++ makes them (generateString(2, 8): 2 to 7 letters and digits), of the split."""
    labels: list[str] = []
    while len(labels) < n:
        label = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(2, 7)))
        if held_out_word(label) == (split == "test") and label.lower() not in {w.lower() for w in labels}:
            labels.append(label)
    return labels


def _lorem(rng: random.Random, words: list[str], n: int) -> list[str]:
    """n lorem words, a few with a comma, as MiniWoB++'s list has them."""
    return [w + ("," if rng.random() < COMMA_SHARE else "") for w in rng.choices(words, k=n)]


def _sentences(rng: random.Random, words: list[str], n: int) -> list[str]:
    """MiniWoB++'s generateWords(n): n words in sentences, each capitalised, ending with a full stop after a word
    with probability 0.2, and at the end."""
    out, first = [], True
    for i, w in enumerate(_lorem(rng, words, n)):
        w = w[:1].upper() + w[1:] if first else w
        first = rng.random() < 0.2 and i + 1 < n
        out.append(w + "." if first else w.replace(",", "") + "." if i + 1 == n else w)
    return out


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


# --- the twin's layout: where Chromium puts MiniWoB++'s elements -------------------------------------------------
# Arial's advance widths in thousandths of the font size (Chromium draws MiniWoB++'s Arial in Liberation Sans, which
# has Arial's metrics): the task area's text is 10 px; a button keeps the browser's 13.33 px and adds 16 px of
# padding and border, so "Cancel" is 57.5 px wide, as Chromium measures it.
_ADVANCE = {**dict(zip(string.ascii_lowercase, (556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556,
                                                 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500))),
            **dict(zip(string.ascii_uppercase, (667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722,
                                                 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611))),
            **{d: 556 for d in string.digits}, " ": 278, ",": 278, ".": 278, ":": 278}
LEFT, RIGHT, LINE, BOX = 2, 158, 11, 21   # the area's inner edges; a line of text, and of a button or text box


def text_width(text: str, size: float = 10) -> float:
    return sum(_ADVANCE.get(c, 556) for c in text) * size / 1000


def button_width(text: str) -> float:
    return text_width(text, 40 / 3) + 16


class _Layout:
    """A page's elements as MiniWoB++ lists them, placed as Chromium's inline layout places them: words and boxes
    left to right from x = 2, a new line when the next would pass x = 158 (the space before it dropped), a line
    11 px tall, or 21 with a button or text box in it (its text then 6 px down, on their baseline). Refs in page
    order, as MiniWoB++ gives them: elements 4, 5, ... after the body, the wrapper and the task area (1 to 3), and
    text that shares its parent with elements (a text node, tag "t") -1, -2, ..., one per line it spans."""

    def __init__(self, top: float = AREA_TOP + 2):
        self.elements = [_element(1, 0, "body", width=SCREEN_WIDTH, height=AREA_TOP + AREA_HEIGHT),
                         _element(2, 1, "div", width=SCREEN_WIDTH, height=AREA_TOP + AREA_HEIGHT),
                         _element(3, 2, "div", top=AREA_TOP, width=SCREEN_WIDTH, height=AREA_HEIGHT)]
        self.ref, self.text_ref = 4, -1
        self.x, self.top, self.space = LEFT, top, False
        self.line: list[tuple[dict, float, float, bool]] = []    # (element, x, width, is a box) on the open line

    def add(self, tag: str, text: str = "", parent: int = 3, classes: str = "", **place) -> dict:
        """A new element (a text node if tag is "t"), at `place` (left, top, width, height) if given."""
        if tag == "t":
            ref, self.text_ref = self.text_ref, self.text_ref - 1
        else:
            ref, self.ref = self.ref, self.ref + 1
        element = _element(ref, parent, tag, text, classes=classes, **place)
        element["top"] = place.get("top")                      # None until its line is closed
        self.elements.append(element)
        return element

    def _fits(self, width: float) -> None:
        """Make room for something `width` wide: a new line if it and the space before it would pass the right
        edge, else the space."""
        if self.line and self.x + (text_width(" ") if self.space else 0) + width > RIGHT:
            self.newline()
        elif self.line and self.space:
            self.x += text_width(" ")
        self.space = False

    def box(self, tag: str, text: str = "", width: float = 40, classes: str = "") -> dict:
        """A button or text box in the flow of the line."""
        self._fits(width)
        element = self.add(tag, text, classes=classes, left=self.x, width=width, height=BOX)
        self.line.append((element, self.x, width, True))
        self.x += width
        return element

    def words(self, tag: str, text: str, classes: str = "") -> dict:
        """Text in the flow: one element however many lines it spans (a span), or for tag "t" one text node per
        line. A space at its start belongs to it (its box starts before the space), one at its end parts it from
        what follows; a space at the start of a line is dropped, as the browser drops it."""
        self.space = self.space or text[:1] == " "
        element = None
        for word in text.split():
            start = self.x
            self._fits(text_width(word))
            if element is None or (tag == "t" and not any(e is element for e, *_ in self.line)):
                left = start if element is None and text[:1] == " " and self.line else self.x
                element = self.add(tag, word if tag == "t" else text.strip(), classes=classes, left=left, width=0)
            elif tag == "t":
                element["text"] += " " + word
            self.line.append((element, self.x, text_width(word), False))
            self.x += text_width(word)
            self.space = True
        self.space = text[-1:] == " "
        return element

    def block(self, text: str) -> dict:
        """A block of text (a div), on lines of its own."""
        self.newline()
        element = self.words("div", text)
        element["left"], element["width"] = LEFT, RIGHT - LEFT
        self.newline()
        return element

    def newline(self) -> None:
        """Close the open line: its height known, its elements' tops are."""
        if not self.line:
            return
        height = BOX if any(is_box for *_, is_box in self.line) else LINE
        for element, x, width, is_box in self.line:
            top = self.top + (0 if is_box or height == LINE else 6)
            if element["top"] is None:
                element["top"] = top
            element["left"] = min(element["left"], x)
            element["width"] = max(element["left"] + element["width"], x + width) - element["left"]
            element["height"] = top + (BOX if is_box else LINE) - element["top"]
        self.top, self.x, self.line, self.space = self.top + height, LEFT, [], False

    def done(self) -> list[dict]:
        self.newline()
        return self.elements


def make_page(task: str, rng: random.Random, split: str = "train", perturbation: str | None = None) -> Page:
    """A page of one task kind, made as MiniWoB++'s generator for it makes one (its miniwob/<task>.html): the same
    elements, refs, text and places, from the split's words. `perturbation` then changes it as a redesign would:
    "moved" puts every element somewhere else in the area (the page lists them in their new reading order),
    "relabelled" gives every button, link or box but the ones asked for a held-out word, "crowded" doubles the
    distractors (click-button's slots, click-link's words, the boxes not asked for) or puts lines of text above
    a page that has none (click-test-2, enter-text, focus-text)."""
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}")
    if perturbation not in PERTURBATIONS:
        raise ValueError(f"perturbation must be one of {PERTURBATIONS}")
    words, crowded = vocabulary(split), perturbation == "crowded"

    def relabel(labels: list[str], pool: list[str], keep: set) -> list[str]:   # a relabelled page's labels
        if perturbation != "relabelled":
            return labels
        others = [w for w in pool if w.lower() not in {k.lower() for k in keep}]
        return [w if w in keep else rng.choice(others) for w in labels]
    page = _Layout()
    if crowded and task in ("click-test-2", "enter-text", "focus-text"):
        for _ in range(rng.randint(2, 6)):
            page.block(" ".join(_lorem(rng, words, 3)))
    if task == "click-test-2":                       # two 40-pixel buttons anywhere in the area
        target = "ONE"
        for label in ("ONE", "TWO"):
            page.add("button", label, left=rng.randrange(118), top=rng.randrange(118) + AREA_TOP, width=40, height=40)
    elif task == "click-button":                     # six slots: a line of text, a text box, or a button
        slots, labels, button_words = [], [], vocabulary(split, BUTTON_WORDS)
        for i in range(12 if crowded else 6):
            u = rng.random()
            if u < 0.66 and not (i == (11 if crowded else 5) and not labels):
                slots.append(("text" if u < 0.33 else "textbox", rng.random() < 0.5))
            else:
                label = rng.choice(button_words)
                labels.append(label.capitalize() if rng.random() < 0.5 else label)
                slots.append(("button", rng.random() < 0.5))
        target = rng.choice(labels)
        labels = relabel(labels, vocabulary("test", BUTTON_WORDS), {target})
        for kind, coin in slots:
            if kind == "text":
                page.block(" " + " ".join(_lorem(rng, words, 3)))
            elif kind == "textbox":
                if coin:
                    page.words("span", " " + " ".join(_lorem(rng, words, 3)) + ": ")
                page.box("input_text", width=rng.randint(40, 149) + 8)
                page.newline()
            else:
                label = labels.pop(0)
                page.box("button", label, width=button_width(label))
                if coin:
                    page.newline()
    elif task == "click-link":                       # 20 words of sentences, each a link with probability 0.2
        tokens = []
        while not any(is_link for _, is_link in tokens):
            tokens = [(w, rng.random() < 0.2) for w in _sentences(rng, words, 40 if crowded else 20)]
        links = [w for w, is_link in tokens if is_link]
        target = rng.choice(links)
        links = iter(relabel(links, vocabulary("test"), {target}))
        run: list[str] = []
        for i, (w, is_link) in enumerate(tokens):
            if not is_link:
                run.append(w)
                continue
            if run:
                page.words("t", (" " if i > len(run) else "") + " ".join(run) + " ")
            page.space, run = i > 0, []              # the tokens are joined by spaces
            page.words("span", next(links), classes="alink")
        if run:
            page.words("t", " " + " ".join(run))
    elif task == "enter-text":                       # a form moved by up to 19 pixels, its Submit up to 19 lower
        target = rng.choice(vocabulary(split, NAMES))
        left, top = LEFT + rng.randrange(20), page.top + rng.randrange(20)
        form = page.add("div", left=left, top=top, width=RIGHT - left, height=52)
        page.add("input_text", parent=form["ref"], left=left, top=top, width=128, height=BOX)
        page.add("button", "Submit", parent=form["ref"], classes="secondary-action", left=left,
                 top=top + BOX + rng.randrange(20), width=button_width("Submit") + 38, height=31)
    elif task == "focus-text":                       # a text box moved by up to 19 pixels right and 139 down
        target = None
        page.add("input_text", left=LEFT + rng.randrange(20), top=page.top + rng.randrange(140), width=128, height=BOX)
    else:                                            # click-checkboxes: 2 to 6 boxes, each asked for with p = 0.5
        n = rng.randrange(2, 7)
        labels = _random_labels(rng, 2 * n if crowded else n, split)
        target = tuple(w for w in labels[:n] if rng.random() < 0.5)
        if crowded:
            rng.shuffle(labels)
        if perturbation == "relabelled":
            labels = relabel(labels, _random_labels(rng, len(labels), "test"), set(target))
        boxes = page.add("div", left=LEFT, top=page.top, width=RIGHT - LEFT, height=19 * len(labels))
        for i, label in enumerate(labels):
            y = page.top + 19 * i
            holder = page.add("label", parent=boxes["ref"], left=LEFT, top=y + 7, width=27 + text_width(label),
                              height=LINE)
            page.add("input_checkbox", parent=holder["ref"], left=LEFT + 4, top=y + 3, width=20, height=13)
            page.add("t", label, parent=holder["ref"], left=LEFT + 27, top=y + 7, width=text_width(label),
                     height=LINE)
        page.add("button", "Submit", classes="secondary-action", left=LEFT, top=page.top + 11 + 19 * len(labels),
                 width=button_width("Submit") + 38, height=31)
    elements = page.done()
    if perturbation == "moved":
        _move(elements, rng)
    sentence = phrasing(task, split, rng).format(
        target=(", ".join(target) or "nothing") if isinstance(target, tuple) else target)
    return Page(sentence, elements, target)


def _move(elements: list[dict], rng: random.Random) -> None:
    """Each element the area or a wrapper holds goes somewhere else in the area, what it holds with it (a checkbox
    and its label's text move with the label); the page then lists them in their new reading order."""
    wrappers = {e["ref"] for e in elements[3:] if e["tag"] == "div" and not e["text"]}
    children: dict[int, list[dict]] = {}
    for e in elements:
        children.setdefault(e["parent"], []).append(e)
    for e in elements[3:]:
        if e["parent"] in wrappers | {3} and e["ref"] not in wrappers:
            dx, dy = rng.randint(2, 100) - e["left"], rng.randint(AREA_TOP + 2, AREA_TOP + AREA_HEIGHT - 22) - e["top"]
            for moved in [e, *children.get(e["ref"], [])]:
                moved["left"], moved["top"] = moved["left"] + dx, moved["top"] + dy
    elements[3:] = sorted(elements[3:], key=lambda e: (e["top"], e["left"]))


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

    def error(self, message: str) -> str:
        """A malformed action's error, with the page: the agent reads only the latest observation."""
        return super().error(message) + "\n" + self.page_text()

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
def demonstration(env: WebEnv) -> list[list[dict]]:
    """The expert's episode on the page `env` was just reset to, as single-turn conversations, one a step: the page
    as it stands, then the expert's tool call. A page shows all there is to know (what is ticked, what is typed), so
    the agent reads only the latest page (rollout's keep_history=False) and its context stays one page long."""
    conversations, done = [], False
    while not done:
        tool, arguments = expert_actions(env.task_name, env.utterance, env.elements())[0]
        conversations.append([{"role": "user", "content": env.last_observation}, assistant(tool=tool, **arguments)])
        text = "<tool_call>" + json.dumps({"name": tool, "arguments": arguments}) + "</tool_call>"
        _, _, terminated, truncated, _ = env.step(text)
        done = terminated or truncated
    return conversations


def play_pages(model, tokenizer, n: int, tasks: tuple = TASKS, layouts: tuple = PERTURBATIONS, split: str = "test",
               temperature: float = 0.0, seed: int = 0, first_seed: int = 100_000) -> list[Trajectory]:
    """n twin pages of each task kind in each layout, seeds first_seed, first_seed + 1, ...: the same pages for
    every policy, so two policies' episodes pair page by page (a trajectory's info holds its task and layout)."""
    kinds = [(task, layout) for task in tasks for layout in layouts]
    envs = [gym.make("agentic_lab/WebTwin-v0", task=task, split=split, perturbation=layout)
            for task, layout in kinds for _ in range(n)]
    seeds = [first_seed + k for _ in kinds for k in range(n)]
    return rollout(model, tokenizer, envs, seeds, temperature=temperature, seed=seed, max_new_tokens=64,
                   keep_history=False)


def play_real(model, tokenizer, n: int, tasks: tuple = TASKS, temperature: float = 0.0, seed: int = 0,
              first_seed: int = 1) -> list[Trajectory]:
    """n real MiniWoB++ pages of each task kind, seeds first_seed, first_seed + 1, ...: the pages a scripted policy
    gets from `env.reset(seed=...)` with the same seeds. One browser per kind, reused from page to page, so the
    kinds are played side by side one seed at a time (a browser per episode would take a second and 400 MB each)."""
    envs = [gym.make("agentic_lab/MiniWoB-v0", task=task) for task in tasks]
    try:
        played = [rollout(model, tokenizer, envs, [first_seed + k] * len(envs), temperature=temperature, seed=seed + k,
                          max_new_tokens=64, keep_history=False) for k in range(n)]
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
    browser starts on the first reset (about a second, and about 400 MB) and stops with `close()`.

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
