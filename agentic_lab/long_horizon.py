"""Long horizons (notebook 09): a chain of rooms whose length is a dial, with a coin at its end.

    env = gym.make("agentic_lab/CoinRooms-v0", horizon=10)
    observation, info = env.reset(seed=0)      # the route, then the room the agent stands in
    env.step("<answer>E</answer>")             # one action a turn: N, E, S, W (go), or take

The world is TextWorld's coin collector (Côté et al. 2018; `tw-make tw-coin_collector`) written small: a chain of
rooms from the start to the room with the coin, and beside each room of the chain one dead-end room, a distractor
(TextWorld's levels 101-200). The first observation gives the route as TextWorld's quest text does, here one
`room direction` pair per room of the chain, then the room; every later observation is the room alone, its name and
its exits. The reward is 1 for taking the coin, 0 otherwise: it comes at the end or never.

The horizon H is the turn budget. The route has `route_length(H)` moves, so an agent that never errs needs one turn
more than that (the take) and has H // 4 turns to spare: at H = 5, 10, 20 the route is 3, 7, 14 moves with 1, 2, 5
turns of slack. Each mistake costs turns: a dead end two (in and back out), a move where there is no exit or a take
where there is no coin one, leaving the agent where it was. `slack` sets the turns to spare instead: notebook 09's
generous budget, `CoinRooms-v0(horizon=16, slack=10)`, is a route of 5 moves with 16 turns to take it in, so most
groups take the coin whole and differ only in the turns they wasted (`where_turns_went` says where they went).
Rooms recur: the G episodes of a GRPO group play one world and pass through the same rooms, and an observation is
exactly the agent's state (the same room reads the same every time), which is what GiGPO's step groups need
(`algorithms.gigpo_advantages`).
Malformed text, or an action that is not one of the five, gets an error and -INVALID_PENALTY.

`TextWorldCoinEnv` (agentic_lab/TextWorldCoin-v0) is the real thing: a game of TextWorld's `tw-coin_collector`
challenge at the level with the same route and one distractor per room (level 100 + route moves + 1), generated
and checked with TextWorld's bundled Inform 7 compiler (about a second a game, so games are kept on disk under
runs/textworld/), played by TextWorld's own engine, and shown in the same few words as CoinRooms: the route from the
game's walkthrough, each room's name and exits from the game state's facts. Notebook 09 trains on CoinRooms and
evaluates on both.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from agentic_lab import tasks
from agentic_lab.eval import success_rate
from agentic_lab.planning import ActionWordEnv
from agentic_lab.rollout import rollout
from agentic_lab.tasks import task_split
from agentic_lab.trajectory import write_atomically
from agentic_lab.world import random_name

TEXTWORLD_GAMES = Path(__file__).resolve().parent.parent / "runs" / "textworld"  # generated games, kept between runs
# Notebook 09's warm start, built from the tiny model by data/build_long_horizon_model.py: it imitates the expert
# with a mistake at MISTAKE_RATE of its turns, on routes of every horizon from 5 to 20.
WARM_START = Path(__file__).resolve().parent.parent / "data" / "coinrooms-warm"
MISTAKE_RATE = 0.05
HORIZONS = (5, 10, 20)     # the turn budgets the notebook compares
MAX_NEW_TOKENS = 12        # a message is one action: "<answer>take</answer><|end|>" is 7 tokens
DIRECTIONS = {"N": (-1, 0), "E": (0, 1), "S": (1, 0), "W": (0, -1)}
OPPOSITE = {"N": "S", "S": "N", "E": "W", "W": "E"}
TAKE = "take"
ACTIONS = (*DIRECTIONS, TAKE)  # what CoinRooms and the TextWorld wrapper both take
MAX_TRIES = 1_000  # random walks drawn before giving up on a chain that does not cross itself


@dataclass(frozen=True)
class Rooms:
    """A coin-collector world: `names[k]` is room k; `exits[k]` maps a direction to the room it leads to. Rooms
    0..len(route) lie on the chain (room 0 the start, the last one holds the coin); the others are dead ends.
    `route[k]` is the direction from chain room k to chain room k+1."""
    names: tuple[str, ...]
    exits: tuple[dict[str, int], ...]
    route: tuple[str, ...]

    @property
    def coin_room(self) -> int:
        return len(self.route)

    def describe(self, room: int) -> str:
        """A room as the agent sees it: its name and exits, in N E S W order, and the coin if it is there."""
        exits = " ".join(d for d in DIRECTIONS if d in self.exits[room])
        coin = " A coin is here." if room == self.coin_room else ""  # taking it ends the episode
        return f"{self.names[room]}. Exits: {exits}.{coin}"

    def route_text(self) -> str:
        """The quest: one `room direction` pair per room of the chain, `take` in the last."""
        steps = [f"{self.names[k]} {d}" for k, d in enumerate(self.route)]
        return ", ".join(steps + [f"{self.names[self.coin_room]} {TAKE}"])

    def expert(self, room: int) -> str:
        """The best action from `room`: along the route, back out of a dead end, or take the coin."""
        if room == self.coin_room:
            return TAKE
        if room < self.coin_room:
            return self.route[room]
        return next(iter(self.exits[room]))  # a dead end has one exit, back to the chain


def random_rooms(rng: random.Random, length: int) -> Rooms:
    """A chain of `length` moves on a grid (a walk that does not cross itself), then one dead-end room beside each
    room of the chain where a free cell is left; room names are invented and distinct."""
    for _ in range(MAX_TRIES):
        cells, route = [(0, 0)], []
        while len(route) < length:
            free = [d for d, (dr, dc) in DIRECTIONS.items()
                    if (cells[-1][0] + dr, cells[-1][1] + dc) not in cells]
            if not free:
                break
            route.append(rng.choice(free))
            dr, dc = DIRECTIONS[route[-1]]
            cells.append((cells[-1][0] + dr, cells[-1][1] + dc))
        if len(route) == length:
            break
    else:
        raise ValueError(f"no chain of {length} moves found")
    exits: list[dict[str, int]] = [{} for _ in cells]
    for k, d in enumerate(route):
        exits[k][d], exits[k + 1][OPPOSITE[d]] = k + 1, k
    taken = set(cells)
    for k in range(len(cells)):  # a distractor beside each chain room, on a side leading to a free cell
        free = [d for d, (dr, dc) in DIRECTIONS.items()
                if (cells[k][0] + dr, cells[k][1] + dc) not in taken and d not in exits[k]]
        if free:
            d = rng.choice(free)
            cell = (cells[k][0] + DIRECTIONS[d][0], cells[k][1] + DIRECTIONS[d][1])
            taken.add(cell)
            exits[k][d] = len(exits)
            exits.append({OPPOSITE[d]: k})
    names: set[str] = set()
    ordered = []
    while len(ordered) < len(exits):
        name = random_name(rng, (2, 2))
        if name not in names:
            names.add(name)
            ordered.append(name)
    return Rooms(tuple(ordered), tuple(exits), tuple(route))


def route_length(horizon: int, slack: int | None = None) -> int:
    """The moves of the route for a turn budget H: H - 1 - slack (one turn for the take, `slack` turns to spare,
    H // 4 unless given)."""
    return max(1, horizon - 1 - (horizon // 4 if slack is None else slack))


def sample_rooms(n: int, seed: int = 0, split: str = "train", horizon: int = 10,
                 slack: int | None = None) -> list[Rooms]:
    """`n` worlds of `split` for the turn budget `horizon` (routes of `route_length(horizon, slack)` moves),
    reproducible from `seed`; a world is in the train or the test split by a hash of its route text."""
    rng = random.Random(f"coin_rooms/{split}/{seed}")
    worlds: list[Rooms] = []
    while len(worlds) < n:
        world = random_rooms(rng, route_length(horizon, slack))
        if task_split((world.route_text(),)) == split:
            worlds.append(world)
    return worlds


class CoinRoomsEnv(ActionWordEnv):
    """The coin collector as an environment. `horizon` is the turn budget H; the route has `route_length(H, slack)`
    moves, H // 4 turns to spare unless `slack` says otherwise; `reset(options={"world": rooms})` plays a given
    world."""

    ACTIONS = ACTIONS

    def __init__(self, horizon: int = 10, split: str = "train", slack: int | None = None,
                 render_mode: str | None = None):
        super().__init__(max_turns=horizon, render_mode=render_mode)
        self.horizon, self.split, self.slack = horizon, split, slack

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if options and "world" in options:
            self.world = options["world"]
        else:
            self.world = sample_rooms(1, int(self.np_random.integers(2**31)), self.split, self.horizon,
                                      self.slack)[0]
        self.new_episode()
        self.room = 0
        self.last_observation = f"Take the coin. Route: {self.world.route_text()}.\n{self.world.describe(0)}"
        return self.last_observation, self.info()

    def do(self, action: str) -> tuple[str, bool]:
        if action == TAKE:
            self.success = self.room == self.world.coin_room
            if self.success:
                return "You take the coin.", True
        elif action in self.world.exits[self.room]:
            self.room = self.world.exits[self.room][action]
        return self.world.describe(self.room), False

    def expert_actions(self) -> list[str]:
        room, actions = self.room, []
        while True:
            actions.append(self.world.expert(room))
            if actions[-1] == TAKE:
                return actions
            room = self.world.exits[room][actions[-1]]

    def info(self) -> dict:
        hidden = {"route": list(self.world.route), "room": self.room,
                  "horizon": self.horizon, "optimal_turns": len(self.world.route) + 1}
        return super().info() | {"hidden": hidden, "state": self.room}


WORDS = {"north": "N", "east": "E", "south": "S", "west": "W"}  # TextWorld's directions, as CoinRooms writes them


def textworld_game(route_moves: int, seed: int, folder: Path = TEXTWORLD_GAMES) -> Path:
    """The JSON file of TextWorld's coin-collector game with `route_moves` moves and one distractor per room, made
    from `seed` by TextWorld (and kept in `folder`: making one runs the Inform 7 compiler)."""
    path = folder / f"coin_collector-{route_moves}-{seed}.json"
    if not path.exists():
        from textworld import GameOptions
        from textworld.challenges.tw_coin_collector import coin_collector
        options = GameOptions()
        options.seeds = seed
        game = coin_collector.make({"level": 100 + route_moves + 1}, options)  # TextWorld counts rooms, not moves
        write_atomically(path, json.dumps(game.serialize()))
    return path


class TextWorldCoinEnv(ActionWordEnv):
    """A TextWorld coin-collector game, drawn by seed, played by TextWorld's engine and shown as CoinRooms shows its
    worlds; same actions, same turn budget H, same reward (1 when TextWorld says the game is won)."""

    ACTIONS = ACTIONS
    COMMANDS = {**{letter: f"go {word}" for word, letter in WORDS.items()}, TAKE: "take coin"}

    def __init__(self, horizon: int = 10, render_mode: str | None = None):
        super().__init__(max_turns=horizon, render_mode=render_mode)
        self.horizon = horizon
        self.name = "agentic_lab/TextWorldCoin-v0"  # for environments made without gym.make

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        from textworld import EnvInfos
        from textworld.envs.tw import TextWorldEnv
        game = textworld_game(route_length(self.horizon), int(self.np_random.integers(2**31)))
        self.game = TextWorldEnv(EnvInfos(admissible_commands=True, facts=True, won=True, policy_commands=True))
        self.game.load(str(game))
        self.walkthrough = json.loads(game.read_text())["metadata"]["walkthrough"]
        rooms = [self.room_name(self.game.reset())]  # the route's rooms: play the walkthrough once, then start again
        for command in self.walkthrough[:-1]:
            rooms.append(self.room_name(self.game.step(command)[0]))
        route = [f"{room} {WORDS[command.split()[1]]}" for room, command in zip(rooms, self.walkthrough[:-1])]
        self.state = self.game.reset()
        self.new_episode()
        route.append(f"{rooms[-1]} {TAKE}")
        self.last_observation = f"Take the coin. Route: {', '.join(route)}.\n{self.describe()}"
        return self.last_observation, self.info()

    @staticmethod
    def room_name(state) -> str:
        """Where the player is, from the facts: at(P, room); capitalised as CoinRooms' names are."""
        return next(f.arguments[1].name for f in state.facts if f.name == "at" and f.arguments[0].name == "P").capitalize()

    def describe(self) -> str:
        exits = {WORDS[c.split()[1]] for c in self.state.admissible_commands if c.startswith("go ")}
        coin_here = "take coin" in self.state.admissible_commands
        return (f"{self.room_name(self.state)}. Exits: {' '.join(d for d in DIRECTIONS if d in exits)}."
                + (" A coin is here." if coin_here else ""))

    def do(self, action: str) -> tuple[str, bool]:
        self.state, _, _ = self.game.step(self.COMMANDS[action])
        self.success = bool(self.state.won)
        return ("You take the coin." if self.success else self.describe()), self.success

    def expert_actions(self) -> list[str]:
        return [TAKE if c == "take coin" else WORDS[c.split()[1]] for c in self.state.policy_commands]

    def info(self) -> dict:
        if not hasattr(self, "walkthrough"):  # before the first reset
            return super().info() | {"hidden": {}}
        hidden = {"horizon": self.horizon, "optimal_turns": len(self.walkthrough)}
        return super().info() | {"hidden": hidden, "state": self.room_name(self.state)}


def demonstration(env, seed: int, rng: random.Random, mistake_rate: float) -> list[dict]:
    """An expert episode with mistakes, as a conversation: at each turn, with probability `mistake_rate`, an action
    other than the expert's (a dead end, a wall, a step back, a take out of place), after which the expert goes on
    from wherever that led. A model that imitates these learns the task, how to recover, and to err at about this
    rate: the waste that RL has to remove. The episode ends at success or when the turns run out."""
    env = env.unwrapped
    first, _ = env.reset(seed=seed)
    messages = [{"role": "user", "content": first}]
    while True:
        best = env.expert_actions()[0]
        action = rng.choice([a for a in env.ACTIONS if a != best]) if rng.random() < mistake_rate else best
        messages.append(tasks.answer(action))
        observation, _, terminated, truncated, _ = env.step(messages[-1]["content"])
        if terminated or truncated:
            return messages
        messages.append(tasks.observation(observation))


def play(model, tokenizer, horizon: int, n: int, temperature: float = 1.0, seed: int = 0,
         env_id: str = "agentic_lab/CoinRooms-v0", slack: int | None = None) -> list:
    """One episode in each of `n` held-out worlds at turn budget `horizon` (CoinRooms' test split, its routes
    `slack` turns short of the budget, or TextWorld games of seeds 100,000...): the same worlds for every model, so
    two models' successes pair up world by world."""
    kwargs = {"split": "test", "slack": slack} if env_id == "agentic_lab/CoinRooms-v0" else {}
    envs = [gym.make(env_id, horizon=horizon, **kwargs) for _ in range(n)]
    return rollout(model, tokenizer, envs, [100_000 + k for k in range(n)], temperature=temperature,
                   max_new_tokens=MAX_NEW_TOKENS, seed=seed)


def wasted_turns(trajectories) -> list[int]:
    """Per episode, the turns it played beyond the fewest that take the coin (a failure: all it played, less those)."""
    return [len(t.turns) - t.info["optimal_turns"] for t in trajectories]


def horizon_report(trajectories) -> dict[str, dict]:
    """By horizon H: n, success ± standard error, and the turns a success took beyond the fewest possible."""
    rows = {}
    for horizon in sorted({t.info["horizon"] for t in trajectories}):
        group = [t for t in trajectories if t.info["horizon"] == horizon]
        success, stderr = success_rate(group)
        extra = [w for w, t in zip(wasted_turns(group), group) if t.success]
        rows[str(horizon)] = {"n": len(group), "success": success, "stderr": stderr,
                              "extra_turns": sum(extra) / len(extra) if extra else None}
    return rows


def where_turns_went(trajectories) -> dict[str, float]:
    """Where CoinRooms turns were spent: of the turns taken in a room of the chain before the coin's, the share that
    took the route's next move; of the turns taken in a dead end, the share that stepped straight back out (its one
    exit). A turn counts when its episode went on, so the next turn's room says where it led."""
    on_route, out_of_dead_end = [], []
    for t in trajectories:
        coin_room = len(t.info["route"])                       # rooms 0..coin_room are the chain, the rest dead ends
        for turn, following in zip(t.turns, t.turns[1:]):
            if turn.state < coin_room:
                on_route.append(following.state == turn.state + 1)
            elif turn.state > coin_room:
                out_of_dead_end.append(following.state != turn.state)
    return {"on_route": sum(on_route) / max(1, len(on_route)),
            "out_of_dead_end": sum(out_of_dead_end) / max(1, len(out_of_dead_end)),
            "dead_end_turns": len(out_of_dead_end)}
