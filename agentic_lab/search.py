"""Search agents (notebook 10): a corpus about the fictional world, a BM25 retriever, questions, an environment.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/SearchAgent-v0")        # also k=..., retriever="random" or "empty"
    observation, info = env.reset(seed=0)               # "In which country does Keso live?"
    env.step('<tool_call>{"name": "search", "arguments": {"query": "Keso lives"}}</tool_call>')
    # -> "[1] Dradabu is where Keso lives.\n[2] Keso was born in Brubru.\n[3] Keso has a job as a miner."
    #    with info["retrieved"] = [[4, 32], [37, 61], [66, 92]]

The corpus states every fact of the world (`world.build_world`, four facts per country and per person) as
one short document each, in one of two phrasings, plus look-alike entities (names one vowel away from a
real one, e.g. Gafudo next to Gafuda) whose facts are other entities' values: 7,200 documents, a pure
function of the seed. Far too many to memorise at the tiny model's scale, so answers must be looked up.

The retriever is BM25 from `bm25s` (chosen over `rank-bm25` by `benchmarks/retriever.py`: same recall,
much faster), behind one function, `search(query, k)`. The agent's tool is `search(query)` in the one
declaration format of `agentic_lab.tools`; k is the environment's setting, not the agent's, so that a
notebook controls how long the retrieved block is, and the call has the shape the tiny model already
writes for the `search_qa` family. Its observation lists the top-k documents, "[i] text" a line.

Questions (family `search_agent`): single-hop ("In which year was Zibo born?": one document answers it)
and two-hop ("What is the capital of the country where Zibo lives?": the second query needs the first
answer). Train and test are split by entity as in `tasks.search_qa`: a test question always involves a
held-out entity, and no training question involves one. The family registers when this module is imported
(gym.make of the environment imports it), not with `agentic_lab.tasks`, whose families are the tiny model's.

The environment's `info["retrieved"]` gives the character spans of the observation that are corpus text
(not the "[i] " markers, not error messages), so a trainer can find the retrieved tokens and mask them out
of the loss, or leave them in.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Literal

import bm25s
import numpy as np

from agentic_lab import world
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import success_rate
from agentic_lab.tasks import Task, answer, assistant, family, observation
from agentic_lab.tools import Tool, ToolError
from agentic_lab.trajectory import Trajectory

# --- the corpus -----------------------------------------------------------------------------------
SEED = 17
N_LOOKALIKES = 300  # distractor entities, a fifth of the real ones
COUNTRY_FACTS = ("capital", "river", "language", "founded")
PERSON_FACTS = ("country", "job", "born_in", "born")
# Two phrasings of each fact; both keep the fact's keywords (the words an expert's query uses).
PHRASINGS = {
    "capital": ("The capital of {e} is {v}.", "{v} is the capital city of {e}."),
    "river": ("The river {v} flows through {e}.", "{e} lies on the river {v}."),
    "language": ("People in {e} speak the {v} language.", "The language of {e} is {v}."),
    "founded": ("{e} was founded in {v}.", "The country {e} was founded in the year {v}."),
    "country": ("{e} lives in {v}.", "{v} is where {e} lives."),
    "job": ("The job of {e} is {v}.", "{e} has a job as a {v}."),
    "born_in": ("{e} was born in {v}.", "{v} is where {e} was born."),
    "born": ("{e} was born in the year {v}.", "In the year {v}, {e} was born."),
}
KEYWORDS = {"capital": "capital", "river": "river", "language": "language", "founded": "founded",
            "country": "lives", "job": "job", "born_in": "born", "born": "born year"}


@dataclass(frozen=True)
class Document:
    id: int
    entity: str  # the entity it is about
    fact: str    # the field it states
    text: str


def _lookalike(rng: random.Random, name: str, taken: set[str]) -> str | None:
    """`name` with one vowel changed, if that is not already somebody's name."""
    vowels = [i for i, c in enumerate(name) if c in "aeiou"]
    i = rng.choice(vowels)
    candidate = name[:i] + rng.choice([v for v in "aeiou" if v != name[i]]) + name[i + 1:]
    return None if candidate in taken else candidate


@cache  # per seed (lru_cache(1) would key f() and f(seed) apart and rebuild on every switch)
def build_corpus(seed: int = SEED) -> tuple[Document, ...]:
    """Every fact of the world as a document, plus look-alikes' documents, shuffled; ids are positions."""
    rng = random.Random(seed)
    w = world.build_world()
    facts = world.fact_table()  # name (lower) -> {field: value}
    kinds = [[e.name for e in w.countries], [p.name for p in w.people]]
    entities = {name: facts[name.lower()] for names in kinds for name in names}
    taken = {v for e in w.countries for v in (e.name, e.capital, e.river, e.language)} | set(entities)
    lookalikes: dict[str, dict[str, str]] = {}
    while len(lookalikes) < N_LOOKALIKES:
        names = rng.choice(kinds)
        name = _lookalike(rng, rng.choice(names), taken)
        if name is not None:
            taken.add(name)
            # Each field's value is another real entity's: right-looking answers to the wrong question.
            lookalikes[name] = {f: entities[rng.choice(names)][f] for f in entities[names[0]]}
    statements = [(name, fact, rng.choice(PHRASINGS[fact]).format(e=name, v=value))
                  for name, fields in (entities | lookalikes).items() for fact, value in fields.items()]
    rng.shuffle(statements)
    return tuple(Document(i, *statement) for i, statement in enumerate(statements))


@cache
def gold_documents(seed: int = SEED) -> dict[tuple[str, str], Document]:
    """(entity, fact) -> the document that states it."""
    return {(d.entity, d.fact): d for d in build_corpus(seed)}


# --- the retriever --------------------------------------------------------------------------------
K = 3      # documents per search: about 100 tokens (a tenth of the tiny model's context), the agent's call 60
MAX_K = 8
STOPWORDS = frozenset("a an and as at by for from has in is it its of on or the their there this to was were "
                      "what when where which who whom why with does did do how".split())
MAX_QUERY_WORDS = 32


def tokenize(text: str) -> list[str]:
    """Lower-case words and numbers, without stop words: the same for documents and queries."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS]


@cache
def build_index(seed: int = SEED) -> bm25s.BM25:
    index = bm25s.BM25()  # Lucene's BM25, k1 = 1.5, b = 0.75
    index.index([tokenize(d.text) for d in build_corpus(seed)], show_progress=False)
    return index


def query_words(query: str) -> list[str]:
    words = tokenize(query)[:MAX_QUERY_WORDS]
    if not words:
        raise ToolError("the query has no words to search for")
    return words


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """The indices of the k largest scores, best first, ties broken by the lower index.

    Not `BM25.retrieve`: its top-k (numpy's argpartition, then argsort) orders tied scores differently on
    CPUs with different SIMD instructions, and ties are common here (look-alike documents share words), so
    the same query returned different documents on different machines. A stable sort of all 7,200 scores
    costs about 0.2 ms."""
    return np.argsort(-scores, kind="stable")[:k].tolist()


def search(query: str, k: int = K) -> list[Document]:
    """The k best documents for `query` by BM25, best first; only documents sharing a word with it."""
    scores = build_index().get_scores(query_words(query))  # (documents,) float32
    corpus = build_corpus()
    return [corpus[i] for i in top_k(scores, k) if scores[i] > 0]


# --- the tool and its observation -----------------------------------------------------------------
_RESULT_LINE = re.compile(r"^\[\d+\] (.+)$", re.MULTILINE)


def format_results(documents: list[Document]) -> str:
    if not documents:
        return "No documents found."
    return "\n".join(f"[{i}] {d.text}" for i, d in enumerate(documents, 1))


def retrieved_spans(observation: str) -> list[list[int]]:
    """[start, end) of each document's text in an observation made by `format_results` (none in an error)."""
    return [list(m.span(1)) for m in _RESULT_LINE.finditer(observation)]


Retriever = Literal["bm25", "random", "empty"]


def search_tool(k: int = K, retriever: Retriever = "bm25", rng: random.Random | None = None) -> Tool:
    """The agent's `search(query)`: BM25's top k, or the controls of notebook 10, k documents drawn at random
    by `rng` (whatever the query) or none at all. One declaration: only the function differs."""
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be 1..{MAX_K}")
    rng = rng or random.Random(SEED)

    def find(query: str) -> list[Document]:
        query_words(query)  # a query with no words is the agent's error under every retriever
        if retriever == "random":
            return rng.sample(build_corpus(), k)
        return [] if retriever == "empty" else search(query, k)

    return replace(SEARCH, function=lambda query: format_results(find(query)))


SEARCH = Tool("search", "Search the encyclopedia; returns the best matching documents.",
              {"query": (str, "a few words, e.g. a name and what you want to know")},
              lambda query: format_results(search(query, K)))


# --- the questions --------------------------------------------------------------------------------
# Two-hop questions go through a person's country (where they live or were born) to one of its facts.
RELATIONS = {"country": "lives", "born_in": "was born"}


def expert_query(entity: str, fact: str) -> str:
    return f"{entity} {KEYWORDS[fact]}"


def _hop(entity: str, fact: str) -> tuple[dict, dict]:
    """The search an expert makes for one fact, and what comes back."""
    query = expert_query(entity, fact)
    return assistant(tool="search", query=query), observation(format_results(search(query, K)))


@family("search_agent", "Single- and two-hop questions about the world, answered by searching a 7,200-document "
        "corpus with BM25.", tools=(SEARCH,))
def search_agent(rng: random.Random) -> Task:
    w = world.build_world()
    facts = world.fact_table()
    if rng.random() < 0.5:
        entity = rng.choice(w.countries + w.people)
        fact = rng.choice(COUNTRY_FACTS if isinstance(entity, world.Country) else PERSON_FACTS)
        hops = [(entity.name, fact)]
        prompt = world.FACT_QUESTIONS[fact].format(entity.name)
    else:
        person, relation, fact = rng.choice(w.people), rng.choice(list(RELATIONS)), rng.choice(COUNTRY_FACTS)
        hops = [(person.name, relation), (getattr(person, relation), fact)]
        prompt = world.FACT_QUESTIONS[fact].format(f"the country where {person.name} {RELATIONS[relation]}")
    gold = facts[hops[-1][0].lower()][hops[-1][1]]
    steps = tuple(message for hop in hops for message in _hop(*hop))
    info = {"hops": len(hops), "gold_documents": [gold_documents()[hop].id for hop in hops]}
    return Task("search_agent", prompt, gold, steps + (answer(gold),), tools=("search",),
                split_keys=tuple(entity for entity, _ in hops), info=info)


# --- the warm start and what the agent did -------------------------------------------------------
WARM_START = Path(__file__).resolve().parent.parent / "data" / "searchagent-warm"
SEARCH_SHARE = 0.8  # the warm start's demonstrations search on this share of the questions


def demonstration(task: Task, rng: random.Random, search_share: float = SEARCH_SHARE) -> list[dict]:
    """A warm-start episode for `task`: with probability `search_share` the expert's (one search per hop, then the
    answer), otherwise the answer at once, as if known. The gold answer is written either way, so a model that
    imitates the second kind learns to guess, and guesses wrong about entities it never saw: whether searching
    pays is left to RL, as calling a tool is in notebook 08. Too many guesses and the model answers from memory
    after a search too (a first warm start, with half of each, got 4 of 300 held-out questions right)."""
    if rng.random() < search_share:
        return task.conversation()
    return task.messages() + [answer(task.answer)]


def search_report(trajectories: list[Trajectory]) -> dict[str, dict]:
    """By hops ("1", "2", "all"): n, exact match ± SE, the share of questions with at least one search, searches
    per question, and the share whose last hop's gold document was ever retrieved (the answer was on the page)."""
    corpus, report = build_corpus(), {}
    for kind in ("1", "2", "all"):
        episodes = [t for t in trajectories if kind in ("all", str(t.info["hops"]))]
        if not episodes:
            continue
        searches = [len(t.tool_calls) for t in episodes]
        found = [any(corpus[t.info["gold_documents"][-1]].text in (turn.result or "") for turn in t.tool_calls)
                 for t in episodes]
        p, se = success_rate(episodes)
        report[kind] = {"n": len(episodes), "exact_match": p, "stderr": se,
                        "search_rate": sum(s > 0 for s in searches) / len(episodes),
                        "searches": sum(searches) / len(episodes), "gold_retrieved": sum(found) / len(episodes)}
    return report


# --- the environment ------------------------------------------------------------------------------
class SearchAgentEnv(TaskEnv):
    """A `search_agent` question per episode: search (k documents a call), then answer; reward 1 if right.
    `info["retrieved"]`: the [start, end) character spans of the last observation that are corpus text."""

    def __init__(self, split: str = "train", k: int = K, retriever: Retriever = "bm25", max_turns: int = 5,
                 render_mode: str | None = None):
        super().__init__("search_agent", split, max_turns, render_mode)
        self.rng = random.Random()  # the random retriever's draws, reseeded with the episode
        self.tools = {"search": search_tool(k, retriever, self.rng)}
        self.retrieved: list[list[int]] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.retrieved = []
        observation, info = super().reset(seed=seed, options=options)
        self.rng.seed(int(self.np_random.integers(2**31)))
        return observation, info

    def step(self, action: str):
        self.retrieved = []  # an invalid action never reaches `act`
        return super().step(action)

    def act(self, action):
        observation, reward, terminated = super().act(action)
        if action.kind == "tool_call":
            self.retrieved = retrieved_spans(observation)
        return observation, reward, terminated

    def info(self) -> dict:
        return super().info() | {"retrieved": self.retrieved}

