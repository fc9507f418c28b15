"""Text environments with the Gymnasium API: the one interface every agentic notebook speaks.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/Calculator-v0")
    observation, info = env.reset(seed=0)           # the task, as text
    observation, reward, terminated, truncated, info = env.step('<tool_call>{"name": ...}</tool_call>')

Observations and actions are strings (`gymnasium.spaces.Text`). The agent's text is parsed by
`agentic_lab.actions.parse_action`; anything malformed becomes an error observation and a small
penalty, never an exception. `info` carries what a trainer and a viewer need: the tools on offer
(as chat-template schemas), success, and the hidden state the agent cannot see.

Two kinds ship here:
- `TaskEnv`: one task of a registered family per episode (`agentic_lab.tasks`); call tools, then answer.
  Registered as Arithmetic-v0, Calculator-v0, WordProblem-v0, Navigation-v0, SearchQA-v0, Copy-v0; ToolChoice-v0
  (agentic_lab.tool_use), SearchAgent-v0 (agentic_lab.search), MemoryBank-v0 and MemoryState-v0
  (agentic_lab.memory) and TwoAttempts-v0 (agentic_lab.reflection) are TaskEnvs of their capability's module;
  Look-v0 (agentic_lab.perception) shows images; Code-v0 (agentic_lab.coding) runs the agent's code in the
  sandbox; Fractions-v0, Expand-v0 and Prove-v0 (agentic_lab.math_tasks) check answers with SymPy and proofs
  with a rewriting kernel; WebTwin-v0 and MiniWoB-v0 (agentic_lab.web) are web pages read as text, in Python and in
  a real browser; Sycophancy-v0, Unknowable-v0 and InjectedSearch-v0 (agentic_lab.trust) ask with the user's
  guess, about people no note knows, and with an attacker's page among the search results.
- `KeyDoorEnv`: a small grid walked one move per turn, seen only through a 3x3 window; the door opens
  only if the key was picked up first, so an early action decides a later reward.
Notebook 07's planning world (PlanGrid-v0) and BabyAI levels live in `agentic_lab.planning`, registered here
like the other capability modules' environments.
"""
from __future__ import annotations

import copy
import random

import gymnasium as gym
from gymnasium.spaces import Text

from agentic_lab.actions import MAX_ACTION_CHARS, Action, parse_action
from agentic_lab.tasks import FAMILIES, MOVES, Task, sample_tasks
from agentic_lab.tools import Tool, call_tool

CHARSET = "\n" + "".join(chr(c) for c in range(32, 127))
MAX_OBSERVATION_CHARS = 4096
INVALID_PENALTY = 0.1  # reward for a malformed action: it counts against the agent


def text_space(max_length: int) -> Text:
    return Text(max_length=max_length, min_length=0, charset=CHARSET)


def printable(text: str, limit: int = 200) -> str:
    """Model text quoted inside an observation: ASCII only, and short."""
    return "".join(c if c in CHARSET else "?" for c in text[:limit])


class TextEnv(gym.Env[str, str]):
    """Shared by all environments: text spaces, tool dispatch, invalid-action handling, turn limit."""
    metadata = {"render_modes": ["ansi"]}
    ACTION_KINDS: tuple[str, ...] = ("tool_call", "answer")  # what `act` takes; other kinds are errors

    def __init__(self, tools: dict[str, Tool], max_turns: int, render_mode: str | None = None):
        self.observation_space = text_space(MAX_OBSERVATION_CHARS)
        self.action_space = text_space(MAX_ACTION_CHARS)
        self.tools, self.max_turns, self.render_mode = tools, max_turns, render_mode
        self.turns, self.last_observation = 0, ""

    def tool_schemas(self) -> list[dict]:
        return [tool.schema() for tool in self.tools.values()]

    def step(self, action: str):
        self.turns += 1
        parsed = parse_action(action if isinstance(action, str) else "")
        if parsed.kind == "invalid":
            observation, reward, terminated = self.error(parsed.error), -INVALID_PENALTY, False
        elif parsed.kind not in self.ACTION_KINDS:
            refused = f"this environment takes no {parsed.kind.replace('_', ' ')}."
            observation, reward, terminated = self.error(refused), -INVALID_PENALTY, False
        elif parsed.kind == "tool_call" and parsed.tool not in self.tools:
            observation, reward, terminated = self.error(f"no tool {printable(parsed.tool, 40)!r} here."), \
                -INVALID_PENALTY, False
        else:
            observation, reward, terminated = self.act(parsed)
            if parsed.kind == "tool_call" and observation.startswith("Error:"):
                reward -= INVALID_PENALTY  # bad or missing arguments: the tool refused, and that counts too
        truncated = not terminated and self.turns >= self.max_turns
        self.last_observation = printable(observation, MAX_OBSERVATION_CHARS)
        info = self.info() | {"action": parsed, "invalid": reward == -INVALID_PENALTY}
        return self.last_observation, reward, terminated, truncated, info

    def render(self):
        return self.last_observation

    def act(self, action: Action) -> tuple[str, float, bool]:
        """A well-formed action of a kind in ACTION_KINDS (a tool call only of one of this environment's tools)."""
        raise NotImplementedError

    def error(self, message: str) -> str:
        """The observation after an action that had no effect. An environment whose every observation shows its
        whole state (the memory bank) adds that state, so the agent needs no earlier observation."""
        return f"Error: {message}"

    def info(self) -> dict:
        """What every step and reset report. An environment whose different states can show the same observation
        (every room answers a refused action with the same error) adds "state", a name of the state it is in:
        the rollout records it with the next turn (`Turn.state`), and GiGPO groups turns by it."""
        return {"tools": self.tool_schemas(), "turn": self.turns}


class TaskEnv(TextEnv):
    """One task of a family per episode: tool calls return their result, an answer ends the episode
    with reward 1 if correct, else 0. `reset(options={"task": task})` plays a given task; `params` are the
    family's own keyword arguments (e.g. a memory stream's length), passed to every draw."""

    def __init__(self, family: str, split: str = "train", max_turns: int = 4, render_mode: str | None = None,
                 params: dict | None = None):
        super().__init__(dict(FAMILIES[family].tools), max_turns, render_mode)
        self.family, self.split, self.params = family, split, params or {}
        self.name = f"agentic_lab/task:{family}"  # for environments made without gym.make
        self.task: Task | None = None

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.task = options["task"] if options and "task" in options else self.draw_task()
        self.turns, self.success = 0, False
        self.last_observation = self.task.prompt
        return self.task.prompt, self.info()

    def draw_task(self) -> Task:
        """The episode's task, drawn from the reset's seed."""
        return sample_tasks(self.family, 1, seed=int(self.np_random.integers(2**31)), split=self.split,
                            **self.params)[0]

    def act(self, action: Action) -> tuple[str, float, bool]:
        if action.kind == "answer":
            self.success = self.task.check(action.answer)
            return ("Correct." if self.success else "Wrong."), float(self.success), True
        return call_tool(action.tool, action.arguments, self.tools), 0.0, False

    def info(self) -> dict:
        # a deep copy: a family's info may hold lists (reference tool calls), and each info must be new data
        hidden = {"family": self.task.family, "answer": self.task.answer, **copy.deepcopy(self.task.info)}
        return super().info() | {"success": self.success, "task": self.task, "hidden": hidden}


class KeyDoorEnv(TextEnv):
    """Walk a grid one move per turn with the `move` tool, seeing only the 3x3 window around you.
    Pick up the key (K) by stepping on it; the door (D) lets you through only with the key; reach G.
    Reward 1 at the goal; a wall, the grid's edge or a locked door leave you where you were."""

    SIZE = 5

    def __init__(self, max_turns: int = 16, render_mode: str | None = None):
        move = Tool("move", "Move one cell.", {"direction": (str, "U, D, L or R")}, self._move)
        super().__init__({"move": move}, max_turns, render_mode)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        rng = random.Random(int(self.np_random.integers(2**31)))
        # A wall column with one door splits the grid; the key is on the agent's side, the goal beyond.
        self.wall_col = rng.randint(1, self.SIZE - 2)
        self.door = (rng.randrange(self.SIZE), self.wall_col)
        left = [(r, c) for r in range(self.SIZE) for c in range(self.wall_col)]
        right = [(r, c) for r in range(self.SIZE) for c in range(self.wall_col + 1, self.SIZE)]
        self.agent, self.key = rng.sample(left, 2)
        self.goal = rng.choice(right)
        self.has_key, self.success, self.turns = False, False, 0
        self.last_observation = "Find the key K, open the door D, reach G. You are A.\n" + self.view()
        return self.last_observation, self.info()

    def cell(self, r: int, c: int) -> str:
        if not (0 <= r < self.SIZE and 0 <= c < self.SIZE):
            return "#"
        if (r, c) == self.agent:
            return "A"
        if (r, c) == self.door:
            return "D"
        if c == self.wall_col:
            return "#"
        if (r, c) == self.key and not self.has_key:
            return "K"
        return "G" if (r, c) == self.goal else "."

    def view(self) -> str:
        r0, c0 = self.agent
        rows = ["".join(self.cell(r, c) for c in range(c0 - 1, c0 + 2)) for r in range(r0 - 1, r0 + 2)]
        return "\n".join(rows) + ("\nYou have the key." if self.has_key else "")

    def _move(self, direction: str) -> str:
        if direction not in MOVES:
            return "Error: direction must be U, D, L or R."
        r, c = self.agent[0] + MOVES[direction][0], self.agent[1] + MOVES[direction][1]
        target = self.cell(r, c)
        if target == "#" or (target == "D" and not self.has_key):
            return ("The door is locked." if target == "D" else "Blocked.") + "\n" + self.view()
        self.agent = (r, c)
        if self.agent == self.key:
            self.has_key = True
        return self.view()

    def act(self, action: Action) -> tuple[str, float, bool]:
        if action.kind == "answer":
            return "Error: there is nothing to answer here; use move.", -INVALID_PENALTY, False
        observation = call_tool("move", action.arguments, self.tools)
        self.success = self.agent == self.goal
        return ("You reached the goal.\n" if self.success else "") + observation, float(self.success), self.success

    def info(self) -> dict:
        hidden = {"agent": list(self.agent), "key": list(self.key), "door": list(self.door),
                  "goal": list(self.goal), "has_key": self.has_key}
        return super().info() | {"success": self.success, "hidden": hidden}


ENV_IDS = {
    "Arithmetic-v0": ("arithmetic",), "Calculator-v0": ("calculator",), "WordProblem-v0": ("word_problem",),
    "Navigation-v0": ("navigation",), "SearchQA-v0": ("search_qa",), "Copy-v0": ("copy",),
}
for _name, (_family,) in ENV_IDS.items():
    gym.register(f"agentic_lab/{_name}", entry_point=TaskEnv, kwargs={"family": _family})
gym.register("agentic_lab/KeyDoor-v0", entry_point=KeyDoorEnv)
# A capability's environments live in its own module (notebooks 07 to 12), imported by gym.make on
# first use: until then FAMILIES lists only the families the tiny model was trained on, and minigrid is not loaded.
gym.register("agentic_lab/PlanGrid-v0", entry_point="agentic_lab.planning:PlanGridEnv")
for _level in ("BabyAI-GoToLocal-v0", "BabyAI-PickupLoc-v0", "BabyAI-OpenDoor-v0", "BabyAI-GoToSeqS5R2-v0"):  # planning.BABYAI_LEVELS
    gym.register(f"agentic_lab/{_level}", entry_point="agentic_lab.planning:BabyAIEnv", kwargs={"level": _level})
gym.register("agentic_lab/CoinRooms-v0", entry_point="agentic_lab.long_horizon:CoinRoomsEnv")
gym.register("agentic_lab/TextWorldCoin-v0", entry_point="agentic_lab.long_horizon:TextWorldCoinEnv")
gym.register("agentic_lab/ToolChoice-v0", entry_point="agentic_lab.tool_use:ToolChoiceEnv")
gym.register("agentic_lab/SearchAgent-v0", entry_point="agentic_lab.search:SearchAgentEnv")
gym.register("agentic_lab/MemoryBank-v0", entry_point="agentic_lab.memory:MemoryBankEnv")
gym.register("agentic_lab/MemoryState-v0", entry_point="agentic_lab.memory:MemoryStateEnv")
gym.register("agentic_lab/TwoAttempts-v0", entry_point="agentic_lab.reflection:TwoAttemptsEnv")
gym.register("agentic_lab/Look-v0", entry_point="agentic_lab.perception:LookEnv")
gym.register("agentic_lab/Code-v0", entry_point="agentic_lab.coding:CodeEnv")
gym.register("agentic_lab/Fractions-v0", entry_point="agentic_lab.math_tasks:MathAnswerEnv",
             kwargs={"family": "fractions"})
gym.register("agentic_lab/Expand-v0", entry_point="agentic_lab.math_tasks:MathAnswerEnv", kwargs={"family": "expand"})
gym.register("agentic_lab/Prove-v0", entry_point="agentic_lab.math_tasks:ProveEnv")
gym.register("agentic_lab/WebTwin-v0", entry_point="agentic_lab.web:WebTwinEnv")
gym.register("agentic_lab/MiniWoB-v0", entry_point="agentic_lab.web:MiniWoBEnv")
gym.register("agentic_lab/Sycophancy-v0", entry_point="agentic_lab.trust:TrustEnv", kwargs={"family": "sycophancy"})
gym.register("agentic_lab/Unknowable-v0", entry_point="agentic_lab.trust:TrustEnv", kwargs={"family": "unknowable"})
gym.register("agentic_lab/InjectedSearch-v0", entry_point="agentic_lab.trust:InjectedSearchEnv")
