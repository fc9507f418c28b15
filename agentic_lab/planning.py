"""Planning (notebook 07): a grid world whose optimal plan length is a dial, and BabyAI levels as text.

    env = gym.make("agentic_lab/PlanGrid-v0", lengths=(8, 12), split="test", plan_first=True)
    observation, info = env.reset(seed=0)                      # the map, with the agent A and the goal G
    env.step("<plan>RRDDL</plan><answer>R</answer>")           # the plan comes with the first move
    env.step("<answer>R</answer>")                             # then one move per turn

Both kinds of environment take one action per turn, written `<answer>ACTION</answer>` (a few tokens: the
tiny model's context is 1024 tokens and an episode keeps every turn), give reward 1 when the task is done
and 0 otherwise, and answer malformed text or an unknown action with an error and -INVALID_PENALTY.

- `PlanGridEnv` (agentic_lab/PlanGrid-v0): the course's own world. The whole map is shown once, at the
  start; after that the agent sees the 3x3 window around itself, as in KeyDoor. Worlds are drawn with a
  chosen optimal plan length, `lengths=(1, 6)` to train and `(8, 12)` to test, on a map of fixed size, so
  only the length of the plan changes; a world is in the train or the test split by a hash of its map.
  `solve` is the breadth-first planner: its optimal moves are the expert a supervised warm start imitates.
  With `key_door=True` a wall splits the map and its door D opens only for an agent holding the key K.
- `BabyAIEnv` (agentic_lab/BabyAI-GoToLocal-v0, ...): levels of the `minigrid` package's BabyAI, judged by
  its own mission verifier, with the agent's egocentric view rendered as a short list of what it sees.
  minigrid's BabyAI bot is the expert.

Plan first: with `plan_first=True` the first move must come with a plan, `<plan>...</plan><answer>...</answer>`.
The plan is recorded (`info["plan"]`) and `plan_fidelity(plan, executed)` measures how much of it the agent
then carried out. `demonstration(env, seed)` plays the expert and returns the episode as a conversation.
"""
from __future__ import annotations

import contextlib
import copy
import io
import random
from collections import deque
from dataclasses import dataclass, replace
from typing import Sequence

import gymnasium as gym
import torch

from agentic_lab import tasks
from agentic_lab.actions import Action
from agentic_lab.envs import INVALID_PENALTY, TextEnv
from agentic_lab.eval import success_rate
from agentic_lab.models import REPO_ROOT
from agentic_lab.rollout import rollout
from agentic_lab.sft import IGNORE, collate, encode_messages
from agentic_lab.tasks import MOVES, task_split


def plan_fidelity(plan: Sequence[str], executed: Sequence[str]) -> float:
    """The share of the plan the agent carried out as written: the longest prefix of the plan that its actions
    follow, over the plan's length. A plan followed for 3 of its 4 steps and then abandoned scores 0.75; what
    the agent does after the plan ran out does not count. An empty plan was not followed: 0."""
    if not plan:
        return 0.0
    followed = 0
    for planned, done in zip(plan, executed):
        if planned != done:
            break
        followed += 1
    return followed / len(plan)


def executed_plan(trajectory) -> tuple[list[str], list[str]]:
    """A PlanGrid episode's plan and the moves it made, in order: what `plan_fidelity` compares. The moves are those
    the environment accepted (a refused one costs the penalty); the plan, as the environment takes it, is the one
    written with the first accepted move ([] if none), which is not the first turn's when that turn was refused."""
    accepted = [turn for turn in trajectory.turns if turn.reward >= 0 and turn.action.answer in tasks.MOVES]
    plan = accepted[0].action.plan if accepted else None
    return list("".join((plan or "").split())), [turn.action.answer for turn in accepted]


class ActionWordEnv(TextEnv):
    """One action word per turn, `<answer>word</answer>`, from `ACTIONS`; optionally a plan with the first one.
    A subclass says what an action does (`do`) and what its expert would do from here (`expert_actions`)."""

    ACTIONS: tuple[str, ...] = ()

    def __init__(self, max_turns: int, plan_first: bool = False, render_mode: str | None = None):
        super().__init__({}, max_turns, render_mode)  # no tools: a tool call is refused by TextEnv
        self.plan_first = plan_first
        self.new_episode()

    def new_episode(self) -> None:
        self.turns, self.success = 0, False
        self.plan: str | None = None
        self.executed: list[str] = []

    def plan_steps(self, plan: str) -> list[str]:
        """The actions a written plan lists."""
        return plan.split()

    def plan_text(self, actions: Sequence[str]) -> str:
        """How a plan of these actions is written (the inverse of `plan_steps`)."""
        return " ".join(actions)

    def act(self, action: Action) -> tuple[str, float, bool]:
        if action.answer not in self.ACTIONS:
            return f"Error: answer with one of {' '.join(self.ACTIONS)}.", -INVALID_PENALTY, False
        if not self.executed:  # the first move: the plan, if any, comes with it
            if self.plan_first and action.plan is None:
                return "Error: write your plan with your first move.", -INVALID_PENALTY, False
            self.plan = action.plan
        self.executed.append(action.answer)
        observation, done = self.do(action.answer)
        return observation, float(self.success), done

    def do(self, action: str) -> tuple[str, bool]:
        """Carry out one valid action (setting `self.success`); the observation, and whether the episode ends."""
        raise NotImplementedError

    def expert_actions(self) -> list[str]:
        """The expert's actions from the current state to success."""
        raise NotImplementedError

    def info(self) -> dict:
        fidelity = None if self.plan is None else plan_fidelity(self.plan_steps(self.plan), self.executed)
        return super().info() | {"success": self.success, "plan": self.plan, "executed": list(self.executed),
                                 "plan_fidelity": fidelity}


def demonstration(env: gym.Env, seed: int | None = None, options: dict | None = None) -> list[dict]:
    """The expert's episode as a conversation: the first observation as the user's message, then each action
    (with the whole plan on the first one when the environment wants a plan first) and what came back, as a
    rollout would record it: the last observation, after the episode ended, is not part of it. Whether the
    expert succeeded (the BabyAI bot can run out of turns) is `env.unwrapped.success` afterwards."""
    env = env.unwrapped
    first, _ = env.reset(seed=seed, options=options)
    expert = env.expert_actions()
    messages = [{"role": "user", "content": first}]
    for k, action in enumerate(expert):
        plan = f"<plan>{env.plan_text(expert)}</plan>" if k == 0 and env.plan_first else ""
        messages.append(tasks.assistant(f"{plan}<answer>{action}</answer>"))
        observation, _, terminated, truncated, _ = env.step(messages[-1]["content"])
        if terminated or truncated:
            break
        messages.append(tasks.observation(observation))
    return messages


# --- the course's planning world ------------------------------------------------------------------
# Notebook 07's two warm starts, built from the tiny model by data/build_planning_models.py: the planner's episodes
# with a plan written before the first move, and the same episodes without it.
WARM_STARTS = {arm: REPO_ROOT / "data" / f"plangrid-{arm}" for arm in ("act-only", "plan-first")}
SIZE, N_WALLS = 6, 9  # 6x6 with a quarter of it walls: optimal plans of 1 to about 16 moves
MAX_TRIES = 10_000    # maps drawn for one length before giving up (a key and a door need at least 3 moves)
Cell = tuple[int, int]
State = tuple[Cell, bool]  # where the agent is, and whether it holds the key


@dataclass(frozen=True)
class World:
    """A square map: '.' floor, '#' wall, 'G' goal, and with a key and a door also 'K' and 'D'; the agent
    starts at `start`. Stepping on K takes the key; D lets the agent through only while it holds the key."""
    rows: tuple[str, ...]
    start: Cell

    def cell(self, r: int, c: int) -> str:
        inside = 0 <= r < len(self.rows) and 0 <= c < len(self.rows[0])
        return self.rows[r][c] if inside else "#"

    def find(self, symbol: str) -> Cell | None:
        return next(((r, c) for r, row in enumerate(self.rows) for c, s in enumerate(row) if s == symbol), None)

    def move(self, state: State, move: str) -> tuple[State, str]:
        """One move: the new state, and what stopped it if it was stopped ('' when it was not)."""
        (r, c), has_key = state
        r, c = r + MOVES[move][0], c + MOVES[move][1]
        target = self.cell(r, c)
        if target == "#":
            return state, "Blocked."
        if target == "D" and not has_key:
            return state, "Locked."
        return ((r, c), has_key or target == "K"), ""

    def render(self, state: State, window: bool = False) -> str:
        """The map with the agent A on it (a key it holds is gone from the map); or only the 3x3 window around A."""
        (r0, c0), has_key = state
        def symbol(r: int, c: int) -> str:
            if (r, c) == (r0, c0):
                return "A"
            return "." if self.cell(r, c) == "K" and has_key else self.cell(r, c)
        rows = range(r0 - 1, r0 + 2) if window else range(len(self.rows))
        cols = range(c0 - 1, c0 + 2) if window else range(len(self.rows[0]))
        return "\n".join("".join(symbol(r, c) for c in cols) for r in rows)

    def text(self) -> str:
        """The map as the agent first sees it: what identifies a world (and decides its split)."""
        return self.render((self.start, False))


def shortest_plans(world: World, state: State) -> dict[State, str]:
    """Breadth-first search from `state`: the shortest moves to every reachable state, trying U, D, L, R in that
    order so plans are deterministic. (tasks.shortest_plan searches cells; here a state also holds the key.)"""
    plans, frontier = {state: ""}, deque([state])
    while frontier:
        current = frontier.popleft()
        for move in MOVES:
            nxt, _ = world.move(current, move)
            if nxt not in plans:
                plans[nxt] = plans[current] + move
                frontier.append(nxt)
    return plans


def solve(world: World, state: State | None = None) -> str | None:
    """The optimal moves from `state` (the start if None) to the goal, or None if it cannot be reached."""
    plans = shortest_plans(world, state or (world.start, False))
    goal = world.find("G")
    found = [plans[s] for s in ((goal, False), (goal, True)) if s in plans]
    return min(found, key=len, default=None)


def optimal_length(rows: Sequence[str], start: Cell) -> int:
    """The number of moves of the optimal plan from `start` to G on this map, -1 if G cannot be reached (exercise 07)."""
    plan = solve(World(tuple(rows), tuple(start)))
    return -1 if plan is None else len(plan)


def random_world(rng: random.Random, length: int, key_door: bool, size: int) -> World | None:
    """Walls at random (with `key_door`, also a wall column with one door, the start and the key left of it,
    the goal right of it), then the goal on a cell whose optimal plan has `length` moves; None if there is none."""
    grid = [["."] * size for _ in range(size)]
    wall_col = rng.randint(1, size - 2) if key_door else size  # with no door, every cell is on the near side
    if key_door:
        for r in range(size):
            grid[r][wall_col] = "#"
        grid[rng.randrange(size)][wall_col] = "D"
    near = [(r, c) for r in range(size) for c in range(min(wall_col, size))]
    start = rng.choice(near)
    key = rng.choice([cell for cell in near if cell != start]) if key_door else None
    free = [(r, c) for r in range(size) for c in range(size) if c != wall_col and (r, c) not in (start, key)]
    for r, c in rng.sample(free, N_WALLS // 2 if key_door else N_WALLS):
        grid[r][c] = "#"
    if key:
        grid[key[0]][key[1]] = "K"
    world = World(tuple("".join(row) for row in grid), start)
    optimal: dict[Cell, int] = {}  # a cell reached both with and without the key counts its shorter plan
    for (cell, _), plan in shortest_plans(world, (start, False)).items():
        optimal[cell] = min(len(plan), optimal.get(cell, len(plan)))
    goals = sorted(cell for cell, n in optimal.items() if n == length and world.cell(*cell) == "."
                   and (cell[1] > wall_col or not key_door))
    if not goals:
        return None
    goal = rng.choice(goals)
    grid[goal[0]][goal[1]] = "G"
    return replace(world, rows=tuple("".join(row) for row in grid))


def sample_worlds(n: int, seed: int = 0, split: str = "train", lengths: tuple[int, int] = (1, 6),
                  key_door: bool = False, size: int = SIZE) -> list[World]:
    """`n` worlds of `split` whose optimal plan has `lengths[0]` to `lengths[1]` moves, reproducible from `seed`."""
    rng = random.Random(f"plan_grid/{split}/{seed}")
    worlds: list[World] = []
    while len(worlds) < n:
        length = rng.randint(*lengths)  # the length first, so lengths come out uniform
        for _ in range(MAX_TRIES):
            world = random_world(rng, length, key_door, size)
            if world is not None and task_split((world.text(),)) == split:
                worlds.append(world)
                break
        else:
            raise ValueError(f"no {size}x{size} world found with an optimal plan of {length} moves")
    return worlds


def worlds_by_length(plan_first: bool, lengths: Sequence[int], per_length: int, split: str = "test",
                     copies: int = 1) -> tuple[list[gym.Env], list[int]]:
    """Environments and seeds for `per_length` worlds of each optimal plan length, each world `copies` times in a
    row: the same worlds for either arm and for any model (seed 100,000 x length + k is the k-th world of a length)."""
    worlds = [(length, 100_000 * length + k) for length in lengths for k in range(per_length) for _ in range(copies)]
    envs = [gym.make("agentic_lab/PlanGrid-v0", lengths=(length, length), split=split, plan_first=plan_first)
            for length, _ in worlds]
    return envs, [seed for _, seed in worlds]


def play_by_length(model, tokenizer, plan_first: bool, lengths: Sequence[int], per_length: int,
                   temperature: float = 0.0, seed: int = 0, split: str = "test") -> list:
    """Play `per_length` worlds of each optimal plan length (held out: the test split by default), the same worlds
    for either arm and for any model; each trajectory's `info["optimal_length"]` says which length it had."""
    envs, seeds = worlds_by_length(plan_first, lengths, per_length, split)
    return rollout(model, tokenizer, envs, seeds, temperature=temperature, max_new_tokens=32, seed=seed)


def imagined_successes(model, tokenizer, plan_first: bool, lengths: Sequence[int], per_length: int, budget: int,
                       seed: int = 0, split: str = "test") -> list[int]:
    """Planning as search in a model of the world. For each of `play_by_length`'s worlds (the same ones, in the
    same order), the policy imagines `budget` whole episodes at temperature 1 in a copy of the world, the
    simulator; returned: how many of them reached G. An agent that imagines k episodes and then carries out the
    moves of one that reached G (counted a failure when none did) reaches G with the chance that k of the `budget`
    contain a success, `eval.pass_at_k(budget, c, k)`: the simulator here is exact, so a route found is a route."""
    envs, seeds = worlds_by_length(plan_first, lengths, per_length, split, copies=budget)
    episodes = rollout(model, tokenizer, envs, seeds, temperature=1.0, max_new_tokens=32, seed=seed)
    return [sum(t.success for t in episodes[k:k + budget]) for k in range(0, len(episodes), budget)]


def teacher_forced_moves(model, tokenizer, conversations: list[list[dict]]) -> list[dict]:
    """Feed the expert's episodes to the model and ask, at every move the expert wrote (in its plan and in its
    answers), whether the model's most likely next token is that move. One record per move: where it was ("plan"
    or "answer"), its index there (the k-th plan step, the k-th turn), its token position, and whether the model
    agreed. No sampling, no compounding errors: what is left is the model's own competence at each position."""
    examples = [encode_messages(tokenizer, c) for c in conversations]
    batch = collate(examples, tokenizer.pad_token_id)
    with torch.no_grad():
        predicted = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.argmax(-1)
    plan_open, plan_close = tokenizer.convert_tokens_to_ids(["<plan>", "</plan>"])
    move_ids = set(tokenizer.convert_tokens_to_ids(list(tasks.MOVES)))
    records = []
    for row, example in enumerate(examples):
        in_plan, plan_step, turn = False, 0, 0
        for position, (token, label) in enumerate(zip(example["input_ids"], example["labels"])):
            in_plan = (in_plan or token == plan_open) and token != plan_close
            if label == IGNORE or token not in move_ids:
                continue
            where, index = ("plan", plan_step) if in_plan else ("answer", turn)
            plan_step, turn = plan_step + in_plan, turn + (not in_plan)
            records.append({"where": where, "index": index + 1, "position": position,
                            "correct": bool(predicted[row, position - 1] == token)})
    return records


class PlanGridEnv(ActionWordEnv):
    """The planning world as an environment: the map first, then the 3x3 window around the agent each turn;
    moves U, D, L, R (written `<answer>R</answer>`, plans without spaces: `<plan>RRD</plan>`); reward 1 on
    reaching G. `reset(options={"world": world})` plays a given world."""

    ACTIONS = tuple(MOVES)

    def __init__(self, lengths: tuple[int, int] = (1, 6), split: str = "train", key_door: bool = False,
                 size: int = SIZE, plan_first: bool = False, max_turns: int = 16, render_mode: str | None = None):
        super().__init__(max_turns, plan_first, render_mode)
        self.lengths, self.split, self.key_door, self.size = lengths, split, key_door, size

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "world" in options:
            self.world = options["world"]
        else:
            self.world = sample_worlds(1, int(self.np_random.integers(2**31)), self.split, self.lengths,
                                       self.key_door, self.size)[0]
        self.new_episode()
        self.state: State = (self.world.start, False)
        self.optimal = solve(self.world)
        rules = " Take K to pass D." if self.world.find("K") else ""
        self.last_observation = f"Reach G. Moves: U D L R.{rules}\n{self.world.text()}"
        return self.last_observation, self.info()

    def plan_steps(self, plan: str) -> list[str]:
        return list("".join(plan.split()))

    def plan_text(self, actions: Sequence[str]) -> str:
        return "".join(actions)

    def do(self, action: str) -> tuple[str, bool]:
        self.state, stopped = self.world.move(self.state, action)
        self.success = self.world.cell(*self.state[0]) == "G"
        if self.success:
            return "Reached G.", True
        return "\n".join(filter(None, [stopped, self.world.render(self.state, window=True)])), False

    def expert_actions(self) -> list[str]:
        return list(solve(self.world, self.state) or "")

    def info(self) -> dict:
        (r, c), has_key = self.state
        hidden = {"map": list(self.world.rows), "start": list(self.world.start), "agent": [r, c],
                  "has_key": has_key, "optimal_plan": self.optimal, "optimal_length": len(self.optimal)}
        return super().info() | {"hidden": hidden}


# --- BabyAI, from the minigrid package --------------------------------------------------------------
BABYAI_ACTIONS = ("left", "right", "forward", "pickup", "drop", "toggle", "done")  # minigrid's Actions, in order
# The levels wrapped, with a turn limit of about twice the BabyAI bot's 90th-percentile episode (measured on
# 30 seeds: 7, 11, 11 and 22 actions). BabyAI-Open-v0 and BabyAI-GoToSeq-v0 are left out: their 3x3 mazes of
# rooms take the bot up to 115 and 215 actions, far past the tiny model's context.
BABYAI_LEVELS = {"BabyAI-GoToLocal-v0": 16, "BabyAI-PickupLoc-v0": 24, "BabyAI-OpenDoor-v0": 24,
                 "BabyAI-GoToSeqS5R2-v0": 48}
NOT_LISTED = ("unseen", "empty", "wall", "floor")  # what the view leaves out (the wall straight ahead aside)
# The BabyAI warm start, built from the tiny model on the bot's GoToLocal episodes by data/build_babyai_model.py.
BABYAI_WARM_START = REPO_ROOT / "data" / "babyai-warm"


def babyai_report(trajectories: Sequence) -> dict:
    """What a BabyAI player's episodes show (data/build_babyai_model.py's model card, experiments/07_babyai.py,
    notebook 07): n, success ± its standard error, the turns a success took, the share of turns refused as malformed,
    and the share of episodes stopped because the context was full."""
    success, stderr = success_rate(trajectories)
    turns = [len(t.turns) for t in trajectories if t.success]
    refused = [turn.reward < 0 for t in trajectories for turn in t.turns]
    return {"n": len(trajectories), "success": success, "stderr": stderr,
            "turns_per_success": sum(turns) / len(turns) if turns else None,
            "refused_turns": sum(refused) / len(refused),
            "context_full": sum("context_full" in t.info for t in trajectories) / len(trajectories)}


class BabyAIEnv(ActionWordEnv):
    """A BabyAI level as text. The first observation is the mission and the view; each turn then shows the view:
    one line per object the agent sees, nearest first, as `colour type` with how many cells ahead (f) and to
    the left (l) or right (r) it is, a door's state after it, then how far the wall straight ahead is and what
    the agent carries, e.g. "red ball f2 l1 / grey door f3 r2 closed / wall f4 / carrying blue key".
    Actions are minigrid's: left, right (turn), forward, pickup, drop, toggle, done. Reward 1 when minigrid's
    mission verifier says success, else 0 (minigrid's own reward, 1 - 0.9 * steps / max_steps on success, is
    in info["hidden"]["minigrid_reward"]); the verifier's failure, or minigrid's own step limit, also ends it.
    split="train" or "test" keeps only levels whose first observation (mission and view) hashes into that split,
    as PlanGrid's maps do (`tasks.task_split`), drawing level seeds until one does: no test episode starts with
    what a training episode started with. BabyAI has no splits of its own; disjoint levels are what there is.
    split=None (the default) plays any level."""

    ACTIONS = BABYAI_ACTIONS

    def __init__(self, level: str = "BabyAI-GoToLocal-v0", max_turns: int | None = None, plan_first: bool = False,
                 split: str | None = None, render_mode: str | None = None):
        import minigrid  # noqa: F401 - registers the BabyAI levels; imported here, as it takes a while (pygame)
        super().__init__(max_turns or BABYAI_LEVELS.get(level, 32), plan_first, render_mode)  # any BabyAI level works
        self.level = gym.make(level, disable_env_checker=True).unwrapped
        self.split = split
        self.name = f"agentic_lab/{level}"  # for environments made without gym.make
        self.minigrid_reward = 0.0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        for _ in range(MAX_TRIES):
            with contextlib.redirect_stdout(io.StringIO()):  # minigrid prints each rejected map as it draws them
                self.level.reset(seed=int(self.np_random.integers(2**31)))
            self.last_observation = f"Mission: {self.level.mission}\n{self.view()}"
            if self.split is None or task_split((self.last_observation,)) == self.split:
                break
        else:
            raise ValueError(f"no {self.name} level of the {self.split} split in {MAX_TRIES} draws")
        self.new_episode()
        self.minigrid_reward = 0.0
        return self.last_observation, self.info()

    def view(self) -> str:
        """What `gen_obs()` shows, as text. Its image is indexed [x, y] over the agent's view, x from left to right,
        y from far to near, the agent at (size // 2, size - 1) facing away from it; each cell holds minigrid's
        (object, colour, state) ids."""
        from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT, STATE_TO_IDX
        image = self.level.gen_obs()["image"]
        size, door_states = image.shape[0], {i: name for name, i in STATE_TO_IDX.items()}
        seen, wall_ahead = [], None
        for x in range(size):
            for y in range(size - 1):  # the agent's own cell shows what it carries, said below
                kind, colour, state = (int(v) for v in image[x, y])
                ahead, right = size - 1 - y, x - size // 2
                if IDX_TO_OBJECT[kind] == "wall" and right == 0:
                    wall_ahead = ahead if wall_ahead is None else min(wall_ahead, ahead)
                if IDX_TO_OBJECT[kind] in NOT_LISTED:
                    continue
                side = f" r{right}" if right > 0 else f" l{-right}" if right < 0 else ""
                door = f" {door_states[state]}" if IDX_TO_OBJECT[kind] == "door" else ""
                seen.append((ahead + abs(right), ahead, right,
                             f"{IDX_TO_COLOR[colour]} {IDX_TO_OBJECT[kind]} f{ahead}{side}{door}"))
        lines = [line for *_, line in sorted(seen)]
        if wall_ahead is not None:
            lines.append(f"wall f{wall_ahead}")
        if self.level.carrying is not None:
            lines.append(f"carrying {self.level.carrying.color} {self.level.carrying.type}")
        return "\n".join(lines) or "nothing in view"

    def do(self, action: str) -> tuple[str, bool]:
        from minigrid.core.actions import Actions
        _, reward, terminated, truncated, _ = self.level.step(Actions[action])
        self.success, self.minigrid_reward = terminated and reward > 0, float(reward)
        return ("Mission complete." if self.success else self.view()), terminated or truncated

    def expert_actions(self) -> list[str]:
        """The BabyAI bot's actions, played on a copy of the level (the bot reads the level's state as it goes)
        from the current state until the mission is done or the turns run out."""
        from minigrid.utils.baby_ai_bot import BabyAIBot
        level = copy.deepcopy(self.level)
        bot, actions = BabyAIBot(level), []
        while len(actions) < self.max_turns - self.turns:
            action = bot.replan()
            actions.append(action.name)
            _, _, terminated, truncated, _ = level.step(action)
            if terminated or truncated:
                break
        return actions

    def info(self) -> dict:
        hidden = {"level": self.name, "mission": self.level.mission, "agent": [int(v) for v in self.level.agent_pos],
                  "direction": int(self.level.agent_dir), "minigrid_reward": self.minigrid_reward}
        return super().info() | {"hidden": hidden}
