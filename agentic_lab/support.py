"""Inside and outside what a model samples (notebook 18): expressions of forms the calculator family never shows.

The calculator family (agentic_lab.tasks) writes four forms, a*b, a*b+c, a*b-c and (a+c)*b, with a of 2 or 3 digits
and b of 2. The tiny model learned to copy them into a `calc` call, and RL makes that call a habit (notebooks 06,
18, 19). `new_expressions` asks for the same operations in forms it never read, `template`:

    a*b*c          three 2-digit factors                 12*34*56
    (a+b)*(c+d)    two sums multiplied                   (12+34)*(56+78)
    a*b+c*d        two products added                    12*34+56*78
    abc*def        two 3-digit factors (b had 2 digits)  123*456

Copying the question into `calc` answers every one of them, and the base model samples that copy almost never: it
writes the call in one of its own forms instead (12*34*56 becomes "12*34+56"). The forms are outside what the base
model samples, which is what notebook 18 needs: the place to ask whether RL reaches past it.

`long_values` is the other side: a skill the base model has, repeated more times than it ever did. The copy
family's records hold values of at most 40 characters; here one record, in the copy family's form, holds a value of
`length` characters among two short ones, and the question asks for the long one. The base model copies 40
characters often, 64 rarely and 88 never in 256 samples: each character is a chance to slip (or to answer with a
short field instead), and a long copy multiplies the chances. RL on the lengths it rarely gets right can lower that
per-character error, and lengths it never got right come within reach.
"""
from __future__ import annotations

import random

from agentic_lab.tasks import (FIELD_WORDS, STRING_KINDS, Task, answer, assistant, family, number_with_digits,
                               observation, unseen_string)


def _two(rng: random.Random) -> int:
    return number_with_digits(rng, 2)


TEMPLATES = {
    "a*b*c": lambda rng: f"{_two(rng)}*{_two(rng)}*{_two(rng)}",
    "(a+b)*(c+d)": lambda rng: f"({_two(rng)}+{_two(rng)})*({_two(rng)}+{_two(rng)})",
    "a*b+c*d": lambda rng: f"{_two(rng)}*{_two(rng)}+{_two(rng)}*{_two(rng)}",
    "abc*def": lambda rng: f"{number_with_digits(rng, 3)}*{number_with_digits(rng, 3)}",
}


@family("new_expressions", "Evaluate an expression in a form the calculator family never shows (`template`); "
        "calling calc on the whole expression gets it right.", tools=("calc",))
def new_expressions(rng: random.Random, template: str = "a*b*c") -> Task:
    if template not in TEMPLATES:
        raise ValueError(f"template must be one of {list(TEMPLATES)}, not {template!r}")
    expr = TEMPLATES[template](rng)
    result = str(eval(expr))  # our own template of integers, never model text
    return Task("new_expressions", f"What is {expr}?", result,
                (assistant(tool="calc", expr=expr), observation(result), answer(result)), tools=("calc",),
                info={"template": template, "expr": expr})


SHORT_VALUES = (2, 12)   # the record's two other fields: as long as the copy family's shorter values


@family("long_values", "Copy the value of `length` characters (one length, or a tuple to draw from) from a record "
        "in the prompt; the copy family's values have at most 40.")
def long_values(rng: random.Random, length: int | tuple[int, ...] = 64) -> Task:
    length = rng.choice(length) if isinstance(length, tuple) else length
    key = unseen_string(rng, rng.choice(STRING_KINDS), rng.randint(4, 10))
    asked, *others = rng.sample(FIELD_WORDS, 3)
    values = {asked: unseen_string(rng, rng.choice(STRING_KINDS), length)}
    values |= {field: unseen_string(rng, rng.choice(STRING_KINDS), rng.randint(*SHORT_VALUES)) for field in others}
    fields = rng.sample(list(values), 3)                       # the long value anywhere in the record
    note = f"{key}: " + "; ".join(f"{field} {values[field]}" for field in fields) + "."
    return Task("long_values", f"Records:\n{note}\nWhat is the {asked} of {key}?", values[asked],
                (answer(values[asked]),), split_keys=(key,), info={"length": length})
