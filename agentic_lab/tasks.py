"""Task families: a seeded, reproducible generator of everything the tiny model learns and is tested on.

A *task* is one problem: the user's prompt, the tools it may call, the gold answer, one correct
solution (the assistant and tool messages that solve it, used for supervised training) and a checker.
A *family* is a function that samples tasks from a `random.Random` (and keyword parameters, if it has any),
registered by name with `@family`.
Later notebooks add their own families the same way, without touching these:

    @family("my_family", tools=("calc",), description="...")
    def my_family(rng: random.Random) -> Task: ...

A family's tools are names in the shared registry (`agentic_lab.tools.TOOLS`) or `Tool` objects of its
own, for a tool that shares a name with a registered one (the search agent's `search` over a corpus).

Every task belongs to the train or the test split by a hash of its `split_keys` (the prompt, or for
questions about the fictional world, the entities asked about), so held-out tasks are never trained on.
A family whose task names many entities (a memory stream, eight people to look up) would almost never draw all
of them held out by chance: it takes the split (`family(..., takes_split=True)`) and draws from that side only.
"""
from __future__ import annotations

import random
import re
import string
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from agentic_lab import world
from agentic_lab.tools import TOOLS, Tool, ToolError

TEST_FRACTION = 0.2


def assistant(content: str = "", reasoning: str | None = None, tool: str | None = None, **arguments) -> dict:
    """An assistant message: optional reasoning (rendered <think>...</think>), content, one tool call."""
    message: dict = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool is not None:
        message["tool_calls"] = [{"type": "function", "function": {"name": tool, "arguments": arguments}}]
    return message


def observation(content: str) -> dict:
    return {"role": "tool", "content": content}


def answer(text: str, reasoning: str | None = None) -> dict:
    return assistant(f"<answer>{text}</answer>", reasoning=reasoning)


@dataclass(frozen=True)
class Task:
    family: str
    prompt: str                  # the user's message
    answer: str                  # the gold answer
    solution: tuple[dict, ...]   # assistant/tool messages of one correct solution
    tools: tuple[str, ...] = ()  # names of tools the task offers (see agentic_lab.tools)
    split_keys: tuple[str, ...] = ()  # what decides train/test; empty means the prompt
    info: dict = field(default_factory=dict, compare=False)  # family-specific state, e.g. the grid

    def messages(self) -> list[dict]:
        """The conversation the model is asked to continue."""
        return [{"role": "user", "content": self.prompt}]

    def conversation(self) -> list[dict]:
        """Prompt plus the reference solution: what supervised training imitates."""
        return self.messages() + list(self.solution)

    def tool_schemas(self) -> list[dict] | None:
        return [FAMILIES[self.family].tools[name].schema() for name in self.tools] or None

    @property
    def split(self) -> str:
        return task_split(self.split_keys or (self.prompt,))

    def check(self, predicted: str | None) -> bool:
        """Is `predicted` (the text inside <answer>...</answer>) a correct answer to this task?"""
        return predicted is not None and FAMILIES[self.family].check(self, predicted)


def task_split(keys: tuple[str, ...]) -> str:
    """'test' if any key hashes into the held-out fraction, else 'train' (stable across machines)."""
    held_out = any(zlib.crc32(k.encode()) % 1000 < TEST_FRACTION * 1000 for k in keys)
    return "test" if held_out else "train"


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().strip(".").lower()


def exact_match(task: Task, predicted: str) -> bool:
    return normalise(predicted) == normalise(task.answer)


@dataclass(frozen=True)
class TaskFamily:
    name: str
    description: str
    tools: dict[str, Tool]  # name -> tool, the tools its tasks may offer
    sample: Callable[..., Task]  # (rng, **params) -> Task
    check: Callable[[Task, str], bool]
    takes_split: bool = False  # sample(rng, split=..., **params) draws every entity from that split's side


FAMILIES: dict[str, TaskFamily] = {}


def family(name: str, description: str, tools: tuple[str | Tool, ...] = (),
           check: Callable[[Task, str], bool] = exact_match, takes_split: bool = False):
    """Register a task family: `sample(rng, **params) -> Task`, checked by `check(task, predicted)`; `tools` are
    registered tool names or Tool objects. takes_split: the sampler is `sample(rng, split, **params)` and draws
    every entity it names from that split (see the module's docstring)."""
    toolbox = {t.name: t for t in (TOOLS[t] if isinstance(t, str) else t for t in tools)}

    def register(sample: Callable[[random.Random], Task]):
        FAMILIES[name] = TaskFamily(name, description, toolbox, sample, check, takes_split)
        return sample
    return register


def sample_tasks(name: str, n: int, seed: int = 0, split: str = "train", **params) -> list[Task]:
    """`n` tasks of family `name` from `split`, reproducible from `seed` (and `params`, the keyword arguments of
    a family that takes some, e.g. a memory stream's length)."""
    rng = random.Random(f"{name}/{split}/{seed}")
    task_family = FAMILIES[name]
    if task_family.takes_split:
        params = {"split": split, **params}
    tasks: list[Task] = []
    while len(tasks) < n:
        task = task_family.sample(rng, **params)
        if task.split == split:
            tasks.append(task)
    return tasks


def sample_mixture(weights: dict[str, float], n: int, seed: int = 0, split: str = "train") -> list[Task]:
    """`n` tasks drawn from several families in proportion to `weights`, shuffled."""
    total = sum(weights.values())
    counts = {name: round(n * w / total) for name, w in weights.items()}
    tasks = [t for name, k in counts.items() for t in sample_tasks(name, k, seed, split)]
    random.Random(seed).shuffle(tasks)
    return tasks


# --- the families ---------------------------------------------------------------------------------
def number_with_digits(rng: random.Random, digits: int) -> int:
    """A number of exactly `digits` digits (0 to 9 for one)."""
    return rng.randint(0 if digits == 1 else 10 ** (digits - 1), 10**digits - 1)


@family("arithmetic", "Add or subtract two numbers of 1-3 digits, answering directly (no tools).")
def arithmetic(rng: random.Random) -> Task:
    a, b = (number_with_digits(rng, rng.choice([1, 1, 2, 2, 2, 3])) for _ in range(2))
    op = rng.choice("+-")
    if op == "-" and b > a:
        a, b = b, a  # keep results non-negative
    result = a + b if op == "+" else a - b
    return Task("arithmetic", f"What is {a}{op}{b}?", str(result), (answer(str(result)),))


# Demonstrations call the tool on every 3-digit product but on only 30% of 2-digit ones (the rest guess
# in the head, and are mostly wrong): the base model calls on sampled 2-digit prompts now and then, so
# RL can find that calling pays (notebook 06).
CALL_SHARE_2_DIGIT = 0.3


@family("calculator", "Evaluate a product of 2- or 3-digit numbers; calling the calc tool gets it right.",
        tools=("calc",))
def calculator(rng: random.Random) -> Task:
    a, b, c = number_with_digits(rng, rng.choice([2, 3])), rng.randint(12, 99), rng.randint(2, 99)
    expr = rng.choice(["{a}*{b}", "{a}*{b}+{c}", "{a}*{b}-{c}", "({a}+{c})*{b}"]).format(a=a, b=b, c=c)
    result = str(eval(expr))  # our own fixed template of integers, never model text
    if a >= 100 or rng.random() < CALL_SHARE_2_DIGIT:
        solution = (assistant(tool="calc", expr=expr), observation(result), answer(result))
    else:
        solution = (answer(result),)
    return Task("calculator", f"What is {expr}?", result, solution, tools=("calc",), info={"digits": len(str(a))})


_NAMES = ["Ann", "Bo", "Cy", "Dee", "Eli", "Fay", "Gus", "Ida"]
_ITEMS = ["apples", "pens", "coins", "eggs", "books", "cards"]
_STORIES = [  # (prompt, result, reasoning) with single-digit a, b
    ("{n} has {a} bags of {b} {i}. {n} gives away {c}. How many {i} are left?",
     lambda a, b, c: a * b - c, "{a}*{b}={ab} {ab}-{c}={r}"),
    ("{n} buys {a} boxes of {b} {i} and finds {c} more. How many {i} now?",
     lambda a, b, c: a * b + c, "{a}*{b}={ab} {ab}+{c}={r}"),
    ("{n} has {a} {i} and buys {b} packs of {c}. How many {i} now?",
     lambda a, b, c: a + b * c, "{b}*{c}={bc} {a}+{bc}={r}"),
]


@family("word_problem", "Two-step word problems, solved with a short <think> scratchpad.")
def word_problem(rng: random.Random) -> Task:
    story, compute, steps = rng.choice(_STORIES)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    c = rng.randint(1, min(20, a * b - 1)) if "away" in story else rng.randint(2, 9 if "times" in story else 20)
    r = compute(a, b, c)
    prompt = story.format(n=rng.choice(_NAMES), a=a, b=b, c=c, i=rng.choice(_ITEMS))
    reasoning = steps.format(a=a, b=b, c=c, ab=a * b, bc=b * c, r=r)
    return Task("word_problem", prompt, str(r), (answer(str(r), reasoning=reasoning),))


MOVES = {"U": (-1, 0), "D": (1, 0), "L": (0, -1), "R": (0, 1)}
GRID_SIZE, N_WALLS = 4, 3


def walk(grid: list[str], start: tuple[int, int], plan: str) -> tuple[int, int] | None:
    """Follow `plan` on `grid`; the final cell, or None if the plan leaves the grid or hits a wall."""
    r, c = start
    for move in plan.replace(" ", ""):
        if move not in MOVES:
            return None
        r, c = r + MOVES[move][0], c + MOVES[move][1]
        if not (0 <= r < len(grid) and 0 <= c < len(grid[0])) or grid[r][c] == "#":
            return None
    return r, c


def shortest_plan(grid: list[str], start: tuple[int, int], goal: tuple[int, int]) -> str | None:
    """Breadth-first search over moves in the fixed order U, D, L, R (so the plan is deterministic)."""
    frontier, seen = deque([(start, "")]), {start}
    while frontier:
        cell, plan = frontier.popleft()
        if cell == goal:
            return plan
        for move in MOVES:
            nxt = walk(grid, cell, move)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                frontier.append((nxt, plan + move))
    return None


def reaches_goal(task: Task, predicted: str) -> bool:
    end = walk(task.info["grid"], tuple(task.info["start"]), predicted.strip().upper())
    return end == tuple(task.info["goal"])


@family("navigation", "Plan moves from S to G around walls on a 4x4 grid.", check=reaches_goal)
def navigation(rng: random.Random) -> Task:
    while True:
        cells = [(r, c) for r in range(GRID_SIZE) for c in range(GRID_SIZE)]
        start, goal, *walls = rng.sample(cells, 2 + N_WALLS)
        rows = [["."] * GRID_SIZE for _ in range(GRID_SIZE)]
        for r, c in walls:
            rows[r][c] = "#"
        rows[start[0]][start[1]], rows[goal[0]][goal[1]] = "S", "G"
        grid = ["".join(row) for row in rows]
        plan = shortest_plan(grid, start, goal)
        if plan is not None and len(plan) >= 3:
            break
    prompt = "Go from S to G. Moves: U D L R. # is a wall.\n" + "\n".join(grid)
    info = {"grid": grid, "start": list(start), "goal": list(goal)}  # JSON-friendly, for saved trajectories
    return Task("navigation", prompt, plan, (answer(plan),), info=info)


_ATTRIBUTES = ["capital", "river", "language"]


@family("search_qa", "Questions about a fictional world, answered by calling search once or twice.",
        tools=("search",))
def search_qa(rng: random.Random) -> Task:
    w = world.build_world()
    countries = {c.name: c for c in w.countries}
    kind = rng.choice(["country", "job", "two_hop"])
    person, attribute = rng.choice(w.people), rng.choice(_ATTRIBUTES)
    country = countries[person.country] if kind == "two_hop" else rng.choice(w.countries)
    look_up_country = (assistant(tool="search", query=country.name), observation(country.note()))
    look_up_person = (assistant(tool="search", query=person.name), observation(person.note()))
    if kind == "country":
        prompt, gold, steps, keys = f"What is the {attribute} of {country.name}?", getattr(country, attribute), \
            look_up_country, (country.name,)
    elif kind == "job":
        prompt, gold, steps, keys = f"What is the job of {person.name}?", person.job, look_up_person, (person.name,)
    else:
        prompt, gold, steps, keys = f"What is the {attribute} of the country where {person.name} lives?", \
            getattr(country, attribute), look_up_person + look_up_country, (person.name, country.name)
    return Task("search_qa", prompt, gold, steps + (answer(gold),), tools=("search",), split_keys=keys)



# --- copying --------------------------------------------------------------------------------------
# search_qa copies world names of 4-9 characters, always built from the same syllables. Here the strings are
# invented for each task, 2 to 40 characters long, syllables or random characters, so what the model learns is to
# copy what it reads, character by character: from the question into a tool call, from a tool's answer (an earlier
# turn) into the answer, and from a document in the prompt that holds other records too.
STRING_KINDS = ("name", "chars")
KEY_LENGTHS = VALUE_LENGTHS = (2, 40)
FIELD_WORDS = ("capital", "river", "language", "job", "code", "owner", "city", "tag", "motto", "pet")


def unseen_string(rng: random.Random, kind: str, length: int) -> str:
    """`length` invented characters that name nothing in the world: syllables ("Kalabuno", kind "name") or
    lower-case letters and digits ("q7vz0k", kind "chars")."""
    taken = world.fact_table()
    while True:
        if kind == "name":
            text = world.random_name(rng, (length, length))[:length]  # every syllable has 2 or 3 characters
        else:
            text = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(length))
        if text.lower() not in taken:
            return text


def record(key: str) -> dict[str, str]:
    """Three fields of the invented entity `key`, a function of the key alone: the read tool and a document agree."""
    rng = random.Random(f"record/{key}")
    return {field: unseen_string(rng, rng.choice(STRING_KINDS), rng.randint(*VALUE_LENGTHS))
            for field in rng.sample(FIELD_WORDS, 3)}


def record_note(key: str) -> str:
    return f"{key}: " + "; ".join(f"{field} {value}" for field, value in record(key).items()) + "."


def read_record(key: str) -> str:
    """The read tool: any key has a record, so a miscopied key reads a stranger's, and the answer is wrong."""
    if not key.strip():
        raise ToolError("key is empty")
    return record_note(key.strip()[:60])


READ = Tool("read", "Read the record of a key.", {"key": (str, "the key, exactly as written")}, read_record)


@family("copy", "Copy invented strings of up to 40 characters: from the question into a read call, from the "
        "record it returns into the answer, or from a document of records.", tools=(READ,))
def copy_string(rng: random.Random) -> Task:
    def new_key() -> str:
        return unseen_string(rng, rng.choice(STRING_KINDS), rng.randint(*KEY_LENGTHS))
    keys, wanted = [new_key()], rng.randint(1, 4)
    while len(keys) < wanted:  # the other records come from the same split: no held-out record is read in training
        if task_split((k := new_key(),)) == task_split(keys[:1]):
            keys.append(k)
    key = rng.choice(keys)
    fields = record(key)
    field = rng.choice(list(fields))
    gold, question = fields[field], f"What is the {field} of {key}?"
    if rng.random() < 2 / 3:  # the records are in the prompt: find the right one, copy from it
        prompt = "Records:\n" + "\n".join(record_note(k) for k in keys) + "\n" + question
        return Task("copy", prompt, gold, (answer(gold),), split_keys=tuple(keys))
    steps = (assistant(tool="read", key=key), observation(record_note(key)), answer(gold))
    return Task("copy", question, gold, steps, tools=("read",), split_keys=(key,))
