"""Perception (notebook 13): a scene where one glance is not enough, tools to look closer, and the rewards that decide
whether an agent keeps looking.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/Look-v0")
    observation, info = env.reset(seed=0)       # "<image>\nWhich digit ...", info["images"] = [32×32 uint8 view]

**The scene.** A 64×64 grey-scale picture, black but for one small white digit (a 3×5 bitmap, `GLYPHS`) and
`DISTRACTORS` dim marks of the same size that are not digits, each near the centre of its own cell of a 4×4 grid
of 16×16 cells. The agent first sees a glance (`glance`): a 4×4 thumbnail, each pixel a cell's brightness, drawn
at the tiny VLM's 32×32. It shows where the digit is (the brightest cell) and how many pixels the digit lights, not
which: digits lighting as many (0, 6 and 9; 2, 3 and 5) look the same, so a glance is right at most 6 times in 10
(`glance_ceiling`). A crop of the digit's cell shows it at twice its size, pixel for pixel.

**The tools** (visual operations, as tool calls through the same parser as every other tool):

    crop(x0, y0, x1, y1)    the box [x0, x1) × [y0, y1) of the scene at full resolution, scaled to 32×32
                            (nearest neighbour): a 16×16 cell comes back twice as large as the scene shows it
    erase(x0, y0, x1, y1)   paints the box black in the scene (a distractor gone, or the digit, if misaimed) and
                            shows the new glance

A box outside the scene, of zero area, or with arguments that are not integers is an error observation with the
invalid-action penalty, the scene unchanged. `<answer>d</answer>` ends the episode: reward 1 if d is the digit,
else 0. At most MAX_TURNS turns.

**Train and test** differ in what the model reads. A crop of the digit's cell depends only on the digit and where
in the cell it starts (one of four offsets), and a glance only on which cells are lit and how brightly, so a split
by the digit's place in the scene left every held-out crop pixel for pixel one from training. A held-out scene's
digit has one pixel of its stroke, any, worn to a grey no training digit has (`WORN`): no held-out crop of the
digit's cell is a training one, nor any held-out glance (its digit's cell is 4 grey levels dimmer). New offsets
would be a larger step, and the warm start could not take it: a trial build on 32 offsets in the cell instead of
4 (same steps) never learned to read a crop at all (sampled on 150 training scenes, right 0.62 of the time when it
looked, no better than its glance). What a glance tells is the same in both splits: digits lighting as many
pixels look the same, and every digit is equally likely (`glance_ceiling` gives the ceiling of the scenes played).

**Rewards** of the four ways notebook 13 compares to teach looking (each a reward function of an episode, or of a
group of episodes where it depends on the group, for `rl.grpo_train`): outcome only, Pixel Reasoner's curiosity
bonus, DeepEyes' conditional tool bonus, and an unconditional bonus per call.
"""
from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from agentic_lab.actions import Action
from agentic_lab.envs import TextEnv
from agentic_lab.eval import success_rate
from agentic_lab.tools import Tool, ToolError, call_tool
from agentic_lab.trajectory import Trajectory
from agentic_lab.vision import IMAGE_MARK

SCENE, VIEW, CELL = 64, 32, 16     # scene side, the model's image side, the grid's cell side (pixels)
GAIN = 16                          # the glance's brightening (see glance)
DIGIT_W, DIGIT_H = 3, 5
DIGIT, MARK = 255, 80              # the digit's and the distractors' grey levels (background 0): a mark lights at
                                   # most 15 pixels, 15 · 80 < 6 · 255 + WORN, so the digit's cell is the glance's
                                   # brightest, worn or not
WORN = 191                         # the grey of the one worn pixel of a held-out digit's stroke: still plainly lit
                                   # in a crop, and 64 / 256 · GAIN = 4 grey levels off a glance, a quarter of the
                                   # 16 between digits lighting one pixel more or less
DISTRACTORS = 3
JITTER_X, JITTER_Y = (6, 7), (5, 6)   # where in its cell a digit or mark may start: (16 - 3) / 2, (16 - 5) / 2, ±½
MAX_TURNS = 4
# 3×5 bitmaps, rows top to bottom
GLYPHS = {
    "0": ["111", "101", "101", "101", "111"], "1": ["010", "110", "010", "010", "111"],
    "2": ["111", "001", "111", "100", "111"], "3": ["111", "001", "111", "001", "111"],
    "4": ["101", "101", "111", "001", "001"], "5": ["111", "100", "111", "001", "111"],
    "6": ["111", "100", "111", "101", "111"], "7": ["111", "001", "010", "010", "010"],
    "8": ["111", "101", "111", "101", "111"], "9": ["111", "101", "111", "001", "111"],
}
LOOK_WARM_START = Path(__file__).resolve().parent.parent / "data" / "look-warm"
QUESTION = f"Which digit is in this {SCENE}x{SCENE} picture (shown as a 4x4 glance)?"


def glyph(digit: str) -> np.ndarray:
    """The digit's bitmap, (5, 3) booleans."""
    return np.array([[c == "1" for c in row] for row in GLYPHS[digit]], dtype=bool)


def draw_scene(rng: random.Random, split: str = "train") -> tuple[np.ndarray, str, tuple[int, int]]:
    """(64×64 uint8 scene, the digit, its top-left (x, y)), the digit and each distractor near the centre of a cell
    of its own; a test scene's digit has one pixel worn to WORN."""
    cells = rng.sample(range((SCENE // CELL) ** 2), 1 + DISTRACTORS)
    scene = np.zeros((SCENE, SCENE), dtype=np.uint8)

    def place(cell: int) -> tuple[int, int]:     # near the cell's centre, give or take a pixel
        return cell % 4 * CELL + rng.choice(JITTER_X), cell // 4 * CELL + rng.choice(JITTER_Y)
    digit, (x, y) = rng.choice(sorted(GLYPHS)), place(cells[0])     # every digit equally likely in both splits
    scene[y:y + DIGIT_H, x:x + DIGIT_W][glyph(digit)] = DIGIT
    if split == "test":     # one pixel of the stroke, any, worn to a grey no training digit has
        rows, cols = np.nonzero(glyph(digit))
        k = rng.randrange(len(rows))
        scene[y + rows[k], x + cols[k]] = WORN
    for cell in cells[1:]:
        mx, my = place(cell)
        while True:     # a random mark that is not a digit's bitmap
            mark = np.array([[rng.random() < 0.5 for _ in range(DIGIT_W)] for _ in range(DIGIT_H)])
            if not any((mark == glyph(d)).all() for d in GLYPHS):
                break
        scene[my:my + DIGIT_H, mx:mx + DIGIT_W][mark] = MARK
    return scene, digit, (x, y)


def glance(scene: np.ndarray) -> np.ndarray:
    """What the agent sees at first: a 4×4 thumbnail of the scene, each pixel a cell's mean brightness times GAIN
    (a digit lights 7 to 13 of a cell's 256 pixels: 7 to 13 grey levels, brightened to 112-207; a held-out digit,
    one pixel worn, to 108-203), each drawn as 8×8 to fill the model's 32×32. It shows where the digit is (the
    brightest cell) and how many pixels it lights, not which pixels: digits that light as many look alike
    (`glance_ceiling`)."""
    cells = scene.reshape(SCENE // CELL, CELL, SCENE // CELL, CELL).mean(axis=(1, 3))
    thumbnail = np.clip(np.round(cells * GAIN), 0, 255).astype(np.uint8)
    return thumbnail.repeat(VIEW // (SCENE // CELL), axis=0).repeat(VIEW // (SCENE // CELL), axis=1)


def glance_ceiling(digits: Iterable[str] | None = None) -> float:
    """The best accuracy from the glance alone on scenes with these digits (the ten equally likely if None): it tells
    digits apart only by how many pixels they light, so each set of digits lighting as many (0, 6, 9: 12; 2, 3, 5:
    11) is one guess, at best the set's most frequent digit. Ten equally likely digits in six sets: 0.6. Of a
    finite set of scenes, say the held-out ones a notebook plays (`t.info["answer"]` of its episodes), it is
    somewhat above: chance makes one digit of a set more frequent, and this ceiling knows which."""
    counts = Counter(list(GLYPHS if digits is None else digits))     # a list: a Counter of a dict takes its values
    best: dict[int, int] = {}
    for digit, n in counts.items():
        lit = int(glyph(digit).sum())
        best[lit] = max(best.get(lit, 0), n)
    return sum(best.values()) / sum(counts.values())


def check_box(x0: int, y0: int, x1: int, y1: int) -> None:
    """A box is [x0, x1) × [y0, y1) of the scene, of positive area."""
    if not (0 <= x0 < x1 <= SCENE and 0 <= y0 < y1 <= SCENE):
        raise ToolError(f"a box needs 0 <= x0 < x1 <= {SCENE} and 0 <= y0 < y1 <= {SCENE}, "
                        f"not ({x0}, {y0}, {x1}, {y1})")


def crop(scene: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The box at full resolution, scaled to 32×32 by nearest neighbour: pixel (i, j) of the result is scene pixel
    (y0 + ⌊i·h/32⌋, x0 + ⌊j·w/32⌋), with w = x1 - x0 and h = y1 - y0."""
    check_box(x0, y0, x1, y1)
    rows = y0 + (np.arange(VIEW) * (y1 - y0)) // VIEW
    cols = x0 + (np.arange(VIEW) * (x1 - x0)) // VIEW
    return scene[np.ix_(rows, cols)]


def cell_box(x: int, y: int) -> tuple[int, int, int, int]:
    """The grid cell holding pixel (x, y), as a box (x0, y0, x1, y1): where a demonstration crops."""
    x0, y0 = x // CELL * CELL, y // CELL * CELL
    return x0, y0, x0 + CELL, y0 + CELL


BOX = {"x0": (int, "left"), "y0": (int, "top"), "x1": (int, "right (excluded)"), "y1": (int, "bottom (excluded)")}


class LookEnv(TextEnv):
    """Name the digit in a scene first seen as a glance; crop to see a box at full resolution, erase to
    blank a box. Observations are text with IMAGE_MARK where the image goes; the images ride in info["images"].
    `look=False` offers no tool and one turn: the agent answers from the glance."""

    def __init__(self, split: str = "train", max_turns: int = MAX_TURNS, look: bool = True,
                 render_mode: str | None = None):
        tools = {
            "crop": Tool("crop", "See the box of the scene at full size.", BOX, self._crop),
            "erase": Tool("erase", "Blank the box of the scene.", BOX, self._erase),
        }
        # look=False: no tools offered, one turn: the one-glance baseline (an agent that cannot look closer)
        super().__init__(tools if look else {}, max_turns if look else 1, render_mode)
        self.split = split
        self.scene, self.digit, self.position = np.zeros((SCENE, SCENE), np.uint8), "0", (0, 0)
        self.shown: list[np.ndarray] = []
        self.success = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.scene, self.digit, self.position = draw_scene(random.Random(int(self.np_random.integers(2**31))),
                                                           self.split)
        self.turns, self.success = 0, False
        self.shown = [glance(self.scene)]
        self.last_observation = f"{IMAGE_MARK}\n{QUESTION}"
        return self.last_observation, self.info()

    def _crop(self, x0: int, y0: int, x1: int, y1: int) -> str:
        self.shown = [crop(self.scene, x0, y0, x1, y1)]
        return f"{IMAGE_MARK}\nThe box ({x0}, {y0})-({x1}, {y1}) at full size."

    def _erase(self, x0: int, y0: int, x1: int, y1: int) -> str:
        check_box(x0, y0, x1, y1)
        self.scene[y0:y1, x0:x1] = 0
        self.shown = [glance(self.scene)]
        return f"{IMAGE_MARK}\nErased ({x0}, {y0})-({x1}, {y1})."

    def act(self, action: Action) -> tuple[str, float, bool]:
        if action.kind == "answer":
            self.success = action.answer == self.digit
            return ("Correct." if self.success else "Wrong."), float(self.success), True
        return call_tool(action.tool, action.arguments, self.tools), 0.0, False

    def step(self, action: str):
        self.shown = []         # an error observation shows no image
        return super().step(action)

    def info(self) -> dict:
        x, y = self.position
        return super().info() | {"images": list(self.shown), "success": self.success,
                                 "hidden": {"answer": self.digit, "x": x, "y": y}}


def demonstration(seed: int, look: bool, split: str = "train", tools: bool = True
                  ) -> tuple[list[dict], list[dict], list[np.ndarray]]:
    """One solved episode as (messages, tool schemas, images in the order of their marks): the expert answers at
    once from the glance, or (`look`) first crops the cell holding the digit. Its answer is always right.
    tools=False: an episode of the one-glance game (LookEnv(look=False): no tool offered), answered at once."""
    assert tools or not look, "an episode without tools cannot look"
    env = LookEnv(split, look=tools)
    observation, info = env.reset(seed=seed)
    messages, images = [{"role": "user", "content": observation}], list(info["images"])
    x, y = env.position
    if look:
        call = {"name": "crop", "arguments": dict(zip(BOX, cell_box(x, y)))}
        observation, *_, info = env.step(f"<tool_call>{json.dumps(call)}</tool_call>")
        messages += [{"role": "assistant", "tool_calls": [{"type": "function", "function": call}]},
                     {"role": "tool", "content": observation}]
        images += info["images"]
    messages.append({"role": "assistant", "content": f"<answer>{env.digit}</answer>"})
    return messages, env.tool_schemas(), images


# --- rewards: what makes an agent keep looking (or stop) --------------------------------------------------------
def visual_calls(trajectory: Trajectory) -> list[bool]:
    """The episode's crop and erase calls in order: True for one the environment carried out, False for one it
    refused (a box off the scene, or a tool not on offer), which showed nothing."""
    return [not (turn.result or "").startswith("Error:") for turn in trajectory.tool_calls
            if turn.action.tool in ("crop", "erase")]


def visual_operations(trajectory: Trajectory) -> int:
    """n_vo: the episode's visual calls carried out. A refused one is no visual operation, and earns no bonus for
    looking."""
    return sum(visual_calls(trajectory))


def outcome_reward(trajectory: Trajectory) -> float:
    """r = 1 if the answer is right, else 0: nothing for looking, nothing against it."""
    return float(trajectory.success)


CURIOSITY_TARGET = 0.3  # H of Pixel Reasoner's curiosity bonus: it pays while a group looks less often than this


def curiosity_group_rewards(calls: list[list[bool]], correct: list[bool], alpha: float = 0.5, beta: float = 0.05,
                            target: float = CURIOSITY_TARGET, free_calls: int = 1) -> list[float]:
    """Pixel Reasoner's curiosity-driven reward (Wang et al. 2025, eq. 3-5) for the G members of one group, from each
    one's visual calls (`visual_calls`: True carried out, False refused) and whether it was right. n_vo,i counts the
    calls carried out: a refused one neither looked nor costs a call.

        r'_i = r_i + α · max(H - RaPR, 0) · 1[n_vo,i > 0] + β · min(N - n_vo,i, 0)
        RaPR = (1/G) Σ_j 1[n_vo,j > 0]          the group's rate of pixel-space reasoning (episodes, not calls)

    A bonus for looking while the group looks less often than H (it fades as looking becomes common), right or
    wrong, and a penalty β per visual operation beyond N. α = 0.5, β = 0.05, H = 0.3, N = 1 as in the paper's
    appendix C.3. (The released code pays 0.125 · max(H - RaPR, 0) / RaPR instead: twice the paper's bonus at
    RaPR = 1/8, equal at 1/4.)"""
    done = [sum(member) for member in calls]                 # n_vo,i
    rate = sum(n > 0 for n in done) / len(done)
    return [float(right) + alpha * max(target - rate, 0.0) * (n > 0) + beta * min(free_calls - n, 0)
            for n, right in zip(done, correct)]


def curiosity_rewards(group: list[Trajectory], **kwargs) -> list[float]:
    """`curiosity_group_rewards` of a group of episodes."""
    return curiosity_group_rewards([visual_calls(t) for t in group], [t.success for t in group], **kwargs)


def deepeyes_reward(trajectory: Trajectory) -> float:
    """DeepEyes' reward (Zheng et al. 2025): R = 0.8 · acc + 0.2 · format + 1.2 · 1[acc and a tool was used], the
    tool bonus only for a right answer. Format: every message of the episode was a well-formed action."""
    right, looked = trajectory.success, visual_operations(trajectory) > 0
    well_formed = all(turn.action.kind != "invalid" for turn in trajectory.turns)
    return 0.8 * right + 0.2 * well_formed + 1.2 * (right and looked)


def tool_bonus_reward(trajectory: Trajectory, bonus: float = 0.2) -> float:
    """The control: r + bonus per visual operation, right or wrong, which pays for calls as such (tool spam)."""
    return float(trajectory.success) + bonus * visual_operations(trajectory)


# --- what an agent did: accuracy, and how it looked ---------------------------------------------------------------
def first_crop(trajectory: Trajectory) -> tuple | None:
    """The box of the episode's first crop, as (x0, y0, x1, y1) of whatever it was given, or None."""
    for turn in trajectory.tool_calls:
        if turn.action.tool == "crop":
            return tuple(turn.action.arguments.get(k) for k in BOX)
    return None


def look_metrics(trajectories: list[Trajectory], group_size: int, target: float = CURIOSITY_TARGET) -> dict[str, float]:
    """A training step's looking, for `grpo_train(step_metrics=...)`: its look rate, visual operations per episode,
    and the share of its groups (G consecutive episodes) that look less often than H, where the curiosity bonus
    pays."""
    looked = [visual_operations(t) > 0 for t in trajectories]
    groups = [looked[i:i + group_size] for i in range(0, len(looked), group_size)]
    return {"look_rate": sum(looked) / len(looked), "calls": sum(map(visual_operations, trajectories)) / len(looked),
            "bonus_groups": sum(sum(g) / len(g) < target for g in groups) / len(groups)}


def look_report(trajectories: list[Trajectory]) -> dict[str, float]:
    """Accuracy ± se; the share of episodes that used a visual tool (look rate) and calls per episode; of the
    episodes that cropped, the share whose first crop was the digit's cell; accuracy of those that looked and of
    those that answered from the glance (each over its own episodes: not a paired comparison; None when there
    are none)."""
    n = len(trajectories)
    looked = [t for t in trajectories if visual_operations(t)]
    glanced = [t for t in trajectories if not visual_operations(t)]
    cropped = [t for t in trajectories if first_crop(t) is not None]

    def share(xs, test) -> float:
        return sum(map(test, xs)) / len(xs) if xs else None
    accuracy, accuracy_se = success_rate(trajectories)
    return {"n": n, "accuracy": accuracy, "accuracy_se": accuracy_se,
            "look_rate": len(looked) / n, "calls": sum(map(visual_operations, trajectories)) / n,
            "right_cell": share(cropped, lambda t: first_crop(t) == cell_box(t.info["x"], t.info["y"])),
            "accuracy_looked": share(looked, outcome_reward), "accuracy_glanced": share(glanced, outcome_reward)}
