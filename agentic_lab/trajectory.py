"""Trajectories: what an agent did in one episode, token by token, saved and loaded without loss.

An episode is a list of turns (observation -> model text -> parsed action -> tool/env result -> reward),
plus the exact token ids the model saw and wrote, a loss mask that is 1 on exactly the tokens the
policy produced, and, when recorded, the log-probability of each of those tokens under the sampler.

Files are JSON Lines, one trajectory a line, written atomically: a run killed mid-write leaves the
previous file intact, and `load_trajectories(save_trajectories(x))` gives back objects equal to x.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agentic_lab.actions import Action


@dataclass
class Turn:
    observation: str         # what the agent was shown before acting
    text: str                # what the model wrote (decoded from its own tokens)
    action: Action           # the parsed action
    result: str | None       # the tool's or environment's answer, if any
    reward: float
    done: bool
    show: dict = field(default_factory=dict)  # what the environment asked the viewer to show (its info["show"])
    state: int | str | None = None  # the environment's state the turn acted from (its info["state"]), if it names one


@dataclass
class Trajectory:
    env_id: str
    seed: int | None         # the environment's reset seed; None when the task was given, not drawn
    turns: list[Turn] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)      # 1 = produced by the policy
    logprobs: list[float] | None = None                     # per token; 0.0 where loss_mask is 0
    info: dict = field(default_factory=dict)                # success, hidden state, the reset's "show"...
    retrieved: list[list[int]] = field(default_factory=list)  # [start, end) token spans of retrieved text (search
                                                            # results), inside observations: loss_mask is 0 there
    context_starts: list[int] = field(default_factory=list)  # where each turn's own context begins, when every turn
                                                            # started afresh from the latest observation (rollout's
                                                            # keep_history=False); empty: one context that grows
    images: list[dict] = field(default_factory=list)        # what the model saw of each image it was shown, in order:
                                                            # {"start": its first placeholder token's position,
                                                            #  "pixels": uint8 rows} (agentic_lab.vision)

    @property
    def total_reward(self) -> float:
        return sum(t.reward for t in self.turns)

    @property
    def tool_calls(self) -> list[Turn]:
        """The turns in which the agent made a well-formed tool call (whatever the tool answered)."""
        return [t for t in self.turns if t.action.kind == "tool_call"]

    @property
    def final_answer(self) -> str | None:
        """The text of the episode's last action if that was an answer (the code or the number it submitted)."""
        last = self.turns[-1].action if self.turns else None
        return last.answer if last is not None and last.kind == "answer" else None

    @property
    def success(self) -> bool:
        return bool(self.info.get("success", False))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Trajectory":
        turns = [Turn(**{**t, "action": Action(**t["action"])}) for t in data["turns"]]
        return cls(**{**data, "turns": turns})


def split_contexts(trajectory: Trajectory) -> list[Trajectory]:
    """A trajectory played with a fresh context each turn (`context_starts`) as one single-turn trajectory per turn,
    [context_k | message_k], which is what the model saw and wrote that turn: the rows the update trains on. A
    trajectory with one growing context is returned whole."""
    if not trajectory.context_starts:
        return [trajectory]
    bounds = [*trajectory.context_starts, len(trajectory.token_ids)]
    rows = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        rows.append(Trajectory(trajectory.env_id, trajectory.seed, trajectory.turns[k:k + 1], trajectory.token_ids[a:b],
                               trajectory.loss_mask[a:b],
                               None if trajectory.logprobs is None else trajectory.logprobs[a:b], trajectory.info,
                               [[s - a, e - a] for s, e in trajectory.retrieved if a <= s < b],
                               images=[{**image, "start": image["start"] - a} for image in trajectory.images
                                       if a <= image["start"] < b]))
    return rows


def mask_runs(mask: list) -> list[tuple[int, int, int]]:
    """Maximal runs of equal mask values, as (value, start, end): prompt, message, observation, message..."""
    out, start = [], 0
    for k in range(1, len(mask) + 1):
        if k == len(mask) or mask[k] != mask[start]:
            out.append((mask[start], start, k))
            start = k
    return out


def turn_spans(loss_mask: list) -> list[tuple[int, int]]:
    """The [start, end) token positions of each message the policy wrote, in turn order: the runs of 1s."""
    return [(start, end) for value, start, end in mask_runs(loss_mask) if value]


def write_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically: a temporary file in the same folder, flushed to disk, then renamed, so
    a run killed mid-write leaves the previous file intact. Creates the folder. The file is readable by others
    (0644, as `open` would leave it), so that a web server can serve an exported page."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            os.fchmod(f.fileno(), 0o644)  # mkstemp makes it 0600
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_trajectories(trajectories: list[Trajectory], path: str | os.PathLike) -> Path:
    """Write JSON Lines, one trajectory a line, atomically."""
    return write_atomically(path, "".join(json.dumps(t.to_dict(), ensure_ascii=False) + "\n" for t in trajectories))


def load_trajectories(path: str | os.PathLike) -> list[Trajectory]:
    with open(path, encoding="utf-8") as f:
        return [Trajectory.from_dict(json.loads(line)) for line in f if line.strip()]
