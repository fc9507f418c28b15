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
"""
from __future__ import annotations

import random

from agentic_lab.tasks import Task, answer, assistant, family, number_with_digits, observation


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
