"""A tiny fictional world: countries and people, written as short notes that the `search` tool finds.

Each entity has more facts than its note shows (when a country was founded, where and when a person was
born): the note is what the tiny model was trained to read; the full table is what the `lookup` tool and
the search agent's corpus (`agentic_lab.search`) are built from.

The names are invented, so the model cannot know a fact before it looks it up; held-out questions
ask about entities whose notes never appeared in training (see `tasks.search_qa`). The world is a
pure function of its seed: the same notes on every machine, no data file to ship.
"""
from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from functools import lru_cache

SEED = 1234
N_COUNTRIES, N_PEOPLE = 300, 1200  # big enough that answering from memory fails: search must be copied
JOBS = ["baker", "smith", "farmer", "sailor", "painter", "doctor", "teacher", "miner", "weaver", "singer"]
_ONSETS = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "st", "tr"]
_VOWELS = ["a", "e", "i", "o", "u"]


# How each fact is asked, for a country (the first four) or a person (the last four).
FACT_QUESTIONS = {"capital": "What is the capital of {}?", "river": "Which river flows through {}?",
                  "language": "What language is spoken in {}?", "founded": "In which year was {} founded?",
                  "country": "In which country does {} live?", "job": "What is the job of {}?",
                  "born_in": "In which country was {} born?", "born": "In which year was {} born?"}


@dataclass(frozen=True)
class Country:
    name: str
    capital: str
    river: str
    language: str
    founded: int  # a year

    def note(self) -> str:
        return f"{self.name}: capital {self.capital}; river {self.river}; language {self.language}."


@dataclass(frozen=True)
class Person:
    name: str
    country: str   # where the person lives
    job: str
    born_in: str   # a country
    born: int      # a year

    def note(self) -> str:
        return f"{self.name}: lives in {self.country}; job {self.job}."


@dataclass(frozen=True)
class World:
    countries: tuple[Country, ...]
    people: tuple[Person, ...]

    def notes(self) -> dict[str, str]:
        """title (lower case) -> note text."""
        return {e.name.lower(): e.note() for e in self.countries + self.people}


def random_name(rng: random.Random, syllables: tuple[int, int] = (1, 3)) -> str:
    """An invented name such as 'Kalabu': consonant-vowel syllables, capitalised."""
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(rng.randint(*syllables))).capitalize()


def _names(rng: random.Random, n: int, syllables: tuple[int, int], taken: set[str]) -> list[str]:
    out = []
    while len(out) < n:
        name = random_name(rng, syllables)
        if name not in taken:
            taken.add(name)
            out.append(name)
    return out


@lru_cache(maxsize=1)
def build_world(seed: int = SEED) -> World:
    rng = random.Random(seed)
    taken: set[str] = set()
    names = _names(rng, N_COUNTRIES, (2, 3), taken)
    capitals, rivers = _names(rng, N_COUNTRIES, (2, 2), taken), _names(rng, N_COUNTRIES, (1, 2), taken)
    languages = _names(rng, N_COUNTRIES, (1, 2), taken)
    homes = [(name, rng.choice(names), rng.choice(JOBS)) for name in _names(rng, N_PEOPLE, (2, 2), taken)]
    # The facts added later come from their own generator, so the first ones (and the notes) never change.
    more = random.Random(f"{seed}/more facts")
    countries = tuple(Country(*fields, founded=more.randint(1000, 1899))
                      for fields in zip(names, capitals, rivers, languages))
    people = tuple(Person(*home, born_in=more.choice(names), born=more.randint(1900, 1999)) for home in homes)
    return World(countries, people)


@lru_cache(maxsize=1)
def fact_table(seed: int = SEED) -> dict[str, dict[str, str]]:
    """name (lower case) -> every field of the entity but its name, as text: what the `lookup` tool reads."""
    w = build_world(seed)
    return {e.name.lower(): {k: str(v) for k, v in asdict(e).items() if k != "name"} for e in w.countries + w.people}


def search(query: str) -> str:
    """Exact title match first, then the note sharing the most words with the query."""
    notes = build_world().notes()
    words = re.findall(r"[a-z]+", query.lower())[:16]
    for word in words:
        if word in notes:
            return notes[word]
    scored = [(sum(w in note.lower() for w in words), title) for title, note in notes.items()]
    best, title = max(scored, default=(0, ""))
    return notes[title] if best > 0 else f"No note found for {query[:40]!r}."
