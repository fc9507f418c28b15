"""Math (notebook 15): answers checked by a symbolic verifier, labels voted by the model itself, proofs checked step
by step.

    import gymnasium as gym, agentic_lab.envs
    env = gym.make("agentic_lab/Fractions-v0")            # answer a/b + c/d; SymPy decides if the answer is right
    env = gym.make("agentic_lab/Prove-v0")                # prove an identity one rewrite at a time, with the rw tool

**Informal math.** The answer to "What is 1/4 + 1/6?" can be written 5/12, 10/24 or 0.41666...; "Expand (x+2)(x+3)"
has x^2+5x+6, 6+5x+x^2 and x^2+2x+3x+6. String match calls all but one of them wrong. `verify(answer, gold)` asks
SymPy instead: it parses both, and they are equal if their difference cancels to zero. Whatever the model wrote, the
verdict is one of VERDICTS, never an exception and never a hang: text that is too long, has characters an answer
cannot have, nests too deep or raises to a power too large is "unparseable" before SymPy sees it (SymPy's parser
evaluates Python, and 9^9^9 alone would run for hours), and what is left runs under a time limit ("timeout").

**Labels from votes (TTRL).** With no answer key, the answers a model samples for one question can vote: the answer
most of them agree on (by the verifier, so 5/12 and 10/24 are one vote) is the pseudo-label, and agreeing with it
is the reward (`majority_answer`).

**A toy formal prover.** A goal is an identity between terms of a tiny algebra (variables, 0, 1, + and *), and a
proof is a sequence of rewrites with named rules, as Lean's `rw` does: `rw add_zero` finds the first place the rule's
left side matches (reading the goal left to right, outermost first), and replaces every copy of that instance by the
right side; `<-add_assoc` uses the rule right to left. The goal closes when both sides are the same term. The checker
(`rewrite`) is the whole trusted kernel: a proof is right if the checker closes the goal, whoever wrote it.
`shortest_proof` searches for one breadth first, to make theorems of a set difficulty and the warm start's proofs.
`play_theorems` plays k tries of each of many theorems (pass@k), and `expert_iteration_round` trains a prover on the
kernel's verdict alone: try proofs, keep the ones the kernel accepts, fine-tune on them.

Families register when this module is imported (gym.make of its environments imports it), as in
`agentic_lab.coding`. Held out: a fraction sum by the question and by its pair of denominators (`pairs="seen"` or
`"new"` picks one kind of test question: a new sum of denominators training had together, or of a pair it never
had), a product by its pair of roots, theorems by their shape (the goal with variable names erased). No test
question is a training question, and no test theorem is a training theorem with other letters.
"""
from __future__ import annotations

import random
import re
import signal
import threading
from collections import Counter
from contextlib import contextmanager
from functools import lru_cache
from fractions import Fraction
from pathlib import Path

import sympy
from sympy.parsing.sympy_parser import (convert_xor, implicit_multiplication_application, parse_expr, rationalize,
                                        standard_transformations)

from agentic_lab.envs import TaskEnv
from agentic_lab.eval import success_rate
from agentic_lab.tasks import Task, answer, assistant, family, normalise, observation, sample_tasks, task_split
from agentic_lab.tools import Tool, ToolError
from agentic_lab.trajectory import Trajectory

DATA = Path(__file__).resolve().parent.parent / "data"
ANSWER_WARM_START, PROVER_WARM_START = DATA / "math-warm", DATA / "prove-warm"

# --- the verifier ------------------------------------------------------------------------------------------------
VERDICTS = ("equal", "different", "unparseable", "timeout")
MAX_ANSWER_CHARS = 60
MAX_DIGITS = 12       # in one number
MAX_NESTING = 6       # parentheses inside parentheses
MAX_EXPONENT = 12     # x^12 at most, and only a whole number
TIME_LIMIT = 1.0      # seconds for one comparison

X = sympy.Symbol("x")
_ALLOWED = re.compile(r"[0-9x+\-*/^(). ]*")
_TRANSFORMATIONS = standard_transformations + (implicit_multiplication_application, convert_xor, rationalize)


class Unparseable(ValueError):
    """An answer that is not an expression the verifier accepts; the message says why."""


def parse_answer(text: str) -> sympy.Expr:
    """The answer as an exact SymPy expression in x (decimals become fractions: 0.75 is 3/4), or `Unparseable`.
    Written as people write it: 5x is 5*x, x^2 is x**2, 2(x+1) is 2*(x+1)."""
    text = text.strip()
    if not text:
        raise Unparseable("empty")
    if len(text) > MAX_ANSWER_CHARS:
        raise Unparseable(f"longer than {MAX_ANSWER_CHARS} characters")
    if not _ALLOWED.fullmatch(text):
        raise Unparseable("characters other than digits, x, + - * / ^ ( ) and .")
    if max((len(run) for run in re.findall(r"[0-9]+", text)), default=0) > MAX_DIGITS:
        raise Unparseable(f"a number longer than {MAX_DIGITS} digits")
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth > MAX_NESTING:
            raise Unparseable(f"parentheses nested deeper than {MAX_NESTING}")
    if re.search(r"\(\s*\)", text):
        raise Unparseable("empty parentheses")
    try:
        # evaluate=False: the tree as written, nothing computed yet, so the powers can be checked before they run.
        # Only digits, x and operators reach parse_expr (it evaluates Python), so no name but x can be called.
        tree = parse_expr(text, local_dict={"x": X}, transformations=_TRANSFORMATIONS, evaluate=False)
        if not all(isinstance(node, sympy.Expr) for node in sympy.preorder_traversal(tree)):
            raise Unparseable("not one expression")     # "x, 1" is a tuple
        _check_powers(tree)
        expression = tree.doit()
        _check_powers(expression)     # (x^12)^12 is x^144 once the powers meet
    except (Unparseable, TimeoutError):
        raise
    except Exception as error:  # noqa: BLE001 - SymPy's parser raises many kinds (SyntaxError, TokenError...)
        raise Unparseable(f"not an expression ({type(error).__name__})") from None
    if expression.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
        raise Unparseable("undefined (a division by zero)")
    return expression


def _check_powers(expression: sympy.Expr) -> None:
    for power in expression.atoms(sympy.Pow):
        if not (power.exp.is_Integer and abs(int(power.exp)) <= MAX_EXPONENT):
            raise Unparseable(f"a power other than a whole number up to {MAX_EXPONENT}")


class _Expired(BaseException):
    """The timer's signal. Not an Exception, so SymPy's own `except Exception` blocks cannot swallow it."""


@contextmanager
def time_limit(seconds: float):
    """Raise TimeoutError in this block after `seconds`. A signal timer interrupts SymPy's Python between
    bytecodes; it works in the main thread only, elsewhere the block runs unlimited (the parse's screening keeps
    its work small). A signal that lands where Python ignores exceptions (a `__del__`) still counts: the block
    is a timeout if the timer fired at all."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def expire(signum, frame):
        nonlocal fired
        fired = True
        raise _Expired

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Expired:
        raise TimeoutError from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if fired:
        raise TimeoutError


def verify(predicted: str, gold: str, seconds: float = TIME_LIMIT) -> str:
    """One of VERDICTS: is `predicted` the same number or polynomial (a rational function, in general) as
    `gold`? Equal means their difference cancels to 0 exactly."""
    try:
        with time_limit(seconds):
            difference = parse_answer(predicted) - parse_answer(gold)
            return "equal" if sympy.cancel(difference) == 0 else "different"
    except Unparseable:
        return "unparseable"
    except TimeoutError:
        return "timeout"


def canonical(text: str, seconds: float = TIME_LIMIT) -> str | None:
    """One written form for every equal answer (5/12 for 10/24 and 0.41666...; x**2 + 5*x + 6 for 6+5x+x^2), or
    None for an answer the verifier cannot read. Equal answers share it, so it is what votes are counted by."""
    try:
        with time_limit(seconds):
            return str(sympy.cancel(parse_answer(text)))
    except (Unparseable, TimeoutError):
        return None


def sympy_check(task: Task, predicted: str) -> bool:
    return verify(predicted, task.answer) == "equal"


def string_check(task: Task, predicted: str) -> bool:
    """Exact match after the course's normalisation (case, spaces at the ends, a final full stop): 10/24 is wrong."""
    return normalise(predicted) == normalise(task.answer)


# --- labels from votes (TTRL) ------------------------------------------------------------------------------------
def majority_answer(answers: list[str | None]) -> tuple[str | None, float]:
    """The pseudo-label of a question from the answers sampled for it: the canonical form most answers share, and
    the share of all answers that gave it. Unreadable answers (None, or text the verifier cannot parse) vote for
    nothing but count in the share; a tie for the most votes, or no readable answer, gives no label (None, 0.0)."""
    votes = Counter(key for key in (canonical(a) for a in answers if a is not None) if key is not None)
    if not votes:
        return None, 0.0
    (top, count), *rest = votes.most_common()
    if rest and rest[0][1] == count:
        return None, 0.0
    return top, count / len(answers)


def ttrl_rewards(group: list[Trajectory]) -> list[float]:
    """TTRL's reward for one group of episodes of the same unlabelled question (`grpo_train`'s group_reward_fn):
    1 for an answer equal to the group's majority answer, else 0; all 0 when the vote gives no label. The answer
    key is never read."""
    label, _ = majority_answer([t.final_answer for t in group])
    if label is None:
        return [0.0] * len(group)
    return [float(t.final_answer is not None and canonical(t.final_answer) == label) for t in group]


def vote_metrics(group_size: int):
    """`grpo_train`'s step_metrics for TTRL: how often each step's groups voted a label at all, the majority's mean
    share of its group (0 with no label), and how often the label was the right answer (the key, read here only to
    measure). The majority's accuracy decides what TTRL learns: agreement with a right label is the true reward with
    noise; with a wrong one it is a mistake rewarded."""
    def measure(trajectories: list[Trajectory]) -> dict[str, float]:
        groups = [trajectories[g:g + group_size] for g in range(0, len(trajectories), group_size)]
        votes = [(*majority_answer([t.final_answer for t in group]), group[0].info["answer"]) for group in groups]
        return {"labelled": sum(label is not None for label, _, _ in votes) / len(groups),
                "agreement": sum(share for _, share, _ in votes) / len(groups),
                "majority_right": sum(label is not None and label == canonical(gold) for label, _, gold in votes)
                / len(groups)}
    return measure


# --- informal math task families ---------------------------------------------------------------------------------
def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _terminating(denominator: int) -> bool:
    while denominator % 2 == 0:
        denominator //= 2
    while denominator % 5 == 0:
        denominator //= 5
    return denominator == 1


PAIRS = ("any", "seen", "new")


def _pair_is_new(pair_key: str) -> bool:
    return task_split((pair_key,)) == "test"


@family("fractions", "Add two fractions; any equal form of the answer is right (5/12, 10/24).", check=sympy_check)
def fraction_sum(rng: random.Random, pairs: str = "any", denominators: tuple[int, int] = (2, 9)) -> Task:
    """a/b + c/d with b and d drawn from `denominators` (training uses 2 to 9: its products are the times table).
    Held out twice over: a test question is never a training question, and a fifth of the pairs of denominators never
    appear in training at all. `pairs` draws "seen" pairs only (a new question, with denominators training had
    together), "new" ones only, or "any"; training questions are all "seen"."""
    if pairs not in PAIRS:
        raise ValueError(f"pairs must be one of {PAIRS}")
    while True:
        b, d = rng.randint(*denominators), rng.randint(*denominators)
        a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
        pair_key = f"fractions/{min(b, d)},{max(b, d)}"
        if pairs == "any" or _pair_is_new(pair_key) == (pairs == "new"):
            break
    total = Fraction(a, b) + Fraction(c, d)
    gold = _fraction_text(total)
    # The forms a solver writes: reduced, as the cross-multiplication leaves it, and as a decimal when it ends.
    numerator, denominator = a * d + c * b, b * d
    forms = [gold, f"{numerator}/{denominator}"] + ([f"{float(total):g}"] if _terminating(total.denominator) else [])
    forms = list(dict.fromkeys(forms))
    # One fact a step: single-digit products and one sum, each written in training in many questions.
    reasoning = f"{a}*{d}={a * d} {c}*{b}={c * b} {a * d}+{c * b}={numerator} {b}*{d}={denominator}"
    return Task("fractions", f"What is {a}/{b} + {c}/{d}?", gold, (answer(gold, reasoning=reasoning),),
                split_keys=(f"fractions/{a}/{b}+{c}/{d}", pair_key),
                info={"forms": forms, "reasoning": reasoning, "new_pair": _pair_is_new(pair_key)})


def _polynomial_text(coefficients: list[int]) -> str:
    """x^2+5x-6 from [1, 5, -6] (highest power first), as a person writes it."""
    degree, terms = len(coefficients) - 1, []
    for i, c in enumerate(coefficients):
        power = degree - i
        if c == 0:
            continue
        size = "" if abs(c) == 1 and power > 0 else str(abs(c))
        variable = "" if power == 0 else "x" if power == 1 else f"x^{power}"
        terms.append(("-" if c < 0 else "+") + size + variable)
    text = "".join(terms).lstrip("+")
    return text or "0"


@family("expand", "Expand (x+a)(x+b); any equal polynomial is right, in any order.", check=sympy_check)
def expand_product(rng: random.Random) -> Task:
    a, b = (rng.choice([n for n in range(-9, 10) if n != 0]) for _ in range(2))
    gold = _polynomial_text([1, a + b, a * b])
    # Other forms: the terms from the constant up, and the four products before the two middle ones are collected.
    forms = [gold, _reverse_terms(gold), f"x^2{a:+d}x{b:+d}x{a * b:+d}"]
    reasoning = f"x*x=x^2 {a}x{b:+d}x={a + b}x {a}*{b}={a * b}"
    return Task("expand", f"Expand (x{a:+d})(x{b:+d}).", gold, (answer(gold, reasoning=reasoning),),
                split_keys=(f"expand/{min(a, b)},{max(a, b)}",), info={"forms": forms, "reasoning": reasoning})


def _reverse_terms(polynomial: str) -> str:
    """x^2+5x-6 written from the constant up: -6+5x+x^2."""
    terms = re.findall(r"[+-]?[^+-]+", polynomial)
    terms = [t if t[0] in "+-" else "+" + t for t in reversed(terms)]
    return "".join(terms).lstrip("+")


# --- a toy formal prover -----------------------------------------------------------------------------------------
# A term is a name ("a", "0", "1") or (operator, left, right) with "+" or "*". Goals use the variables a, b, c;
# rules use x, y, z, which match any term.
Term = "str | tuple[str, Term, Term]"
GOAL_VARIABLES, RULE_VARIABLES = ("a", "b", "c"), ("x", "y", "z")

RULE_TEXT = {   # Mathlib's names for these facts
    "add_zero": "x + 0 = x", "zero_add": "0 + x = x", "mul_one": "x * 1 = x", "one_mul": "1 * x = x",
    "mul_zero": "x * 0 = 0", "zero_mul": "0 * x = 0",
    "add_comm": "x + y = y + x", "mul_comm": "x * y = y * x",
    "add_assoc": "x + y + z = x + (y + z)", "mul_assoc": "x * y * z = x * (y * z)",
    "mul_add": "x * (y + z) = x * y + x * z", "add_mul": "(x + y) * z = x * z + y * z",
}
REVERSED = "<-"   # `<-add_assoc` rewrites right to left, as Lean's `rw [← add_assoc]`


def parse_term(text: str) -> Term:
    """Read a term written with + and *, * binding tighter, both grouping to the left: a + b + c is (a + b) + c."""
    tokens = re.findall(r"[a-z]|[01]|[+*()]|\S", text)
    position = 0

    def peek():
        return tokens[position] if position < len(tokens) else None

    def take(expected=None):
        nonlocal position
        token = peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected or 'a term'} in {text!r}")
        position += 1
        return token

    def chain(operator, operand):
        term = operand()
        while peek() == operator:
            take()
            term = (operator, term, operand())
        return term

    def atom():
        if peek() == "(":
            take("(")
            term = chain("+", product)
            take(")")
            return term
        token = take()
        if not re.fullmatch(r"[a-z01]", token):
            raise ValueError(f"unexpected {token!r} in {text!r}")
        return token

    def product():
        return chain("*", atom)

    term = chain("+", product)
    if peek() is not None:
        raise ValueError(f"unexpected {peek()!r} in {text!r}")
    return term


def show(term: Term, context: str = "") -> str:
    """The term with only the parentheses it needs: a sum inside a product, or a right operand of its own kind."""
    if isinstance(term, str):
        return term
    operator, left, right = term
    text = f"{show(left, operator)} {operator} {show(right, operator + 'r')}"
    needs = (operator == "+" and context in ("*", "*r")) or context == operator + "r"
    return f"({text})" if needs else text


def _rule(text: str) -> tuple[Term, Term]:
    left, right = text.split("=")
    return parse_term(left), parse_term(right)


def _variables(term: Term) -> set[str]:
    return {term} if isinstance(term, str) else _variables(term[1]) | _variables(term[2])


def match(pattern: Term, term: Term, bound: dict | None = None) -> dict | None:
    """The binding of the pattern's variables that makes it `term`, or None."""
    bound = dict(bound or {})
    if isinstance(pattern, str) and pattern in RULE_VARIABLES:
        if pattern in bound:
            return bound if bound[pattern] == term else None
        bound[pattern] = term
        return bound
    if isinstance(pattern, str) or isinstance(term, str):
        return bound if pattern == term else None
    if pattern[0] != term[0]:
        return None
    bound = match(pattern[1], term[1], bound)
    return None if bound is None else match(pattern[2], term[2], bound)


RULES: dict[str, tuple[Term, Term]] = {}
for _name, _text in RULE_TEXT.items():
    RULES[_name] = _rule(_text)
    _left, _right = RULES[_name]
    # Right to left only where it says what to build: not from a bare x (it matches anything), and not where the
    # right side lacks a variable of the left (0 = x * 0 cannot know its x).
    # and not where it is the rule again (y + x = x + y is add_comm with its variables renamed).
    _renaming = match(_left, _right)
    symmetric = _renaming is not None and len(set(_renaming.values())) == len(_renaming) and \
        all(v in RULE_VARIABLES for v in _renaming.values())
    if not isinstance(_right, str) and _variables(_left) & set(RULE_VARIABLES) <= _variables(_right) and not symmetric:
        RULES[REVERSED + _name] = (_right, _left)


PATTERN_TEXT = {name: show(pattern) for name, (pattern, _) in RULES.items()}   # for refusals, written once


def substitute(term: Term, bound: dict) -> Term:
    if isinstance(term, str):
        return bound.get(term, term)
    return (term[0], substitute(term[1], bound), substitute(term[2], bound))


@lru_cache(maxsize=1 << 16)
def subterms(term: Term) -> tuple[Term, ...]:
    """Every subterm, outermost first, left before right (kept: a search asks for the same goal's once per rule)."""
    if isinstance(term, str):
        return (term,)
    return (term,) + subterms(term[1]) + subterms(term[2])


def replace(term: Term, old: Term, new: Term) -> Term:
    if term == old:
        return new
    if isinstance(term, str):
        return term
    return (term[0], replace(term[1], old, new), replace(term[2], old, new))


Goal = tuple  # (left side, right side), two Terms


def rewrite(goal: Goal, rule: str) -> Goal:
    """The goal after `rw rule`, or ToolError saying why the step is not allowed. The first subterm the rule's left
    side matches (left side of the goal first, outermost first) fixes the instance; every copy of that instance,
    on both sides, becomes the rule's right side."""
    if rule not in RULES:
        raise ToolError(f"no rule {rule[:30]!r} (rw's description lists the rules)")   # short: it is read every turn
    pattern, result = RULES[rule]
    for side in goal:
        for term in subterms(side):
            if isinstance(term, str) or term[0] != pattern[0]:
                continue              # every rule's pattern is an operation: skip the terms that are not this one
            bound = match(pattern, term)
            if bound is not None:
                instance, rewritten = substitute(pattern, bound), substitute(result, bound)
                return tuple(replace(s, instance, rewritten) for s in goal)
    raise ToolError(f"{rule}: nothing in the goal matches {PATTERN_TEXT[rule]}")


def closed(goal: Goal) -> bool:
    return goal[0] == goal[1]


def show_goal(goal: Goal) -> str:
    return f"{show(goal[0])} = {show(goal[1])}"


def shortest_proof(goal: Goal, max_steps: int) -> list[str] | None:
    """The rules of a shortest proof of `goal`, breadth first over every rule at every step (rules in RULES' order,
    so the same goal always gets the same proof), or None if none has at most `max_steps` steps."""
    if closed(goal):
        return []
    frontier, seen = [(goal, [])], {goal}
    for _ in range(max_steps):
        next_frontier = []
        for state, steps in frontier:
            for rule in RULES:
                try:
                    after = rewrite(state, rule)
                except ToolError:
                    continue
                if closed(after):
                    return steps + [rule]
                if after not in seen:
                    seen.add(after)
                    next_frontier.append((after, steps + [rule]))
        frontier = next_frontier
    return None


def random_term(rng: random.Random, operators: int) -> Term:
    """A term with this many operators over a, b, c (and now and then 0 or 1)."""
    if operators == 0:
        return rng.choice(GOAL_VARIABLES * 3 + ("0", "1"))
    left = rng.randint(0, operators - 1)
    return (rng.choice("+*"), random_term(rng, left), random_term(rng, operators - 1 - left))


def shape(goal: Goal) -> str:
    """The goal with its variables erased: what a held-out theorem differs in."""
    return re.sub(r"[abc]", "_", show_goal(goal))


def random_theorem(rng: random.Random, steps: int) -> tuple[Goal, list[str]]:
    """A goal whose shortest proof has exactly `steps` rewrites, and that proof. The right side is the left side
    after a few random rewrites; the search then says how far apart the two sides really are."""
    while True:
        left = random_term(rng, rng.randint(2, 4))
        right = (left,)
        for _ in range(steps + 1):
            applicable = [rule for rule in RULES if _applies(right, rule)]
            if applicable:
                right = rewrite(right, rng.choice(applicable))
        goal = (left, right[0])
        proof = shortest_proof(goal, steps)
        if proof is not None and len(proof) == steps:
            return goal, proof


def _applies(goal: Goal, rule: str) -> bool:
    try:
        rewrite(goal, rule)
        return True
    except ToolError:
        return False


def rule_list() -> str:
    return "; ".join(f"{name}: {RULE_TEXT[name]}" for name in RULE_TEXT)


def _needs_a_goal(rule: str) -> str:
    raise ToolError("rw has no goal here: prove theorems in agentic_lab/Prove-v0")


# The family's rw tool, for its schema (the rules are in its description, so every prompt lists them); each
# episode of ProveEnv rewrites its own goal.
RW = Tool("rw", f"Rewrite the goal with a rule ({REVERSED}name: right to left). Rules: {rule_list()}.",
          {"rule": (str, "a rule's name, e.g. add_comm or <-add_assoc")}, _needs_a_goal)


def parse_goal(task: Task) -> Goal:
    return tuple(parse_term(side) for side in task.info["goal"])


def proof_check(task: Task, predicted: str) -> bool:
    """Is `predicted`, rule names separated by commas, a proof of the task's goal? The checker replays it."""
    goal = parse_goal(task)
    for rule in (r.strip() for r in predicted.split(",")):
        try:
            goal = rewrite(goal, rule)
        except ToolError:
            return False
    return closed(goal)


@family("prove", "Prove an identity of + and * one rewrite at a time; `steps` is the shortest proof's length.",
        tools=(RW,), check=proof_check)
def theorem(rng: random.Random, steps: int = 2) -> Task:
    goal, proof = random_theorem(rng, steps)
    solution, state = [], goal
    for rule in proof:
        state = rewrite(state, rule)
        solution += [assistant(tool="rw", rule=rule), observation(step_observation(state))]
    return Task("prove", f"Prove: {show_goal(goal)}", ", ".join(proof), tuple(solution), tools=("rw",),
                split_keys=(f"prove/{shape(goal)}",), info={"goal": [show(side) for side in goal], "steps": steps})


def step_observation(goal: Goal) -> str:
    return show_goal(goal) + ("\nProved." if closed(goal) else "")


# --- environments ------------------------------------------------------------------------------------------------
ANSWER_REWARDS = ("sympy", "string")
ANSWER_TOKENS = 64        # new tokens for a scratchpad and an answer (the longest demonstration writes 45)
PROOF_TOKENS = 64         # new tokens for a rw call: the longest, with <-add_assoc, and its end are 55


class MathAnswerEnv(TaskEnv):
    """A question of an informal math family ("fractions" or "expand") per episode, answered once. `reward` is what
    a right answer must be to earn 1: "sympy", equal by the verifier; "string", written as the key writes it.
    `info["success"]` is the verifier's verdict, whatever the reward. `params`: the family's own (`fraction_sum`'s
    pairs and denominators)."""

    def __init__(self, family: str = "fractions", split: str = "train", max_turns: int = 2,
                 render_mode: str | None = None, reward: str = "sympy", **params):
        if reward not in ANSWER_REWARDS:
            raise ValueError(f"reward must be one of {ANSWER_REWARDS}")
        super().__init__(family, split, max_turns, render_mode, params=params)
        self.reward = reward

    def act(self, action):
        if action.kind != "answer":
            return super().act(action)
        self.success = sympy_check(self.task, action.answer)
        earned = self.success if self.reward == "sympy" else string_check(self.task, action.answer)
        return ("Correct." if self.success else "Wrong."), float(earned), True


@lru_cache(maxsize=4096)
def _drawn_theorem(split: str, steps: int, seed: int) -> Task:
    """A theorem draw, kept: drawing one is a search (shortest_proof, and draws until the split matches), two thirds
    of a rollout's time, and pass@k and GRPO's groups play each theorem many times."""
    return sample_tasks("prove", 1, seed=seed, split=split, steps=steps)[0]


class ProveEnv(TaskEnv):
    """A theorem per episode (`steps`: its shortest proof's length). Each `rw` call rewrites the goal and shows the
    new one; the episode ends with reward 1 when the goal closes. A rule that does not apply is an error: the goal
    stays, and the turn costs the invalid-action penalty."""
    ACTION_KINDS = ("tool_call",)

    def __init__(self, split: str = "train", max_turns: int = 8, render_mode: str | None = None, steps: int = 2):
        super().__init__("prove", split, max_turns, render_mode, params={"steps": steps})

    def draw_task(self) -> Task:
        return _drawn_theorem(self.split, self.params["steps"], int(self.np_random.integers(2**31)))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        prompt, info = super().reset(seed=seed, options=options)
        self.goal = parse_goal(self.task)
        self.tools = {"rw": Tool(RW.name, RW.description, RW.parameters, self._rewrite)}
        return prompt, info

    def _rewrite(self, rule: str) -> str:
        self.goal = rewrite(self.goal, rule)
        return step_observation(self.goal)

    def act(self, action):
        observation_text = super().act(action)[0]
        self.success = closed(self.goal)
        return observation_text, float(self.success), self.success

    def info(self) -> dict:
        info = super().info()
        if hasattr(self, "goal"):
            info["hidden"]["current_goal"] = show_goal(self.goal)
        return info


# --- the warm starts' demonstrations, and what an agent did -------------------------------------------------------
# How often a demonstration writes its answer in each of the task's forms (info["forms"]: the key's own form first,
# then the others in their order). Half the answers are right in a form string match calls wrong, so the reward
# decides whether RL keeps them (notebook 15, section 2).
FORM_SHARES = (0.5, 0.3, 0.2)


def demonstration(task: Task, rng: random.Random) -> list[dict]:
    """A warm-start episode: for an answer family, the scratchpad and the answer in a form drawn from FORM_SHARES
    (a fraction reduced in the scratchpad when the form is the reduced one); for a theorem, the shortest proof."""
    if task.family == "prove":
        return task.conversation()
    forms = task.info["forms"]
    form = rng.choices(forms, weights=FORM_SHARES[:len(forms)])[0]
    reasoning = task.info["reasoning"]
    if task.family == "fractions" and form == task.answer and len(forms) > 1 and "/" in forms[1]:   # not a decimal
        reasoning += f" {forms[1]}={task.answer}"
    return task.messages() + [answer(form, reasoning=reasoning)]


def string_matches(trajectory: Trajectory) -> bool:
    """Would string match have called this episode's answer right (`string_check` on what it answered)?"""
    answer_text = trajectory.final_answer
    return answer_text is not None and normalise(answer_text) == normalise(trajectory.info["answer"])


def play_fraction_sums(model, tokenizer, questions: int, temperature: float = 1.0, **params) -> list[Trajectory]:
    """One answer to each of `questions` held-out fraction sums (test split, seeds 100,000 + k, sampling seed 1;
    `params` the family's, e.g. pairs="seen"): what notebook 15 and experiments/15_math_rl.py measure."""
    from agentic_lab.rollout import rollout  # the engine imports torch
    seeds = [100_000 + k for k in range(questions)]
    envs = [MathAnswerEnv("fractions", split="test", **params) for _ in seeds]
    return rollout(model, tokenizer, envs, seeds, temperature=temperature, seed=1, max_new_tokens=ANSWER_TOKENS)


def play_theorems(model, tokenizer, lengths: tuple[int, ...], per_length: int, tries: int, split: str = "test",
                  first_seed: int = 100_000, seed: int = 1) -> list[list[Trajectory]]:
    """`tries` proofs at T = 1 of each of `per_length` theorems of each shortest-proof length (theorem seeds
    first_seed + k, sampling seed `seed`), grouped theorem by theorem: what notebook 15 and experiments/15_prover.py
    measure pass@k on (the test split), and what expert iteration samples its proofs from (the train split)."""
    from agentic_lab.rollout import rollout  # the engine imports torch
    theorems = [(steps, first_seed + k) for steps in lengths for k in range(per_length)]
    envs = [ProveEnv(split, steps=steps) for steps, _ in theorems for _ in range(tries)]
    played = rollout(model, tokenizer, envs, [s for _, s in theorems for _ in range(tries)], temperature=1.0,
                     seed=seed, max_new_tokens=PROOF_TOKENS)
    return [played[k:k + tries] for k in range(0, len(played), tries)]


def expert_iteration_round(model, tokenizer, lengths: tuple[int, ...], theorems: int, tries: int, sft_steps: int,
                           lr: float, seed: int = 0) -> list[Trajectory]:
    """One round of expert iteration on the prover, in place: `tries` proofs at T = 1 of each of `theorems` training
    theorems of each length (seeds 10,000 × seed + k), the kernel's verdict on every one, each proved theorem's
    shortest proof kept, and `sft_steps` steps of fine-tuning on the kept proofs (the prover's own tokens only, at
    peak learning rate `lr`). Returns the kept proofs."""
    from agentic_lab.sft import train_on_episodes  # imports torch
    tried = play_theorems(model, tokenizer, lengths, theorems, tries, split="train", first_seed=10_000 * seed,
                          seed=seed)
    kept = [min((t for t in tries_of_one if t.success), key=lambda t: len(t.turns)) for tries_of_one in tried
            if any(t.success for t in tries_of_one)]
    if kept:
        train_on_episodes(model, kept, sft_steps, lr, seed=seed, pad_id=tokenizer.pad_token_id)
    return kept


def answer_kind(trajectory: Trajectory) -> str:
    """"fractions" (a pair of denominators training has), "fractions, new pairs" or "expand"."""
    new = trajectory.info["family"] == "fractions" and trajectory.info["new_pair"]
    return trajectory.info["family"] + (", new pairs" if new else "")


def answer_report(trajectories: list[Trajectory]) -> dict[str, dict]:
    """By `answer_kind` and "all": n, the verifier's success rate ± SE, the share of episodes whose answer string
    match also accepts, and the share with no readable answer."""
    report = {}
    for name in ("fractions", "fractions, new pairs", "expand", "all"):
        episodes = [t for t in trajectories if name in ("all", answer_kind(t))]
        if not episodes:
            continue
        p, se = success_rate(episodes)
        report[name] = {
            "n": len(episodes), "success": p, "stderr": se,
            "string_match": sum(map(string_matches, episodes)) / len(episodes),
            "unreadable": sum(t.final_answer is None or canonical(t.final_answer) is None
                              for t in episodes) / len(episodes),
        }
    return report


def proof_report(trajectories: list[Trajectory]) -> dict[str, dict]:
    """By the shortest proof's length ("1", "2"... and "all"): n, the share proved ± SE, the rewrites per episode and
    the share of rewrites that failed (a rule that did not apply, or no rule of that name)."""
    report = {}
    lengths = sorted({t.info["steps"] for t in trajectories})
    for name in [str(n) for n in lengths] + ["all"]:
        episodes = [t for t in trajectories if name in ("all", str(t.info["steps"]))]
        calls = [turn for t in episodes for turn in t.tool_calls]
        p, se = success_rate(episodes)
        report[name] = {"n": len(episodes), "success": p, "stderr": se, "rewrites": len(calls) / len(episodes),
                        "failed_rewrites": sum((turn.result or "").startswith("Error:")
                                               for turn in calls) / max(len(calls), 1)}
    return report
