"""Exercises with auto-checkers: the learner writes a function, `check` tries it against the reference.

In a notebook:

    def my_gae(rewards, values, mask, gamma, lam):
        ...                          # your code
    check("gae", my_gae)             # prints what is right or what is wrong; never raises
    check("gae", my_gae, reveal=True)    # ... and then shows the course's own solution, passed or not

`check` calls both functions on the exercise's hard cases (the inputs the text warns about: huge logits, a
mask with holes, ties...) and then on random inputs (fixed seed, several shapes), compares the outputs and,
when they differ, says how: the input, both outputs, and a guess at the usual mistakes (sign flipped,
off by a constant factor, wrong shape). A function still raising `NotImplementedError` counts as not
attempted: the notebook runs on. The solution is the package's own code, shown only once the attempt passes
or when asked for with `reveal=True`, never above the exercise: try first, as in Spinning Up and d2l.
Each notebook's exercises are registered below, next to the package function that is the reference answer.
"""
from __future__ import annotations

import random
import traceback
from dataclasses import dataclass
from typing import Callable

import torch

from agentic_lab.tasks import Task, sample_tasks


@dataclass(frozen=True)
class Exercise:
    name: str
    task: str                                        # one line: what to write
    reference: Callable
    make_inputs: Callable[[torch.Generator], dict]   # random keyword arguments for one trial
    atol: float = 1e-5
    hard_cases: tuple[dict, ...] = ()                # fixed inputs tried first: the regime the text warns about
    solution: Callable | None = None                 # what `reveal` shows, when `reference` is a wrapper of it


EXERCISES: dict[str, Exercise] = {}


def exercise(name: str, task: str, make_inputs: Callable[[torch.Generator], dict], atol: float = 1e-5,
             hard_cases: tuple[dict, ...] = (), solution: Callable | None = None):
    """Register `reference` as the answer to exercise `name`."""
    def register(reference: Callable) -> Callable:
        EXERCISES[name] = Exercise(name, task, reference, make_inputs, atol, hard_cases, solution)
        return reference
    return register


def _numeric(value) -> bool:
    """Whether `value` is a tensor, a number or a tuple of them (compared within atol); anything else (a memory bank)
    is compared with ==."""
    if isinstance(value, bool):  # a verdict: "returned False, expected True" says more than "off by a constant 1"
        return False
    items = value if isinstance(value, (tuple, list)) else (value,)
    return all(isinstance(v, (torch.Tensor, int, float, bool)) or (isinstance(v, (tuple, list)) and _numeric(v))
               for v in items)


def _as_tensors(value) -> list[torch.Tensor]:
    """A function may return a tensor, a number or a tuple of them: compare them all, in order."""
    items = value if isinstance(value, (tuple, list)) else (value,)
    return [torch.as_tensor(v, dtype=torch.float64) for v in items]


def _diagnose(got: torch.Tensor, want: torch.Tensor, atol: float) -> str:
    if got.shape != want.shape:
        return f"shape {tuple(got.shape)}, expected {tuple(want.shape)}"
    if not torch.isfinite(got).all() and torch.isfinite(want).all():
        return "your output has NaN or inf where the reference is finite"
    if torch.allclose(got, -want, atol=atol) and want.abs().max() > atol:
        return "the sign is flipped"
    nonzero = want.abs() > atol
    if nonzero.any() and not (got.abs() > atol).any():
        return "your output is 0 everywhere, where the reference is not"
    if nonzero.any():
        ratio = got[nonzero] / want[nonzero]
        if torch.allclose(ratio, ratio[0].expand_as(ratio), atol=1e-4) and abs(ratio[0].item() - 1) > 1e-4:
            return f"off by a constant factor {ratio[0].item():.4g}"
    shift = got - want
    if torch.allclose(shift, shift.flatten()[0].expand_as(shift), atol=atol):
        return f"off by a constant {shift.flatten()[0].item():.4g}"
    worst = (got - want).abs().argmax()
    return f"largest difference at flat index {worst.item()}: got {got.flatten()[worst].item():.6g}, " \
           f"expected {want.flatten()[worst].item():.6g}"


def _show(inputs: dict) -> str:
    def short(v):
        if isinstance(v, Task):  # what the learner's function reads of it, not every field
            return f"<task {v.prompt!r}, answer {v.answer!r}>"
        if isinstance(v, list) and v and isinstance(v[0], dict) and "ref" in v[0]:  # a web page's elements
            return "[" + ", ".join(f"{e['ref']} {e['tag']}{'.' + e['classes'] if e.get('classes') else ''} "
                                   f"{str(e['text'])!r} (in {e['parent']})" for e in v) + "]"
        return f"tensor{tuple(v.shape)}={v.tolist()}" if isinstance(v, torch.Tensor) and v.numel() <= 12 else repr(v)
    return ", ".join(f"{k}={short(v)}" for k, v in inputs.items())


class Verdict:
    """What `check` returns: true when the attempt passed. It displays nothing, so an exercise cell that ends with
    `check(...)` shows check's message and not a stray `True`/`False` under it."""

    def __init__(self, passed: bool):
        self.passed = passed

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"

    def _ipython_display_(self) -> None:
        pass


def check(name: str, fn: Callable, trials: int = 20, seed: int = 0, verbose: bool = True,
          reveal: bool = False) -> Verdict:
    """Compare `fn` with the reference answer of exercise `name` on its hard cases and `trials` random inputs.
    Shows the solution when the attempt passes, or with `reveal=True` whatever happened."""
    passed = _compare(EXERCISES[name], fn, trials, seed, print if verbose else (lambda *a: None))
    if verbose and not (passed or reveal):
        print(f"  (to see the answer anyway: check({name!r}, your_function, reveal=True))")
    if verbose and (passed or reveal):
        from agentic_lab.viz import show_source
        print("The course's solution:" if passed else "The course's solution (you asked to see it):")
        show_source(EXERCISES[name].solution or EXERCISES[name].reference)
    return Verdict(passed)


def _compare(ex: Exercise, fn: Callable, trials: int, seed: int, say: Callable) -> bool:
    name = ex.name
    generator = torch.Generator().manual_seed(seed)
    cases = [(f"hard case {k}", lambda k=k: ex.hard_cases[k]) for k in range(len(ex.hard_cases))]
    cases += [(f"trial {k}", lambda: ex.make_inputs(generator)) for k in range(trials)]
    for case, make_inputs in cases:
        inputs = make_inputs()
        want = ex.reference(**{k: _copy(v) for k, v in inputs.items()})
        try:
            got = fn(**{k: _copy(v) for k, v in inputs.items()})
        except NotImplementedError:
            say(f"[{name}] not attempted yet: {ex.task}")
            return False
        except Exception as error:  # the learner's bug, reported rather than raised
            say(f"[{name}] ✗ raised {type(error).__name__}: {error}\n  on {_show(inputs)}\n"
                + "".join(traceback.format_exception(error)[-2:]))
            return False
        if not _numeric(want):
            if got != want:
                say(f"[{name}] ✗ {case}: returned {got!r}, expected {want!r}\n  on {_show(inputs)}")
                return False
            continue
        got, want = _as_tensors(got), _as_tensors(want)
        if len(got) != len(want):
            say(f"[{name}] ✗ returned {len(got)} value(s), expected {len(want)}")
            return False
        for k, (g, w) in enumerate(zip(got, want)):
            if g.shape != w.shape or not torch.allclose(g, w, atol=ex.atol, rtol=1e-4, equal_nan=True):
                which = f" (output {k})" if len(want) > 1 else ""
                say(f"[{name}] ✗ {case}{which}: {_diagnose(g, w, ex.atol)}\n  on {_show(inputs)}")
                return False
    hard = f"{len(ex.hard_cases)} hard cases and " if ex.hard_cases else ""
    say(f"[{name}] ✓ matches the reference on {hard}{trials} random inputs")
    return True


def _copy(value):
    """Each function gets its own copy, so an in-place edit by one cannot change what the other sees."""
    return value.clone() if isinstance(value, torch.Tensor) else value


# --- random inputs ------------------------------------------------------------------------------------------
def _normal(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _int(g: torch.Generator, low: int, high: int) -> int:
    """Uniform in [low, high]."""
    return int(torch.randint(low, high + 1, (1,), generator=g))


def _right_padded_mask(g: torch.Generator, batch: int, width: int) -> torch.Tensor:
    lengths = torch.randint(1, width + 1, (batch,), generator=g)
    return (torch.arange(width)[None, :] < lengths[:, None]).to(torch.float64)


def _reward_pairs(g):
    n = _int(g, 1, 16)
    return {"r_chosen": _normal(g, n) * 2, "r_rejected": _normal(g, n) * 2}


def _tied_reward_pairs(g):
    """Whole-number rewards, so that ties happen."""
    n = _int(g, 1, 16)
    return {"r_chosen": torch.randint(-2, 3, (n,), generator=g).double(),
            "r_rejected": torch.randint(-2, 3, (n,), generator=g).double()}


def _response_text(g):
    """A message assembled from well-formed and broken pieces, so that every way of being wrong turns up."""
    pieces = [["<think>", ""], ["3*4=12", ""], ["</think>", "</answer>", ""], ["<answer>", "<answer><answer>"],
              ["12", ""], ["</answer>", ""], ["", " ", "!", "<answer>1</answer>"]]
    def piece(options):  # mostly the well-formed piece (the first), so that near-misses are common
        return options[0] if torch.rand(1, generator=g) < 0.75 else options[_int(g, 1, len(options) - 1)]
    return {"text": "".join(piece(options) for options in pieces)}


def _pass_at_k_counts(g):
    n = _int(g, 1, 64)
    return {"n": n, "c": _int(g, 0, n), "k": _int(g, 1, n)}


def _answers_and_k(g):
    """n answers from a few values, one of them likely (a model that has sharpened), no None; and a k."""
    n, values = _int(g, 1, 64), _int(g, 1, 12)
    favourite = float(torch.rand(1, generator=g))
    answers = [0 if torch.rand(1, generator=g) < favourite else _int(g, 1, values) for _ in range(n)]
    return {"answers": answers, "k": _int(g, 1, n)}


def _graded_answer(g):
    """One graded answer: a job (right or wrong), an abstention as a model may write it, or no answer; a threshold."""
    options = ["miner", "baker", "I don't know", "i don't know.", "I do not know", "I DON'T KNOW", None, "unknown"]
    answer_text = options[_int(g, 0, len(options) - 1)]
    correct = answer_text in ("miner", "baker") and bool(torch.rand(1, generator=g) < 0.5)
    threshold = round(float(torch.rand(1, generator=g)) * 0.9, 3)
    return {"answer_text": answer_text, "correct": correct, "threshold": threshold}


def _grouped_rewards(g):
    group_size = _int(g, 2, 8)
    rewards = (torch.rand(_int(g, 1, 4) * group_size, generator=g) < 0.5).to(torch.float64)
    return {"rewards": rewards + 0.1 * _normal(g, len(rewards)), "group_size": group_size}


# notebook 00: the error bar of a success rate; notebook 06: a multi-turn episode's token weights
def _successes(g):
    n = _int(g, 1, 64)
    return {"successes": (torch.rand(n, generator=g) < torch.rand(1, generator=g)).to(torch.float64)}


def _success_rate_of(successes: torch.Tensor) -> tuple[float, float]:
    """eval.success_rate on episodes whose outcomes are `successes` (1 = success)."""
    from types import SimpleNamespace
    from agentic_lab.eval import success_rate
    return success_rate([SimpleNamespace(success=bool(s)) for s in successes.tolist()])


def grpo_token_weights(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """How hard GRPO pushes each token's log-prob, -∂L/∂log π_θ(y_{i,t}) at ρ = 1 (one step per batch):

        w_{i,t} = m_{i,t} A_i / (B Σ_t m_{i,t})

    the episode's one advantage A_i on every token the policy wrote, in every turn; 0 on the prompt and on
    tool observations (m = 0). advantages (B,), mask (B, T) -> (B, T)."""
    return mask * advantages[:, None] / (mask.shape[0] * mask.sum(1, keepdim=True).clamp(min=1))


def _grpo_weights_by_autograd(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The reference: the gradient of the package's own loss (algorithms.grpo_loss), not a second formula."""
    from agentic_lab.algorithms import grpo_loss
    logprobs = torch.zeros_like(mask, requires_grad=True)
    loss, _ = grpo_loss(logprobs, logprobs.detach(), advantages, mask)
    (grad,) = torch.autograd.grad(loss, logprobs)
    return -grad


def _episodes_with_turns(g):
    """Prompt tokens (0), then one to three turns of policy tokens (1) separated by observations (0), then padding."""
    b, rows = _int(g, 1, 4), []
    for _ in range(b):
        row = [0] * _int(g, 1, 3)
        for turn in range(_int(g, 1, 3)):
            row += [0] * (_int(g, 1, 3) if turn else 0) + [1] * _int(g, 1, 4)
        rows.append(row)
    width = max(map(len, rows)) + _int(g, 0, 2)
    mask = torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.float64)
    return {"advantages": _normal(g, b), "mask": mask}


# --- the exercises, notebook by notebook --------------------------------------------------------------------
# The references live where the course uses them; registering here only names them as answers.
def _register_all() -> None:
    from agentic_lab import (algorithms, coding, distributed, eval as evaluation, math_tasks, memory, perception,
                             planning, policy_gradient, ppo, preference, reflection, reward_model, rewards, rollout,
                             tool_use, trust, web)
    from agentic_lab.actions import Action

    # float32 rewards a thousand apart: log(sigmoid(x)) underflows to log(0) = -inf, logsigmoid(x) does not
    far_apart = {"r_chosen": torch.tensor([-1000.0, 1000.0, 0.5]), "r_rejected": torch.tensor([0.0, 0.0, 0.0])}
    exercise("bradley_terry_loss", "L = -log σ(r_chosen - r_rejected), one loss per pair, shape (n,)",
             _reward_pairs, hard_cases=(far_apart,))(preference.bradley_terry_loss)
    exercise("pairwise_accuracy", "fraction of pairs where r_chosen > r_rejected (ties count as wrong)",
             _tied_reward_pairs)(reward_model.pairwise_accuracy)
    # a two-turn episode: the zeros in the middle are a tool's output, not the end of the episode
    two_turns = {"rewards": torch.tensor([[0.0, 0, 0, 0, 0, 1]], dtype=torch.float64),
                 "values": torch.tensor([[0.1, 0.2, 9, 9, 0.3, 0.4]], dtype=torch.float64),
                 "mask": torch.tensor([[1.0, 1, 0, 0, 1, 1]], dtype=torch.float64), "gamma": 1.0, "lam": 0.9}
    exercise("gae", "advantages and returns (B, T) by GAE over the tokens the policy wrote, zero where the mask is",
             lambda g: _gae_inputs(g), hard_cases=(two_turns,))(ppo.gae)
    exercise("kl_k3", "k3 = (r - 1) - log r with r = π_ref/π, per token",
             lambda g: {"logprobs": _normal(g, 3, 5) - 2, "ref_logprobs": _normal(g, 3, 5) - 2})(policy_gradient.kl_k3)
    exercise("ppo_policy_loss", "clipped surrogate -min(ρA, clip(ρ, 1-ε, 1+ε)A), mean over masked tokens",
             lambda g: _ppo_inputs(g), solution=ppo.ppo_policy_loss)(lambda **kw: ppo.ppo_policy_loss(**kw)[0])
    exercise("dpo_loss", "-log σ(β[(log π_c - log π_ref,c) - (log π_r - log π_ref,r)]) per pair",
             lambda g: {"pi_chosen": _normal(g, 6) - 5, "pi_rejected": _normal(g, 6) - 5,
                        "ref_chosen": _normal(g, 6) - 5, "ref_rejected": _normal(g, 6) - 5,
                        "beta": float(torch.rand(1, generator=g)) + 0.05},
             hard_cases=({"pi_chosen": torch.tensor([-900.0, -5.0]), "pi_rejected": torch.tensor([-5.0, -900.0]),
                          "ref_chosen": torch.tensor([-5.0, -5.0]), "ref_rejected": torch.tensor([-5.0, -5.0]),
                          "beta": 2.0},),      # float32 margins of ±1790: σ underflows, logsigmoid does not
             solution=preference.dpo_loss)(lambda **kw: preference.dpo_loss(**kw)[0])
    exercise("simpo_loss", "-log σ(β·avg log π_c - β·avg log π_r - γ) per pair, no reference model",
             lambda g: {"pi_chosen_avg": -torch.rand(6, generator=g, dtype=torch.float64) * 3,
                        "pi_rejected_avg": -torch.rand(6, generator=g, dtype=torch.float64) * 3,
                        "beta": 2.0, "gamma": float(torch.rand(1, generator=g))},
             solution=preference.simpo_loss)(lambda **kw: preference.simpo_loss(**kw)[0])
    exercise("ipo_loss", "(h - 1/(2β))², h = (log π_c - log π_ref,c) - (log π_r - log π_ref,r) on token means",
             lambda g: {"pi_chosen_avg": _normal(g, 6) - 1, "pi_rejected_avg": _normal(g, 6) - 1,
                        "ref_chosen_avg": _normal(g, 6) - 1, "ref_rejected_avg": _normal(g, 6) - 1,
                        "beta": float(torch.rand(1, generator=g)) + 0.05})(preference.ipo_loss)
    # z0 is an estimate of a KL, which cannot be negative: when the mismatched pairs' log-ratios average below 0,
    # the reference point is 0 (TRL clamps it too); and β multiplies the log-ratio once
    negative_kl = {"pi_logps": torch.tensor([-4.0, -9.0, -6.0, -3.0], dtype=torch.float64),
                   "ref_logps": torch.tensor([-5.0, -7.0, -6.5, -4.0], dtype=torch.float64),
                   "desirable": torch.tensor([True, False, True, False]),
                   "kl_pi_logps": torch.tensor([-12.0, -10.0, -11.0, -9.0], dtype=torch.float64),
                   "kl_ref_logps": torch.tensor([-10.0, -9.0, -10.0, -8.0], dtype=torch.float64), "beta": 0.5}
    exercise("kto_loss", "1 - σ(β(r - z0)) if desirable else 1 - σ(β(z0 - r)), r = log π - log π_ref, "
             "z0 = max(0, mean KL estimate)", _kto_inputs, hard_cases=(negative_kl,),
             solution=preference.kto_loss)(lambda **kw: preference.kto_loss(**kw)[0])
    # a group whose rewards are all equal (std 0: the 1e-4 keeps A at 0, not NaN), and groups of two
    exercise("group_advantages", "A_i = (r_i - mean of its group) / (std of its group + 1e-4)", _grouped_rewards,
             hard_cases=({"rewards": torch.tensor([1.0, 1, 1, 1, 0, 1, 0, 0], dtype=torch.float64), "group_size": 4},
                         {"rewards": torch.tensor([1.0, 0, 2, 2], dtype=torch.float64), "group_size": 2}))(
        algorithms.group_advantages)
    exercise("rloo_advantages", "A_i = r_i - mean of the other G-1 rewards of its group",
             _grouped_rewards)(algorithms.rloo_advantages)
    # n - c < k: every draw of k holds a correct sample; and a large n where C(n, k) overflows a float
    exercise("pass_at_k", "unbiased pass@k = 1 - C(n-c, k) / C(n, k) from n samples with c correct",
             _pass_at_k_counts, hard_cases=({"n": 8, "c": 5, "k": 4}, {"n": 2000, "c": 3, "k": 1000}))(
        evaluation.pass_at_k)
    # every sample alike, every sample different, k = n, and samples with no answer (None), which are not answers
    exercise("distinct_at_k", "expected number of different answers among k of the n samples, drawn without "
             "replacement; None is not an answer", _answers_and_k,
             hard_cases=({"answers": [7] * 20, "k": 5}, {"answers": list(range(12)), "k": 4},
                         {"answers": [1, 2, 2, 3, 3, 3], "k": 6}, {"answers": [None, 5, None, 5, 6, None], "k": 3}))(
        evaluation.distinct_at_k)
    exercise("format_reward", "1.0 if the text is exactly <think>…</think><answer>…</answer>, both non-empty",
             _response_text)(rewards.format_reward)
    # answers of different lengths, log-probs left on the padding: log π(y) is the masked sum, not a mean
    exercise("reinforce_surrogate", "L = -1/N Σ_i (R_i - b_i) Σ_t m_t log π(y_i,t), a scalar",
             _reinforce_inputs,
             hard_cases=({"token_logprobs": torch.tensor([[-1.0, -2, -3, -4], [-0.5, -0.5, -7, -7]], dtype=torch.float64),
                          "mask": torch.tensor([[1.0, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.float64),
                          "rewards": torch.tensor([1.0, 0.0], dtype=torch.float64),
                          "baseline": torch.tensor([0.0, 1.0], dtype=torch.float64)},))(
        policy_gradient.reinforce_surrogate)
    # notebook 04: a completion with no tokens (the 1/|o_i| of "grpo" must not be 0/0), and padding holding
    # large losses that only the mask keeps out
    empty_row = {"per_token_loss": torch.tensor([[0.5, -1.0, 2.0], [3.0, 3.0, 3.0]], dtype=torch.float64),
                 "mask": torch.tensor([[1.0, 1, 0], [0, 0, 0]], dtype=torch.float64), "loss_type": "grpo",
                 "max_completion_length": 3}
    full_row = {"per_token_loss": torch.tensor([[1.0, 2.0, 1e3, 1e3], [1.0, 1.0, 1.0, 1.0]], dtype=torch.float64),
                "mask": torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.float64), "loss_type": "bnpo",
                "max_completion_length": 4}
    exercise("aggregate_loss", "average per-token losses (B, T) over the mask as loss_type 'grpo', 'bnpo' or "
             "'dr_grpo' does", _aggregation_inputs, hard_cases=(empty_row, full_row))(algorithms.aggregate_loss)
    exercise("success_rate", "success rate p of 0/1 outcomes and its standard error sqrt(p(1-p)/n)", _successes,
             hard_cases=({"successes": torch.ones(5, dtype=torch.float64)},       # p = 1: no spread, SE 0
                         {"successes": torch.tensor([0.0, 1.0])}),                # n = 2: n, not n - 1
             solution=evaluation.success_rate)(_success_rate_of)
    # two turns with a tool observation between them: both turns get A_i, the observation gets 0
    two_turn_weights = {"advantages": torch.tensor([1.5, -0.5], dtype=torch.float64),
                        "mask": torch.tensor([[0, 0, 1, 1, 0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]],
                                             dtype=torch.float64)}
    # notebook 07: the door is the short way, but only with the key (a search over cells alone says 5 moves, or -1
    # when it treats the door as a wall), and a goal walled off
    detour_for_the_key = {"rows": ["K.#G", "..D.", "A.#."], "start": (2, 0)}
    walled_off = {"rows": ["A.#.", "..#G", "..#."], "start": (0, 0)}
    exercise("optimal_length", "moves of the shortest plan from start to G, -1 if none; the state is (cell, has key)",
             _plan_grid, hard_cases=(detour_for_the_key, walled_off), solution=planning.shortest_plans)(
        planning.optimal_length)
    # notebook 08: no right member (every reward 0), a wrong member with fewer calls than any right one (n is the
    # fewest calls of the *right* members), and a right member with no call at all (n = 0: the cosine branch)
    exercise("otc_group_rewards", "r_i = r_tool(m_i, n) · 1[correct_i], n = fewest calls of a right member",
             _tool_call_group, hard_cases=({"calls": [0, 1, 2], "correct": [False, False, False]},
                                           {"calls": [0, 1, 2, 1], "correct": [False, True, True, True]},
                                           {"calls": [0, 1, 2, 3], "correct": [True, True, False, True]}))(
        tool_use.otc_group_rewards)
    exercise("retrieved_tokens", "1 for each token whose first character lies in a retrieved span [a, b), else 0",
             _tokens_and_spans, hard_cases=(
                 {"offsets": [(0, 3), (3, 6), (6, 9)], "spans": []},                         # nothing retrieved
                 {"offsets": [(0, 4), (4, 8), (8, 9), (9, 12)], "spans": [[2, 8], [8, 12]]},  # straddles, adjacent
                 {"offsets": [(0, 2), (2, 5), (5, 7)], "spans": [[0, 2], [5, 7]]}))(rollout.retrieved_tokens)
    # notebook 09: a room visited at different turns by different episodes (group by the state, not the turn index),
    # a room one episode came back to (each visit counts), and a room seen once (its step advantage is 0)
    revisits = {"returns": [[0.5, 0.6, 0.8, 1.0], [0.5, 0.8, 1.0], [0.0, 0.0]],
                "anchors": [["start", "hall", "hall", "vault"], ["start", "hall", "vault"], ["start", "dead end"]]}
    exercise("step_group_advantages", "A^S = R_t - mean of the returns of every turn of the group taken from the same "
             "state (GiGPO's step groups, F_norm = 1)", _step_groups, hard_cases=(revisits,))(
        algorithms.step_group_advantages)
    # notebook 11: ADD into a hole a DELETE left before a filled slot (the first empty slot, not the one after the
    # last filled), and DELETE of the slot written last (it is empty again: written goes back to -1)
    hole = memory.Bank((None, "Keso job miner", None), (-1, 2, -1))
    exercise("apply_memory_operation", "the Bank after a valid ADD / UPDATE / DELETE / NOOP written at `time`: ADD "
             "into the first empty slot, text on one line, written[i] = time (-1 once deleted)", _bank_and_operation,
             hard_cases=({"bank": hole, "action": Action("memory", operation="ADD", entry="Moda job  baker"), "time": 3},
                         {"bank": hole, "action": Action("memory", operation="DELETE", slot=2), "time": 3}))(
        memory.apply)
    # notebook 12: a right first answer the second attempt breaks beside its mirror image, and a group whose first
    # attempts all agree (that attempt has no spread: its advantages are 0, not 0/0)
    exercise("stage_two_advantages", "(G, 2): each attempt's SCoRe stage II reward (r1, r2 + α (r2 - r1)) against "
             "the same attempt of the group: minus its mean, over its unbiased std + 1e-6", _two_attempt_group,
             hard_cases=({"r1": torch.tensor([1.0, 0.0, 0.0, 0.0]), "r2": torch.tensor([0.0, 1.0, 0.0, 0.0]),
                          "alpha": 10.0},
                         {"r1": torch.tensor([1.0, 1.0, 1.0, 1.0]), "r2": torch.tensor([1.0, 0.0, 1.0, 1.0]),
                          "alpha": 10.0}))(reflection.stage_two_advantages)
    # two plans that differ at every position but one insertion and one deletion apart; an empty answer
    exercise("edit_distance", "the fewest insertions, deletions and substitutions that turn a into b",
             lambda g: {"a": "".join("UDLR"[int(i)] for i in torch.randint(0, 4, (_int(g, 0, 8),), generator=g)),
                        "b": "".join("UDLR"[int(i)] for i in torch.randint(0, 4, (_int(g, 0, 8),), generator=g))},
             hard_cases=({"a": "RDRD", "b": "DRDR"}, {"a": "", "b": "UUL"}))(reflection.edit_distance)
    # notebook 13: a group that looks exactly at the target rate (no bonus), one where nobody looks, one member with
    # three calls among many without (RaPR counts episodes that looked, not calls), and members whose only calls were
    # refused (a refused crop is no visual operation: it neither counts as looking nor costs a call)
    exercise("curiosity_rewards", "r'_i = r_i + α max(H - RaPR, 0) 1[n_i > 0] + β min(N - n_i, 0) from each member's "
             "calls (True: carried out, False: refused), n_i its visual operations, RaPR the group's share of "
             "episodes with one", _visual_call_group,
             hard_cases=({"calls": [[True]] * 3 + [[]] * 7, "correct": [True] * 10},
                         {"calls": [[], [], [], []], "correct": [True, False, True, False]},
                         {"calls": [[True] * 3] + [[]] * 7, "correct": [False] + [True] * 7},
                         {"calls": [[False, False], [False], [True], [], [], [], [], []], "correct": [True] * 8}))(
        perception.curiosity_group_rewards)
    # notebook 14: the honest code of "multiply x by 5" when f(5) is an example (its 5 is the task's, no sign of
    # cheating), and the examples of a list task hard-coded, with no number in the code that is itself a shown value
    times_five = _code_task(lambda t: t.info["template"] == "times" and any(v == t.info["constant"] for v in _shown(t)))
    add_each = _code_task(lambda t: t.info["template"] == "add_each")
    exercise("hard_coded", "True when the code holds one of the shown inputs or outputs as a literal (a constant, or a "
             "whole list written out) that the reference solution task.answer does not hold", _code_submission,
             hard_cases=({"task": times_five, "code": times_five.answer},
                         {"task": add_each, "code": coding.hard_coded_solution(add_each)}))(coding.hard_coded)
    # notebook 15: a tie between two values each written two ways; equal forms outvoting a more common spelling;
    # unreadable answers, which vote for nothing but count in the share
    exercise("majority_answer", "the canonical form most answers share (by math_tasks.canonical) and its share of ALL "
             "answers; no readable answer, or a tie for the most votes: (None, 0.0)", _sampled_answers,
             hard_cases=({"answers": ["1/2", "2/4", "1/3", "2/6"]}, {"answers": ["1/2", "2/4", "3/6", "1/3", "1/3"]},
                         {"answers": ["3/4", None, "x?", ""]}, {"answers": [None, "?"]}))(math_tasks.majority_answer)
    # notebook 16: a checkbox page (each box's label is a text node beside it, inside a label element) and a link
    # paragraph (text nodes with negative refs between the links)
    exercise("describe_page", "(ref, kind, text) of each element an agent can see or use, in page order: button, link "
             "(a span of class alink), textbox (its value), checkbox (its label's text), text; no containers",
             _web_page, hard_cases=({"elements": web.make_page("click-checkboxes", random.Random(0)).elements},
                                    {"elements": web.make_page("click-link", random.Random(1)).elements}))(web.describe)
    # notebook 17: no answer at all (the episode ran out of turns) is wrong, not an abstention; "I don't know" as a
    # model writes it (capitals, a full stop, "do not"); a threshold of 0 (then a wrong answer costs nothing)
    exercise("abstention_reward", "1 if correct, 0 for \"I don't know\" (as tasks.normalise reads it, or \"I do not "
             "know\"), and for a wrong answer the cost that makes answering pay exactly when P(right) > threshold",
             _graded_answer, hard_cases=({"answer_text": None, "correct": False, "threshold": 0.5},
                                         {"answer_text": " I DON'T KNOW.", "correct": False, "threshold": 0.5},
                                         {"answer_text": "I do not know", "correct": False, "threshold": 0.8},
                                         {"answer_text": "miner", "correct": False, "threshold": 0.0}))(
        trust.abstention_reward_of)
    # notebook 19: fewer groups than workers (some get none), a remainder (the first workers take one more), and
    # groups of one episode (a split by episodes and by groups then agree: only the order of shares can be wrong)
    exercise("shard_groups", "slice(start, stop) of the n_groups · group_size episodes for each of n_workers workers: "
             "whole groups, in order, the first n_groups % n_workers workers one group more",
             lambda g: {"n_groups": _int(g, 1, 12), "group_size": _int(g, 1, 6), "n_workers": _int(g, 1, 6)},
             hard_cases=({"n_groups": 2, "group_size": 3, "n_workers": 4}, {"n_groups": 5, "group_size": 4, "n_workers": 3},
                         {"n_groups": 7, "group_size": 1, "n_workers": 3}))(distributed.shard_groups)
    exercise("grpo_token_weights", "w_{i,t} = m_{i,t} A_i / (B Σ_t m_{i,t}): each token's push in GRPO's gradient",
             _episodes_with_turns, hard_cases=(two_turn_weights,), solution=grpo_token_weights)(_grpo_weights_by_autograd)


def _shown(task) -> list:
    """The inputs and outputs of a code task's examples."""
    return [value for pair in task.info["visible"] for value in pair]


def _code_task(wanted: Callable, seed: int = 0):
    """The first code task (from `seed` on) that `wanted` accepts."""
    return next(task for task in sample_tasks("code", 500, seed=seed) if wanted(task))


def _code_submission(g):
    """A code task whose reference holds none of its shown values (that regime is a hard case), and a submission:
    the honest code, another constant's (a bug), the examples hard-coded, or one shown output returned always."""
    import ast
    from agentic_lab import coding
    task = _code_task(lambda t: not any(v in _shown(t) for v in coding.literals(ast.parse(t.answer))),
                      seed=_int(g, 0, 10**6))
    kind = ["honest", "bug", "hard-coded", "one output"][_int(g, 0, 3)]
    code = (task.answer if kind == "honest" else
            coding.buggy_solution(task, random.Random(_int(g, 0, 99))) if kind == "bug" else
            coding.hard_coded_solution(task) if kind == "hard-coded" else
            f"def f(x):\n    return {task.info['visible'][0][1]!r}")
    return {"task": task, "code": code}


def _sampled_answers(g):
    """Two to eight answers to one question, as a model samples them: one to three values, each written in any of
    its forms (3/4, 6/8, 0.75), now and then nothing (None) or text that is no answer."""
    values = [(_int(g, 1, 5), _int(g, 2, 8)) for _ in range(_int(g, 1, 3))]
    answers = []
    for _ in range(_int(g, 2, 8)):
        roll = _int(g, 0, 19)
        if roll == 0:
            answers.append(None)
        elif roll == 1:
            answers.append(["?", "", "a/b", "1//"][_int(g, 0, 3)])
        else:
            a, b = values[_int(g, 0, len(values) - 1)]
            scale = _int(g, 1, 3)
            answers.append(f"{a * scale}/{b * scale}" if _int(g, 0, 3) else f"{a / b:g}")
    return {"answers": answers}


def _web_page(g):
    """The elements of a twin page of any task, split and layout."""
    from agentic_lab import web
    rng = random.Random(_int(g, 0, 10**6))
    page = web.make_page(rng.choice(web.TASKS), rng, rng.choice(["train", "test"]), rng.choice(web.PERTURBATIONS))
    return {"elements": page.elements}


def _bank_and_operation(g):
    """A bank of 1 to 5 slots filled from slot 1 on (as ADD alone fills one), and one operation it can take, its text
    with stray spaces at times; time: the next fact's number."""
    from agentic_lab.actions import Action
    from agentic_lab.memory import Bank
    size, names = _int(g, 1, 5), ["Keso", "Moda", "Fino", "Dufe"]
    filled = _int(g, 0, size)
    def fact():
        return f"{names[_int(g, 0, 3)]} job{' ' * _int(g, 1, 2)}{['miner', 'baker', 'weaver'][_int(g, 0, 2)]}"
    slots = tuple(" ".join(fact().split()) if i < filled else None for i in range(size))
    bank = Bank(slots, tuple(i + 1 if i < filled else -1 for i in range(size)))
    kinds = ["NOOP"] + (["ADD"] if filled < size else []) + (["UPDATE", "DELETE"] if filled else [])
    kind = kinds[_int(g, 0, len(kinds) - 1)]
    slot = _int(g, 1, filled) if kind in ("UPDATE", "DELETE") else None
    entry = fact() if kind in ("ADD", "UPDATE") else None
    return {"bank": bank, "action": Action("memory", operation=kind, slot=slot, entry=entry), "time": filled + 1}


def _step_groups(g):
    """One group of 2 to 5 episodes of 1 to 6 turns, each turn in one of a few states (so states recur, within an
    episode and across), with its discounted return."""
    states = [f"room {k}" for k in range(_int(g, 1, 5))]
    returns, anchors = [], []
    for _ in range(_int(g, 2, 5)):
        turns = _int(g, 1, 6)
        returns.append(torch.rand(turns, generator=g, dtype=torch.float64).tolist())
        anchors.append([states[_int(g, 0, len(states) - 1)] for _ in range(turns)])
    return {"returns": returns, "anchors": anchors}


def _tokens_and_spans(g):
    """A tokenised observation (tokens of 1 to 4 characters, as a BPE tokenizer cuts one) and a few non-overlapping
    retrieved spans, which need not fall on token boundaries."""
    offsets, start = [], 0
    for _ in range(_int(g, 1, 12)):
        end = start + _int(g, 1, 4)
        offsets.append((start, end))
        start = end
    cuts = sorted({_int(g, 0, start) for _ in range(2 * _int(g, 0, 3))})
    return {"offsets": offsets, "spans": [[a, b] for a, b in zip(cuts[::2], cuts[1::2]) if a < b]}


def _tool_call_group(g):
    """One GRPO group: each member's number of tool calls (0 to 4) and whether it was right."""
    size = _int(g, 2, 8)
    return {"calls": [_int(g, 0, 4) for _ in range(size)], "correct": [bool(_int(g, 0, 1)) for _ in range(size)]}


def _visual_call_group(g):
    """One GRPO group of 2 to 8 episodes: each one's visual tool calls (none half of the time, else 1 to 3, each
    refused a third of the time) and whether it was right."""
    size = _int(g, 2, 8)
    return {"calls": [[_int(g, 0, 2) > 0 for _ in range(_int(g, 1, 3) * _int(g, 0, 1))] for _ in range(size)],
            "correct": [bool(_int(g, 0, 1)) for _ in range(size)]}


def _two_attempt_group(g):
    """One stage II group of 2 to 8 episodes: each attempt right or wrong, and α from 1 to 20."""
    size = _int(g, 2, 8)
    return {"r1": torch.randint(0, 2, (size,), generator=g).double(),
            "r2": torch.randint(0, 2, (size,), generator=g).double(), "alpha": 1 + float(torch.rand(1, generator=g)) * 19}


def _plan_grid(g):
    """A random planning world: its map and start, with a key and a door half of the time."""
    from agentic_lab.planning import sample_worlds
    key_door = bool(_int(g, 0, 1))
    world = sample_worlds(1, seed=_int(g, 0, 10**6), lengths=(3, 12) if key_door else (1, 12), key_door=key_door)[0]
    return {"rows": list(world.rows), "start": world.start}


def _gae_inputs(g):
    b, t = _int(g, 1, 3), _int(g, 1, 6)
    mask = _right_padded_mask(g, b, t)
    # values past the end are whatever the value head outputs there: a correct GAE never uses them
    return {"rewards": _normal(g, b, t) * mask, "values": _normal(g, b, t), "mask": mask,
            "gamma": float(torch.rand(1, generator=g)) * 0.5 + 0.5, "lam": float(torch.rand(1, generator=g))}


def _kto_inputs(g):
    n = _int(g, 2, 8)
    pi = _normal(g, n) * 3 - 10
    kl_pi = _normal(g, n) * 3 - 12
    return {"pi_logps": pi, "ref_logps": pi + _normal(g, n), "desirable": torch.rand(n, generator=g) < 0.5,
            "kl_pi_logps": kl_pi, "kl_ref_logps": kl_pi - _normal(g, n).abs() - 0.5,   # KL estimate above 0
            "beta": float(torch.rand(1, generator=g)) * 0.5 + 0.05}


def _aggregation_inputs(g):
    b, t = _int(g, 1, 4), _int(g, 1, 8)
    loss_type = ("grpo", "bnpo", "dr_grpo")[_int(g, 0, 2)]
    # padding holds nonzero losses, as a real per-token loss does there before masking
    return {"per_token_loss": _normal(g, b, t), "mask": _right_padded_mask(g, b, t), "loss_type": loss_type,
            "max_completion_length": t + _int(g, 0, 4)}


def _ppo_inputs(g):
    b, t = _int(g, 1, 3), _int(g, 1, 6)
    logprobs = _normal(g, b, t) * 0.1 - 1
    return {"logprobs": logprobs, "old_logprobs": logprobs + _normal(g, b, t) * 0.3,
            "advantages": _normal(g, b, t), "mask": _right_padded_mask(g, b, t), "clip_eps": 0.2}


def _reinforce_inputs(g):
    n, t = _int(g, 1, 6), _int(g, 1, 6)
    baseline = _normal(g, n) if torch.rand(1, generator=g) < 0.5 else float(torch.rand(1, generator=g))
    return {"token_logprobs": -torch.rand(n, t, generator=g, dtype=torch.float64) * 3,   # padding included
            "mask": _right_padded_mask(g, n, t), "rewards": _normal(g, n) + 1, "baseline": baseline}


_register_all()
