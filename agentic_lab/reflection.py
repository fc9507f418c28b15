"""Reflection (notebook 12): two attempts at a task, with or without feedback in between.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/TwoAttempts-v0", feedback="none")   # or "wrong", "check"; family="navigation"

The task is a family of `agentic_lab.tasks`, navigation by default: there checking is much easier than
solving (walking a plan over the grid is one pass, finding one is a search) and the tiny model's first
attempt is right about half the time (0.60 greedy, 0.46 sampled in data/tiny-agent/build_stats.json), so
there is something to correct and something to break.

After the first answer the environment says one of three things, by `feedback`:
- "none" (SCoRe: intrinsic self-correction): the same RETRY instruction whatever the answer; two attempts always.
- "wrong" (Reflexion with a bare verdict): "Wrong. Answer again.", or "Correct." and the episode ends.
- "check" (Reflexion with the failing check's message): what the checker found, e.g. for navigation
  "Wrong: move 3 (R) hits a wall or leaves the grid. Answer again."; "Correct." ends the episode.
With feedback, a right first answer ends the episode as Reflexion stops on success: its second attempt is taken
to be the first (same correctness, edit distance 0), so right -> wrong cannot happen there.

`info["attempts"]` lists each attempt's answer and correctness, `info["edit_distance"]` is the Levenshtein
distance between the two answers (the text inside <answer>), and both are in `info["show"]`: the viewer draws the
attempts as one line under each turn ("1: DDRR ✓ · 2: DDR ✗") and the distance once there are two.
Rewards: `alpha=None` rewards only the second attempt, r2 (naive RL, notebook 12's first run); a number gives
each attempt SCoRe stage II's reward, `score_rewards`. Only answers count as attempts: an invalid message or a
tool call (in a family that has tools) costs what it costs in any TaskEnv and leaves the attempt to come.

Notebook 12 also takes from here its warm start's demonstrations (`demonstrations`: every answer the tiny model's
own, data/build_reflection_model.py builds data/reflect-warm from them), what two attempts measure
(`attempts_report`: accuracy at each, Δ, wrong -> right, right -> wrong, edit distance) and STaR's round
(`self_training_round`). SCoRe's two stages are options of the one loop: `RLConfig(turn_beta=...)` (stage I, a KL
weight per attempt) and `credit="turn"` with `alpha` here (stage II, each attempt credited by its own reward, with
a smaller `beta` on both).
"""
from __future__ import annotations

import html
import random
from pathlib import Path
from statistics import mean
from typing import Literal

import torch

from agentic_lab.actions import Action
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import paired_gain, play_tasks, standard_error
from agentic_lab.tasks import MOVES, Task, answer, observation, sample_tasks, walk
from agentic_lab.viz import shows

Feedback = Literal["none", "wrong", "check"]
RETRY = "There may be an error in your answer. Check it and answer again."  # SCoRe's instruction, shortened


def score_rewards(r1: float, r2: float, alpha: float) -> tuple[float, float]:
    """SCoRe's stage II rewards for the two attempts (Kumar et al. 2024, "Training Language Models to Self-Correct
    via Reinforcement Learning", eq. 4 and the bonus after it):

        attempt 1:  r1
        attempt 2:  r2 + α · (r2 − r1)

    so an episode's return is r1 + r2 + α · (r2 − r1). Both attempts are optimised for correctness (stage II is
    multi-turn RL on both, each with a KL penalty to the reference policy, which is the trainer's part), and the
    bonus α · (r2 − r1), with α > 1, pays for going from wrong to right and charges for right to wrong more than
    keeping a first answer can earn: copying the first attempt, the collapse of naive RL, is worth no bonus."""
    return r1, r2 + alpha * (r2 - r1)


def stage_two_advantages(r1: torch.Tensor, r2: torch.Tensor, alpha: float) -> torch.Tensor:
    """SCoRe's stage II as the loop trains it (`RLConfig(credit="turn")`, `rl.turn_advantages`): each attempt credited
    by its own reward against the same attempt of the group's other episodes. Credited with the episode's return
    instead, r1' + r2' = (1 - α) r1 + (1 + α) r2, the first attempt would be paid to be wrong.
    r1, r2: (G,) the two attempts' rewards. Returns (G, 2): column k is attempt k+1's advantage."""
    rewards = torch.stack(score_rewards(r1, r2, alpha), dim=1)               # (G, 2): r1', r2'
    centred = rewards - rewards.mean(dim=0)                                   # each attempt against its own mean
    return centred / (rewards.std(dim=0) + 1e-6)                              # unbiased std; no spread gives 0


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn a into b."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def navigation_check(task: Task, predicted: str) -> str:
    """What walking the plan finds: the first move that fails, or where the plan ends instead of G."""
    plan = predicted.strip().upper().replace(" ", "")
    for i, move in enumerate(plan, 1):
        if move not in MOVES:
            return f"Wrong: move {i} ({move!r}) is not U, D, L or R."
        if walk(task.info["grid"], tuple(task.info["start"]), plan[:i]) is None:
            return f"Wrong: move {i} ({move}) hits a wall or leaves the grid."
    r, c = walk(task.info["grid"], tuple(task.info["start"]), plan)
    return f"Wrong: the plan ends at row {r + 1}, column {c + 1}, not at G."


CHECKS = {"navigation": navigation_check}  # families whose checker can say why; the others say "Wrong."


def check_message(task: Task, predicted: str) -> str:
    return CHECKS[task.family](task, predicted) if task.family in CHECKS else "Wrong."


class TwoAttemptsEnv(TaskEnv):
    """A task of `family` per episode, answered twice (see the module's docstring for feedback and rewards)."""

    def __init__(self, family: str = "navigation", split: str = "train", feedback: Feedback = "none",
                 alpha: float | None = None, max_turns: int = 4, render_mode: str | None = None):
        super().__init__(family, split, max_turns, render_mode)
        self.feedback, self.alpha = feedback, alpha
        self.attempts: list[dict] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.attempts = []
        return super().reset(seed=seed, options=options)

    def rewards(self, r1: float, r2: float) -> tuple[float, float]:
        return (0.0, r2) if self.alpha is None else score_rewards(r1, r2, self.alpha)

    def act(self, action: Action) -> tuple[str, float, bool]:
        if action.kind != "answer":
            return super().act(action)
        correct = self.task.check(action.answer)
        self.attempts.append({"answer": action.answer, "correct": correct})
        r1 = float(self.attempts[0]["correct"])
        if len(self.attempts) == 2:
            self.success = correct
            return ("Correct." if correct else "Wrong."), self.rewards(r1, float(correct))[1], True
        if self.feedback != "none" and correct:  # Reflexion stops on success: attempt 2 is attempt 1
            self.attempts.append(dict(self.attempts[0]))
            self.success = True
            return "Correct.", sum(self.rewards(r1, r1)), True
        return retry_message(self.feedback, self.task, action.answer), self.rewards(r1, r1)[0], False

    def info(self) -> dict:
        attempts = [dict(a) for a in self.attempts]  # copies: each turn keeps the record of its own time
        distance = edit_distance(attempts[0]["answer"], attempts[1]["answer"]) if len(attempts) == 2 else None
        summary = {"feedback": self.feedback, "attempts": attempts, "edit_distance": distance}
        return super().info() | summary | {"show": summary}


@shows("attempts")
def attempts_line(attempts: list[dict]) -> str:
    """The attempts so far in one line, each answer with its verdict."""
    return html.escape(" · ".join(f"{k}: {a['answer']} {'✓' if a['correct'] else '✗'}"
                                   for k, a in enumerate(attempts, 1)))


shows("feedback")(lambda feedback: "")   # the same for a whole run: its name says it, the observations show it


# --- the warm start and what two attempts measure ---------------------------------------------------------------
WARM_START = Path(__file__).resolve().parent.parent / "data" / "reflect-warm"
COPY_SHARE = 0.5          # after the bare RETRY, the demonstrated second attempt copies the first this often
MAX_NEW_TOKENS = 32       # an answer is <answer>, at most a dozen moves, </answer>
FEEDBACKS: tuple[Feedback, ...] = ("none", "wrong", "check")


def retry_message(feedback: Feedback, task: Task, first: str) -> str:
    """What the environment says after a wrong first answer (after a right one, only "none" goes on: RETRY)."""
    return {"none": RETRY, "wrong": "Wrong. Answer again.",
            "check": f"{check_message(task, first)} Answer again."}[feedback]


def demonstrations(model, tokenizer, n: int, seed: int = 0, copy_share: float = COPY_SHARE, draws: int = 4
                   ) -> list[list[dict]]:
    """n two-attempt conversations on train-split navigation tasks, every answer the base model's own.

    For each task the model (at T = 1, one turn) answers 1 + draws times. The first valid answer is the first
    attempt; the feedback is RETRY after a right one, and RETRY, "Wrong" or the check's message (a third each)
    after a wrong one. The second attempt knows nothing the model does not: after RETRY it copies the first with
    probability copy_share, else it is another of the model's answers; after "Wrong" or the check it is the first of
    the other answers that differs from the first attempt. So the warm start learns the format, and answers a second
    time about as well as the first: a base with something to correct and no skill at correcting it."""
    rng, out, block = random.Random(seed), [], 0
    while len(out) < n:
        tasks = sample_tasks("navigation", 128, seed=seed * 1_000 + block, split="train")
        played = play_tasks(model, tokenizer, [task for task in tasks for _ in range(draws + 1)], temperature=1.0,
                            seed=seed * 1_000 + block, max_turns=1, max_new_tokens=MAX_NEW_TOKENS)
        for i, task in enumerate(tasks):
            answers = [t.turns[0].action.answer for t in played[i * (draws + 1):(i + 1) * (draws + 1)]
                       if t.turns[0].action.kind == "answer"]
            if len(answers) < 2:
                continue
            first, others = answers[0], answers[1:]
            feedback = "none" if task.check(first) else rng.choice(FEEDBACKS)
            if feedback == "none":
                second = first if rng.random() < copy_share else others[0]
            else:
                second = next((a for a in others if a != first), others[0])
            out.append(task.messages() + [answer(first), observation(retry_message(feedback, task, first)),
                                          answer(second)])
        block += 1
    return out[:n]


def attempts_of(trajectory) -> list[dict]:
    """The episode's two attempts, each {"answer", "correct"}; a missing one (the episode ran out of turns on
    invalid messages) counts as a wrong, empty answer."""
    recorded = next((turn.show["attempts"] for turn in reversed(trajectory.turns) if "attempts" in turn.show), [])
    return (recorded + [{"answer": "", "correct": False}] * 2)[:2]


def attempts_report(trajectories) -> dict[str, dict]:
    """By feedback: n, accuracy at attempt 1 and 2, Δ = acc2 - acc1 (paired), each ± its standard error, the rates
    of wrong -> right and right -> wrong, and the mean edit distance between the two answers. Episodes of the same
    task (the same prompt) are one cluster: the standard errors are over the tasks' means, since several samples of
    one task share its difficulty and are not independent draws."""
    rows = {}
    for feedback in FEEDBACKS:
        episodes = [t for t in trajectories if any(turn.show.get("feedback") == feedback for turn in t.turns)]
        if not episodes:
            continue
        group = [attempts_of(t) for t in episodes]
        first, second = [float(a[0]["correct"]) for a in group], [float(a[1]["correct"]) for a in group]
        tasks: dict[str, list[int]] = {}
        for i, t in enumerate(episodes):
            tasks.setdefault(t.turns[0].observation, []).append(i)
        first_by_task, second_by_task = ([mean(values[i] for i in members) for members in tasks.values()]
                                         for values in (first, second))
        rows[feedback] = {
            "n": len(group), "tasks": len(tasks),
            "accuracy_1": mean(first), "accuracy_1_se": standard_error(first_by_task),
            "accuracy_2": mean(second), "accuracy_2_se": standard_error(second_by_task),
            "delta": mean(second) - mean(first), "delta_se": paired_gain(first_by_task, second_by_task)[1],
            "wrong_to_right": mean(f < s for f, s in zip(first, second)),
            "right_to_wrong": mean(f > s for f, s in zip(first, second)),
            "edit_distance": mean(edit_distance(a[0]["answer"], a[1]["answer"]) for a in group)}
    return rows


def hinted_answer(trajectory) -> str | None:
    """What rationalisation keeps from a "check" episode: its second answer when the hint made it right (the first
    wrong, the second right), else None. A right first answer ends such an episode unhinted: it is one more sample,
    not a rationalisation, and keeping it would mix extra sampling into the hint's gain."""
    first, second = attempts_of(trajectory)
    return second["answer"] if not first["correct"] and second["correct"] else None


def self_training_round(model, tokenizer, tasks: list[Task], samples: int, steps: int, lr: float, seed: int = 0,
                        rationalise: bool = False) -> dict[str, int]:
    """One round of STaR / expert iteration (Zelikman et al. 2022; ReST's grow and improve steps): answer each task
    `samples` times (one attempt, T = 1), keep the right answers (each distinct one once), fine-tune on them
    (`steps` batches of 32, peak learning rate `lr`), in place. rationalise=True also plays, for each task none of
    whose answers was right, one episode with the check's message after the first attempt ("check" feedback) and
    keeps its second answer when the hint made it right (`hinted_answer`): the correction becomes a first-attempt
    demonstration, STaR's rationalisation with the checker's message as the hint (STaR's own hint is the gold
    answer). Returns how many tasks were solved, rationalised, right at once in the hinted episode (`resampled`:
    counted, not kept), and the examples kept."""
    from agentic_lab.rollout import rollout  # the engine and the trainer import torch
    from agentic_lab.sft import encode_messages, train_sft
    played = play_tasks(model, tokenizer, [t for t in tasks for _ in range(samples)], temperature=1.0, seed=seed,
                        max_turns=1, max_new_tokens=MAX_NEW_TOKENS)
    kept = {}                                            # task index -> its distinct right answers
    for i, task in enumerate(tasks):
        answers = [t.turns[-1].action.answer for t in played[i * samples:(i + 1) * samples] if t.success]
        if answers:
            kept[i] = sorted(set(answers))
    solved, rationalised, resampled = len(kept), 0, 0
    if rationalise:
        unsolved = [i for i in range(len(tasks)) if i not in kept]
        corrected = rollout(model, tokenizer, [TwoAttemptsEnv(feedback="check") for _ in unsolved], [None] * len(unsolved),
                            options=[{"task": tasks[i]} for i in unsolved], temperature=1.0,
                            max_new_tokens=MAX_NEW_TOKENS, seed=seed + 1)
        for i, t in zip(unsolved, corrected):
            resampled += attempts_of(t)[0]["correct"]
            corrected_answer = hinted_answer(t)
            if corrected_answer is not None:
                kept[i], rationalised = [corrected_answer], rationalised + 1
    examples = [encode_messages(tokenizer, tasks[i].messages() + [answer(a)]) for i in sorted(kept) for a in kept[i]]
    train_sft(model, examples, steps=steps, batch_size=32, lr=lr, warmup=0, seed=seed, pad_id=tokenizer.pad_token_id,
              progress=False)
    return {"solved": solved, "rationalised": rationalised, "resampled": resampled, "examples": len(examples)}
