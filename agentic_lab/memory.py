"""Memory (notebook 11): a memory bank managed one operation per fact (Memory-R1), and a rewritten state (MEM1).

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/MemoryBank-v0", stream_length=8, bank_size=4)
    env = gym.make("agentic_lab/MemoryState-v0", objectives=4)

**The memory bank** (family `memory_bank`, `MemoryBankEnv`). Facts about the world's entities arrive one a turn,
three words each ("Keso job miner", "Keso lives Dradabu", "Dradabu capital Kalabu"). The episode names the
entities it will ask about (`questions` of them, one field each); facts about any other entity are distractors,
and each kept fact is contradicted `updates` times by a later one (Keso changes job: "Keso job baker"). By default
(`asked="names"`) the observation names the kept entities (`Keep:`); with `asked="jobs"` it names nothing, every
question is about a person's job and no distractor is a job, so a manager must learn from the answers what matters.
Every observation shows the whole bank, slots numbered from 1 with the number of the fact each was written at in
brackets, and the fact to handle:

    Keep: Keso, Dradabu
    Bank:
    1 [1] Keso job miner
    2 -
    Fact 3/8: Keso job baker

The agent answers with one operation, written with the tiny tokenizer's memory tokens (`agentic_lab.actions`):
`<mem_add>text</mem>` (into the first empty slot), `<mem_update>i text</mem>`, `<mem_delete>i</mem>`,
`<mem_noop></mem>`; ADD and UPDATE without text (`<mem_add></mem>`, `<mem_update>2</mem>`) store the fact being
handled as it came, so a manager need not copy it letter by letter (the tiny model, which reads a character a
token, miscopies names it never saw). An operation the bank cannot take (slot 9 of 4, UPDATE or DELETE of an empty slot, ADD to a
full bank, text longer than MAX_ENTRY_CHARS) is an error observation with -INVALID_PENALTY, the bank unchanged
and the same fact still to handle. After the last fact a fixed answerer answers each question from the bank
alone: the value of the most recently written slot that reads "<entity> <field> <value>" for the asked entity
and field (case aside), none if no slot does. The reward is the share of questions answered right (the gold
is the last value the stream gave), `success` is all of them. With `turn_rewards=True` each valid operation is
paid instead what it changed in that share as the bank stands (`MemoryBankEnv.answerable`): the payments add up to
the same reward, and a distractor written over a kept fact costs it at that turn.

Baselines are managers, functions (bank, fact, kept entities) -> operation text: add-only FIFO (`fifo_manager`,
the oldest slot overwritten once the bank is full), random valid operations (`random_manager`) and the oracle
(`oracle_manager`: ADD a kept entity's fact, UPDATE its slot when the fact changes, NOOP a distractor), whose
operations are each task's `solution`. All three write the short forms.

**The rewritten state** (family `memory_state`, `MemoryStateEnv`, MEM1). The jobs of k people
(`Find: 1 Keso; 2 Tolu`), each found with one call of the task's `lookup`, which takes the person's number
(`{"objective": 2}`: the tiny model miscopies names it never saw, see `OBJECTIVE_LOOKUP`); the agent answers all
k at once, in order, separated by ";", and is rewarded with the share it gets right. With every message it may
write `<state>...</state>`: the environment keeps the latest (up to MAX_STATE_CHARS) and, by default
(`self_contained=True`), every observation repeats the last result, that state and the objectives, so the latest
observation is all an agent needs: an engine that drops everything else from the context (rollout's
keep_history=False) gives MEM1's constant-size context. `self_contained=False` shows only the result, the
full-context agent's observation.

Train and test are split by name: a test stream names only held-out entities (the kept ones and every
distractor), a test task only held-out people, and a train one none (`tasks.family(..., takes_split=True)`: eight
names would almost never all hash into the held-out fifth by chance). Both families register when
this module is imported (gym.make of either environment imports it), not with `agentic_lab.tasks`.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean, stdev
from typing import Callable

from agentic_lab import world
from agentic_lab.actions import Action, parse_action
from agentic_lab.envs import INVALID_PENALTY, TaskEnv, printable
from agentic_lab.eval import success_rate
from agentic_lab.tasks import Task, answer, assistant, family, normalise, observation, sample_tasks, task_split
from agentic_lab.tools import Tool, ToolError, call_tool

# --- facts ----------------------------------------------------------------------------------------
# Each fact's word (one word, so a fact is three) and the world's field it starts from. People change jobs and
# move, countries move their capital: the fields a later fact can contradict.
PERSON_FIELDS = {"job": "job", "lives": "country"}
COUNTRY_FIELDS = {"capital": "capital"}


@dataclass(frozen=True)
class Fact:
    entity: str
    field: str  # job, lives or capital
    value: str

    @property
    def text(self) -> str:
        return f"{self.entity} {self.field} {self.value}"


def in_split(entities: list, split: str) -> list:
    """The entities whose names belong to `split`."""
    return [e for e in entities if task_split((e.name,)) == split]


def first_fact(rng: random.Random, entity: world.Country | world.Person, words: tuple[str, ...] | None = None) -> Fact:
    """A field of `entity` as the world has it, one of `words` if given (else any of its fields)."""
    fields = PERSON_FIELDS if isinstance(entity, world.Person) else COUNTRY_FIELDS
    word = rng.choice([w for w in fields if words is None or w in words])
    return Fact(entity.name, word, world.fact_table()[entity.name.lower()][fields[word]])


def changed_fact(rng: random.Random, fact: Fact) -> Fact:
    """The same field of the same entity, with another value of its kind: a job, a country, a capital."""
    w = world.build_world()
    values = {"job": world.JOBS, "lives": [c.name for c in w.countries], "capital": [c.capital for c in w.countries]}
    return Fact(fact.entity, fact.field, rng.choice([v for v in values[fact.field] if v != fact.value]))


# --- the bank ---------------------------------------------------------------------------------------
MAX_SLOTS = 8
MAX_ENTRY_CHARS = 32  # a fact is at most 27 characters; a longer entry is refused, so observations stay short
MAX_STREAM = 64


class InvalidOperation(ValueError):
    """An operation the bank cannot take; the message is what the agent is told."""


@dataclass(frozen=True)
class Bank:
    slots: tuple[str | None, ...]  # slot i + 1's text, None when empty
    written: tuple[int, ...]       # when each slot was last written (the fact's number), -1 when empty

    @classmethod
    def empty(cls, size: int) -> "Bank":
        return cls((None,) * size, (-1,) * size)

    def show(self) -> str:
        """One line a slot: its number, when it was written in brackets (the answerer reads the newest of two slots
        about the same thing, so a manager has to see which that is), and its text; "-" when empty."""
        return "\n".join(f"{i} [{time}] {text}" if text is not None else f"{i} -"
                         for i, (text, time) in enumerate(zip(self.slots, self.written), 1))


def apply(bank: Bank, action: Action, time: int, fact: str = "") -> Bank:
    """The bank after one memory operation (a parsed action), written at `time`; raises InvalidOperation. `fact`: what
    an ADD or UPDATE without text stores (the fact being handled)."""
    if action.operation == "NOOP":
        return bank
    if action.operation == "ADD":
        if None not in bank.slots:
            raise InvalidOperation("the bank is full: UPDATE or DELETE a slot instead.")
        slot = bank.slots.index(None) + 1
    else:
        slot = action.slot
        if not 1 <= slot <= len(bank.slots):
            raise InvalidOperation(f"there is no slot {slot}: the slots are 1 to {len(bank.slots)}.")
        if bank.slots[slot - 1] is None:
            raise InvalidOperation(f"slot {slot} is empty: ADD writes into an empty slot.")
    text = None if action.operation == "DELETE" else " ".join((action.entry or fact).split())  # one line in the bank
    if text is not None and len(text) > MAX_ENTRY_CHARS:
        raise InvalidOperation(f"an entry has at most {MAX_ENTRY_CHARS} characters.")
    slots, written = list(bank.slots), list(bank.written)
    slots[slot - 1], written[slot - 1] = text, -1 if text is None else time
    return Bank(tuple(slots), tuple(written))


def answer_from(bank: Bank, entity: str, field: str) -> str | None:
    """The fixed answerer: the value in the most recently written slot that reads "<entity> <field> <value>"
    (case aside), or None if no slot does."""
    asked = [entity.lower(), field.lower()]
    found = [(time, words[2]) for text, time in zip(bank.slots, bank.written) if text is not None
             for words in [text.split()] if len(words) == 3 and [w.lower() for w in words[:2]] == asked]
    return max(found)[1] if found else None


# --- managers ---------------------------------------------------------------------------------------
Manager = Callable[[Bank, Fact, tuple[str, ...]], str]
"""(bank, the fact to handle, the entities kept) -> one operation's text."""


def oracle_manager(bank: Bank, fact: Fact, kept: tuple[str, ...]) -> str:
    """ADD a kept entity's fact, UPDATE its slot when the fact changes, NOOP a distractor. It keeps one slot per
    kept entity, so a bank it filled alone is never full when a new one arrives; in a bank someone else filled
    (notebook 11's mixed demonstrations) it overwrites the oldest slot the answerer would not read for a kept name."""
    if fact.entity not in kept:
        return "<mem_noop></mem>"
    for i, text in enumerate(bank.slots, 1):
        if text is not None and text.split()[:2] == [fact.entity, fact.field]:
            return f"<mem_update>{i}</mem>"
    if None in bank.slots:
        return "<mem_add></mem>"
    return f"<mem_update>{min(stale_slots(bank, kept), key=lambda i: bank.written[i - 1])}</mem>"


def stale_slots(bank: Bank, kept: tuple[str, ...]) -> list[int]:
    """The filled slots the answerer would never read for a kept name: facts about other names, and a kept name's
    facts that a more recently written slot replaces."""
    newest: dict[tuple[str, str], int] = {}  # (kept name, field) -> the slot written last
    for i, text in enumerate(bank.slots, 1):
        words = (text or "").split()
        if len(words) == 3 and words[0] in kept:
            key = (words[0], words[1])
            if key not in newest or bank.written[i - 1] > bank.written[newest[key] - 1]:
                newest[key] = i
    return [i for i, text in enumerate(bank.slots, 1) if text is not None and i not in newest.values()]


def fifo_manager(bank: Bank, fact: Fact, kept: tuple[str, ...]) -> str:
    """Add every fact; once the bank is full, overwrite the slot written longest ago."""
    if None in bank.slots:
        return "<mem_add></mem>"
    return f"<mem_update>{bank.written.index(min(bank.written)) + 1}</mem>"


def mixed_manager(rng: random.Random, fifo_share: float) -> Manager:
    """Each fact handled by FIFO with probability `fifo_share`, else by the oracle: the demonstrations of notebook
    11's warm start, which half the time keeps everything and half the time keeps only what will be asked."""
    def manage(bank: Bank, fact: Fact, kept: tuple[str, ...]) -> str:
        return (fifo_manager if rng.random() < fifo_share else oracle_manager)(bank, fact, kept)
    return manage


def random_manager(rng: random.Random) -> Manager:
    """A manager that picks one of the operations the bank can take, uniformly by kind, then by slot."""
    def manage(bank: Bank, fact: Fact, kept: tuple[str, ...]) -> str:
        filled = [i for i, text in enumerate(bank.slots, 1) if text is not None]
        kinds = ["NOOP"] + (["ADD"] if len(filled) < len(bank.slots) else []) + (["UPDATE", "DELETE"] if filled else [])
        kind = rng.choice(kinds)
        if kind in ("NOOP", "ADD"):
            return "<mem_noop></mem>" if kind == "NOOP" else "<mem_add></mem>"
        slot = rng.choice(filled)
        return f"<mem_update>{slot}</mem>" if kind == "UPDATE" else f"<mem_delete>{slot}</mem>"
    return manage


# --- the memory bank's task and environment ---------------------------------------------------------------
OPERATIONS = ("One operation per fact: <mem_add>text</mem>, <mem_update>i text</mem>, <mem_delete>i</mem> or "
              "<mem_noop></mem>; without text, ADD and UPDATE store the fact as it came.")
# What the manager is told will be asked: `asked="names"` shows the kept names (`Keep:`); `asked="jobs"` shows
# nothing, and every question is about a person's job while no distractor is a job, so what matters can be learned
# from the answers, as Memory-R1's manager learns it, instead of read.
INSTRUCTIONS = {"names": "You will be asked about the kept names. " + OPERATIONS,
                "jobs": "You will be asked about some of these facts at the end. " + OPERATIONS}


FACT_KINDS = ("new", "contradiction", "distractor")  # a kept name's first fact, a later one that changes it, any other


def fact_kinds(stream: list[Fact], kept: tuple[str, ...]) -> list[str]:
    """What each fact of a stream is, for the manager that keeps what will be asked: see FACT_KINDS."""
    seen: set[str] = set()
    kinds = []
    for fact in stream:
        kinds.append("distractor" if fact.entity not in kept else "contradiction" if fact.entity in seen else "new")
        seen.add(fact.entity)
    return kinds


def bank_view(kept: tuple[str, ...], bank: Bank, stream: list[Fact], position: int, asked: str = "names") -> str:
    keep = f"Keep: {', '.join(kept)}\n" if asked == "names" else ""
    return f"{keep}Bank:\n{bank.show()}\nFact {position + 1}/{len(stream)}: {stream[position].text}"


def _stream(rng: random.Random, split: str, stream_length: int, questions: int, updates: int,
            asked: str = "names") -> tuple[list[Fact], tuple[str, ...]]:
    """The facts, and the kept entities: each has one field, stated at a random turn and contradicted `updates`
    times later; every other turn a distractor, a true fact about an entity that is never asked about. The kept
    facts are as many at every length, so a longer stream only adds distractors between them. With asked="jobs"
    the kept entities are people, their field is the job, and no distractor is a job."""
    w = world.build_world()   # enough distinct distractors for any stream, all of the split's side
    if asked == "names":
        entities = rng.sample(in_split(w.countries + w.people, split), questions + stream_length)
        kept_words, distractor_words = None, None
    else:
        people = rng.sample(in_split(w.people, split), questions)
        others = rng.sample([e for e in in_split(w.countries + w.people, split) if e not in people], stream_length)
        entities, kept_words, distractor_words = people + others, ("job",), ("lives", "capital")
    kept, distractors = entities[:questions], iter(entities[questions:])
    mentions = [entity for entity in kept for _ in range(1 + updates)]
    rng.shuffle(mentions)
    mentioned = dict(zip(sorted(rng.sample(range(stream_length), len(mentions))), mentions))
    latest: dict[str, Fact] = {}
    stream = []
    for turn in range(stream_length):
        entity = mentioned.get(turn)
        if entity is None:
            fact = first_fact(rng, next(distractors), distractor_words)
        else:
            fact = (changed_fact(rng, latest[entity.name]) if entity.name in latest
                    else first_fact(rng, entity, kept_words))
            latest[entity.name] = fact
        stream.append(fact)
    return stream, tuple(e.name for e in kept)


@family("memory_bank", "A stream of facts, one a turn, kept in a bank of a few slots by ADD / UPDATE / DELETE / "
        "NOOP; questions about the kept names are answered from the bank at the end.", takes_split=True)
def memory_bank(rng: random.Random, split: str, stream_length: int = 8, bank_size: int = 4, questions: int = 2,
                updates: int = 1, asked: str = "names") -> Task:
    if not 1 <= questions <= bank_size <= MAX_SLOTS or not questions * (1 + updates) <= stream_length <= MAX_STREAM:
        raise ValueError(f"need 1 <= questions <= bank_size <= {MAX_SLOTS} and "
                         f"questions * (1 + updates) <= stream_length <= {MAX_STREAM}")
    if asked not in INSTRUCTIONS:
        raise ValueError(f"asked must be one of {sorted(INSTRUCTIONS)}, not {asked!r}")
    stream, kept = _stream(rng, split, stream_length, questions, updates, asked)
    bank, solution = Bank.empty(bank_size), []
    for position, fact in enumerate(stream):  # the oracle's operations and what each one shows next
        if position:
            solution.append(observation(bank_view(kept, bank, stream, position, asked)))
        operation = oracle_manager(bank, fact, kept)
        bank = apply(bank, parse_action(operation), position + 1, fact.text)
        solution.append(assistant(operation))
    questions_asked = [next(f for f in reversed(stream) if f.entity == name) for name in kept]
    info = {"stream": [f.text for f in stream], "kept": list(kept), "bank_size": bank_size, "asked": asked,
            "questions": [[f.entity, f.field] for f in questions_asked]}
    return Task("memory_bank", INSTRUCTIONS[asked] + "\n" + bank_view(kept, Bank.empty(bank_size), stream, 0, asked),
                "; ".join(f.value for f in questions_asked), tuple(solution),
                split_keys=tuple(dict.fromkeys(f.entity for f in stream)), info=info)


class MemoryBankEnv(TaskEnv):
    """A `memory_bank` stream per episode: one memory operation per fact, the answers read from the bank at the
    end. `info["show"]["bank"]` is the bank after each turn, for the viewer."""
    ACTION_KINDS = ("memory",)

    def __init__(self, split: str = "train", stream_length: int = 8, bank_size: int = 4, questions: int = 2,
                 updates: int = 1, asked: str = "names", turn_rewards: bool = False, max_turns: int | None = None,
                 render_mode: str | None = None):
        params = {"stream_length": stream_length, "bank_size": bank_size, "questions": questions, "updates": updates,
                  "asked": asked}
        super().__init__("memory_bank", split, max_turns or 2 * stream_length, render_mode, params)
        self.turn_limit = max_turns  # None: twice the stream's length, whichever stream a reset brings
        # turn_rewards: each valid operation is paid what it changed in `answerable()`, so the cost of keeping a
        # distractor over a kept fact lands on that operation; the payments add up to the share answered at the end
        self.turn_rewards = turn_rewards
        self.bank, self.position, self.stream, self.kept = Bank.empty(bank_size), 0, [], ()
        self.handled: tuple[str, str] | None = None  # the fact the last valid operation handled, and its kind
        self.right: float | None = None              # the share of questions answered, once the stream has ended

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed, options=options)
        self.bank, self.position = Bank.empty(self.task.info["bank_size"]), 0
        self.stream = [Fact(*text.split()) for text in self.task.info["stream"]]
        self.kept = tuple(self.task.info["kept"])
        self.handled, self.right = None, None
        self.max_turns = self.turn_limit or 2 * len(self.stream)
        return self.task.prompt, self.info()

    def view(self) -> str:
        return bank_view(self.kept, self.bank, self.stream, self.position, self.task.info["asked"])

    def answerable(self) -> float:
        """Φ: the share of questions the bank would answer right if the stream ended now, each against the latest
        value of its field among the facts handled so far (0 for a field not yet stated). After the last fact it is
        the episode's reward."""
        seen = {(f.entity, f.field): f.value for f in self.stream[:self.position]}
        questions = [tuple(q) for q in self.task.info["questions"]]
        return sum(q in seen and normalise(answer_from(self.bank, *q) or "") == normalise(seen[q])
                   for q in questions) / len(questions)

    def act(self, action: Action) -> tuple[str, float, bool]:
        before = self.answerable() if self.turn_rewards else 0.0
        try:
            self.bank = apply(self.bank, action, self.position + 1, self.stream[self.position].text)
        except InvalidOperation as e:
            return self.error(str(e)), -INVALID_PENALTY, False
        self.handled = (self.stream[self.position].text, fact_kinds(self.stream, self.kept)[self.position])
        self.position += 1
        if self.position < len(self.stream):
            return self.view(), (self.answerable() - before if self.turn_rewards else 0.0), False
        lines, right = [], 0
        for (entity, field), gold in zip(self.task.info["questions"], self.task.answer.split("; ")):
            given = answer_from(self.bank, entity, field)
            correct = given is not None and normalise(given) == normalise(gold)
            right += correct
            lines.append(f"{entity} {field}? {given or '(nothing)'}: {'right' if correct else 'wrong, ' + gold}")
        self.success, self.right = right == len(lines), right / len(lines)
        return "\n".join(lines), self.right - before, True

    def info(self) -> dict:
        handled = {"handled": self.handled[0], "kind": self.handled[1]} if self.handled else {}
        answers = {"answered": self.right} if self.right is not None else {}
        return super().info() | {"show": {"bank": self.bank.show(), **handled, **answers}}

    def error(self, message: str) -> str:  # any action without effect, malformed or refused by the bank
        self.handled = None
        return super().error(message) + "\n" + self.view()


def play(manager: Manager, tasks: list[Task]) -> list[float]:
    """Each task's reward when `manager` runs its bank: what a baseline scores."""
    env, rewards = MemoryBankEnv(), []
    for task in tasks:
        env.reset(options={"task": task})
        while True:
            _, _, terminated, truncated, _ = env.step(manager(env.bank, env.stream[env.position], env.kept))
            if terminated or truncated:
                rewards.append(env.right if terminated else 0.0)
                break
    return rewards


# --- notebook 11's setting: a bank of three slots, streams of 4 to 16 facts, a fresh context each turn -------------
# The manager sees only the latest observation (rollout's keep_history=False), which shows the whole bank: as a
# Memory-R1 manager is called once per fact with the memories it retrieved. (Kept in one growing context, the
# tiny model's character-level tokens would not fit its 1,024 positions: notebook 11 counts them.)
BANK_SIZE = 3
TRAIN_LENGTH = 8
TEST_LENGTHS = (4, 8, 12, 16)
FIFO_SHARE = 0.5             # of the warm start's demonstrated decisions, FIFO's; the oracle's the rest
MAX_NEW_TOKENS = 48          # the short forms take 3 to 5 tokens; with its own text an operation takes up to 46
WARM_START = Path(__file__).resolve().parent.parent / "data" / "memory-warm"
JOBS_WARM_START = WARM_START.parent / "memory-jobs-warm"   # the same recipe on asked="jobs" streams


def demonstrations(stream_length: int, seed: int, rng: random.Random, fifo_share: float = FIFO_SHARE,
                   asked: str = "names") -> list[list[dict]]:
    """One train-split stream played by `mixed_manager`, as the single-turn conversations a fresh-context agent has:
    what the environment showed (the prompt, then each later observation) and the operation written."""
    env = MemoryBankEnv("train", stream_length=stream_length, bank_size=BANK_SIZE, asked=asked)
    observation, _ = env.reset(seed=seed)
    manage, out = mixed_manager(rng, fifo_share), []
    while True:
        operation = manage(env.bank, env.stream[env.position], env.kept)
        out.append([{"role": "user", "content": observation}, assistant(operation)])
        observation, _, terminated, truncated, _ = env.step(operation)
        if terminated or truncated:
            return out


def held_out_streams(stream_length: int, n: int, bank_size: int = BANK_SIZE, asked: str = "names") -> list[Task]:
    """The n test-split streams every manager of notebook 11 is scored on at this length (seeds 100,000...), for a
    bank of `bank_size` slots, told or not what will be asked (`asked`, `MemoryBankEnv`)."""
    return sample_tasks("memory_bank", n, seed=100_000 + stream_length, split="test", stream_length=stream_length,
                        bank_size=bank_size, asked=asked)


def play_model(model, tokenizer, tasks: list[Task], temperature: float = 1.0, seed: int = 0) -> list:
    """The model manages each task's bank from a fresh context each turn; returns the trajectories."""
    from agentic_lab.rollout import rollout  # the engine imports torch: not needed to play the baselines
    return rollout(model, tokenizer, [MemoryBankEnv(bank_size=BANK_SIZE) for _ in tasks], [None] * len(tasks),
                   options=[{"task": task} for task in tasks], temperature=temperature,
                   max_new_tokens=MAX_NEW_TOKENS, seed=seed, keep_history=False)


def play_lengths(model, tokenizer, streams: dict[int, list[Task]]) -> dict[int, tuple[list[float], dict]]:
    """The model manages each length's streams (`play_model`): per length, each stream's share of questions
    answered and the length's `bank_report` row."""
    out = {}
    for n, tasks in streams.items():
        episodes = play_model(model, tokenizer, tasks)
        out[n] = ([answered(t) for t in episodes], bank_report(episodes)[str(n)])
    return out


def answered(trajectory) -> float:
    """The share of questions the bank answered right at the end of an episode; 0 if the stream was not finished."""
    return trajectory.turns[-1].show.get("answered", 0.0)


def bank_report(trajectories) -> dict[str, dict]:
    """By stream length: n, reward (the share of questions right) and success, each ± standard error, the share of
    turns whose operation the bank refused or could not parse, and what each kind of fact got (FACT_KINDS): the
    share of them answered with each operation."""
    rows = {}
    for length in sorted({len(t.info["stream"]) for t in trajectories}):
        group = [t for t in trajectories if len(t.info["stream"]) == length]
        success, success_se = success_rate(group)
        rewards = [answered(t) for t in group]
        turns = [turn for t in group for turn in t.turns]
        operations = {kind: Counter(turn.action.operation for turn in turns if turn.show.get("kind") == kind)
                      for kind in FACT_KINDS}
        rows[str(length)] = {
            "n": len(group), "reward": mean(rewards),
            "reward_se": stdev(rewards) / len(rewards) ** 0.5 if len(rewards) > 1 else 0.0,
            "success": success, "success_se": success_se,
            "invalid": sum("kind" not in turn.show for turn in turns) / len(turns),
            **{f"{kind}_{op.lower()}": counts[op] / max(sum(counts.values()), 1)
               for kind, counts in operations.items() for op in ("ADD", "UPDATE", "DELETE", "NOOP")}}
    return rows


# --- the rewritten state (MEM1) --------------------------------------------------------------------
MAX_STATE_CHARS = 200  # the state repeated in every observation: k = 16 jobs take at most 143
OBJECTIVES = (2, 4, 8, 16)  # RL trains with 2; tested at 2, 4, 8 and 16 (notebook 11)
STATE_MAX_NEW_TOKENS = 192  # the longest message, at 16 objectives: a state of 15 jobs and a call, up to 189 tokens
MEM1_WARM_START = Path(__file__).resolve().parent.parent / "data" / "mem1-warm"


def _no_episode(objective: int) -> str:
    raise ToolError("lookup by objective needs an episode (MemoryStateEnv)")


# The task's own lookup: by the objective's number, so an agent never copies a name it has not seen letter by letter
# (the tiny model, which reads a character a token, miscopies them: a first warm start that looked names up scored
# 0.05 of objectives at k = 2). Each MemoryStateEnv binds it to its episode's objectives.
OBJECTIVE_LOOKUP = Tool("lookup", "Look up the job of one person you are asked about.",
                        {"objective": (int, "the person's number in the Find list, from 1")}, _no_episode)


def answers_right(task: Task, predicted: str) -> list[bool]:
    """Whether each of the task's answers (";"-separated, in order) is matched by `predicted`'s."""
    given = predicted.split(";")
    return [i < len(given) and normalise(given[i]) == normalise(gold) for i, gold in enumerate(task.answer.split("; "))]


def all_answers_right(task: Task, predicted: str) -> bool:
    return all(answers_right(task, predicted))


def find_line(names: list[str]) -> str:
    return "Find: " + "; ".join(f"{i} {name}" for i, name in enumerate(names, 1))


def state_view(names: list[str], state: str) -> str:
    return f"State: {state}\n{find_line(names)}"


@family("memory_state", "Find k people's jobs with lookup, keeping them in a rewritten <state>; answer all k.",
        tools=(OBJECTIVE_LOOKUP,), check=all_answers_right, takes_split=True)
def memory_state(rng: random.Random, split: str, objectives: int = 2) -> Task:
    if not 1 <= objectives <= max(OBJECTIVES):
        raise ValueError(f"objectives must be 1 to {max(OBJECTIVES)}")
    people = rng.sample(in_split(world.build_world().people, split), objectives)
    names, jobs = [p.name for p in people], [p.job for p in people]
    prompt = (f"{find_line(names)}. Look up each one's job; each turn, write <state>the jobs found</state> first, "
              "for only your latest state is kept. Then answer all, in order, separated by ';'.")
    solution = []
    for i, job in enumerate(jobs):
        state = "; ".join(jobs[:i])
        solution += [assistant(f"<state>{state}</state>", tool="lookup", objective=i + 1),
                     observation(f"Result: {job}\n" + state_view(names, state))]
    found = "; ".join(jobs)
    solution.append(answer(found))
    return Task("memory_state", prompt, found, tuple(solution), tools=("lookup",), split_keys=tuple(names),
                info={"objectives": names})


class MemoryStateEnv(TaskEnv):
    """A `memory_state` task per episode: look up, keep a <state>, answer all objectives; reward: the share right.
    self_contained=True: each observation repeats the latest state and the objectives after the result."""

    def __init__(self, split: str = "train", objectives: int = 2, self_contained: bool = True,
                 max_turns: int | None = None, render_mode: str | None = None):
        super().__init__("memory_state", split, max_turns or 2 * objectives + 2, render_mode,
                         {"objectives": objectives})
        self.tools = {"lookup": replace(OBJECTIVE_LOOKUP, function=self.look_up)}
        self.self_contained, self.state = self_contained, ""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.state = ""
        return super().reset(seed=seed, options=options)

    def look_up(self, objective: int) -> str:
        names = self.task.info["objectives"]
        if not 1 <= objective <= len(names):
            raise ToolError(f"objective must be 1 to {len(names)}")
        return world.fact_table()[names[objective - 1].lower()]["job"]

    def view(self) -> str:
        return state_view(self.task.info["objectives"], self.state)

    def error(self, message: str) -> str:
        return super().error(message) + ("\n" + self.view() if self.self_contained else "")

    def act(self, action: Action) -> tuple[str, float, bool]:
        self.state = printable(action.state or "", MAX_STATE_CHARS)  # a message without a state keeps none
        if action.kind == "answer":
            right = answers_right(self.task, action.answer)
            self.success = all(right)
            return f"{sum(right)} of {len(right)} right.", sum(right) / len(right), True
        result = call_tool(action.tool, action.arguments, self.tools)
        if not result.startswith("Error:"):  # an error stays first: it costs the penalty (TextEnv.step)
            result = f"Result: {result}"
        return (result + "\n" + self.view() if self.self_contained else result), 0.0, False

    def info(self) -> dict:
        return super().info() | {"show": {"state": self.state}}


DEMO_OBJECTIVES = 3  # the warm start's demonstrations, both ways: 1 to 3 objectives, so that 4, 8 and 16 are
                     # beyond anything either agent was shown (a whole episode of 6 would take about 1,024 tokens)


def state_demonstrations(n: int, seed: int = 0) -> list[tuple[list[dict], list[dict]]]:
    """n train-split demonstrations of `memory_state` tasks (messages, tool schemas), the same messages in the two
    ways an agent can see them, alternately: MEM1's, one single-turn conversation per turn whose user message is the
    self-contained observation (the last result, the latest state, the objectives); and the full-context agent's,
    the whole conversation with each observation the bare result. Both see 1 to DEMO_OBJECTIVES objectives and
    write the <state>; the difference is only what stays in the context."""
    rng, out, k = random.Random(seed), [], 0
    while len(out) < n:
        mem1 = k % 2 == 0
        objectives = rng.randint(1, DEMO_OBJECTIVES)
        task = sample_tasks("memory_state", 1, seed=seed * 1_000_003 + k, split="train", objectives=objectives)[0]
        out += [(conversation, task.tool_schemas()) for conversation in seen_by(task, mem1)]
        k += 1
    return out[:n]


def seen_by(task: Task, mem1: bool) -> list[list[dict]]:
    """A `memory_state` task's reference solution as each agent holds it: MEM1, one conversation per turn,
    [observation_t, message_t] (each observation self-contained); the full-context agent, one whole conversation
    whose observations are the bare results."""
    if mem1:
        shown = [task.prompt] + [m["content"] for m in task.solution if m["role"] == "tool"]
        messages = [m for m in task.solution if m["role"] == "assistant"]
        return [[{"role": "user", "content": o}, m] for o, m in zip(shown, messages)]
    bare = [observation(m["content"].split("\n")[0]) if m["role"] == "tool" else m for m in task.solution]
    return [task.messages() + bare]


def play_state(model, tokenizer, objectives: int, n: int, mem1: bool, temperature: float = 1.0, seed: int = 0) -> list:
    """n held-out `memory_state` tasks of k objectives (seeds 100,000...; the same tasks for every model and both
    agents): MEM1's way (self-contained observations, a fresh context each turn) or the full-context agent's (bare
    results, one growing context). Returns the trajectories."""
    from agentic_lab.rollout import rollout
    envs = [MemoryStateEnv(split="test", objectives=objectives, self_contained=mem1) for _ in range(n)]
    return rollout(model, tokenizer, envs, [100_000 + i for i in range(n)], temperature=temperature,
                   max_new_tokens=STATE_MAX_NEW_TOKENS, seed=seed, keep_history=not mem1)


def peak_context(trajectory) -> int:
    """The most tokens the model had in its context at once in this episode: the whole conversation up to its last
    message (the observation after it is never read), or with a fresh context each turn, the longest turn's
    [context | message]."""
    from agentic_lab.trajectory import split_contexts
    def read(row) -> int:  # up to the last token the model wrote
        return max((i + 1 for i, m in enumerate(row.loss_mask) if m), default=len(row.token_ids))
    return max(read(row) for row in split_contexts(trajectory))


def objectives_right(trajectory) -> float:
    """The share of objectives the episode's answer got right; 0 if it never answered (penalties left out)."""
    last = trajectory.turns[-1] if trajectory.turns else None
    return last.reward if last is not None and last.done and last.action.kind == "answer" else 0.0


def state_report(trajectories) -> dict[str, dict]:
    """By number of objectives: n, reward (the share of objectives answered right) and success, ± standard error,
    the mean and largest peak context in tokens, and the share of episodes cut off because the context was full."""
    rows = {}
    for k in sorted({len(t.info["objectives"]) for t in trajectories}):
        group = [t for t in trajectories if len(t.info["objectives"]) == k]
        rewards = [objectives_right(t) for t in group]
        success, success_se = success_rate(group)
        peaks = [peak_context(t) for t in group]
        rows[str(k)] = {"n": len(group), "reward": mean(rewards),
                        "reward_se": stdev(rewards) / len(rewards) ** 0.5 if len(rewards) > 1 else 0.0,
                        "success": success, "success_se": success_se, "peak_context_mean": mean(peaks),
                        "peak_context_max": max(peaks),
                        "context_full": sum("context_full" in t.info for t in group) / len(group)}
    return rows
