"""Notebook 15's parts: the SymPy verifier (right on equal forms, safe on hostile text), the majority vote, the task
families' held-out splits, and the rewriting kernel of the toy prover."""
import json
import random
import time

import gymnasium as gym
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentic_lab import math_tasks as m
from agentic_lab.envs import TaskEnv
from agentic_lab.tasks import sample_tasks


@pytest.mark.parametrize("family", ["fractions", "expand"])
def test_every_form_a_solver_writes_is_equal_and_string_match_misses_some(family):
    tasks = sample_tasks(family, 40, seed=0)
    for task in tasks:
        assert all(m.verify(form, task.answer) == "equal" for form in task.info["forms"]), task
        assert task.check(task.answer) and m.string_check(task, task.answer)
    missed = [form for task in tasks for form in task.info["forms"][1:] if not m.string_check(task, form)]
    assert len(missed) >= len(tasks) // 2


@pytest.mark.parametrize("predicted, gold, verdict", [
    ("5/12", "10/24", "equal"), ("0.75", "3/4", "equal"), ("3/4.", "3/4", "equal"), (" 1 ", "1", "equal"),
    ("6+5x+x^2", "x^2+5x+6", "equal"), ("x*x+2x+3x+6", "x^2+5x+6", "equal"), ("(x+2)(x+3)", "x^2+5x+6", "equal"),
    ("0.8333", "5/6", "different"), ("x^2+5x+5", "x^2+5x+6", "different"), ("5", "x^2+5x+6", "different"),
    ("", "1", "unparseable"), ("five", "5", "unparseable"), ("1/0", "1", "unparseable"), ("0/0", "1", "unparseable"),
    ("()", "1", "unparseable"), ("x, 1", "1", "unparseable"), ("x^(1/2)", "1", "unparseable"), ("1e10", "1", "unparseable"),
])
def test_the_verifier_decides_by_value_not_by_spelling(predicted, gold, verdict):
    assert m.verify(predicted, gold) == verdict


@pytest.mark.parametrize("hostile", [
    "9^9^9", "9**9**9", "2^12^12", "((x+1)^12)^12", "(((x+1)^12)^12)^12", "((x^12)^12)^12", "x^99999999",
    "(" * 50 + "x" + ")" * 50, "9" * 500, "x" * 61, "__import__('os').system('true')", "().__class__",
    "lambda: 1", "exec('1')", "1;1", "\x00", "\u00e9", "x^-99", "99999999999999999",
])
def test_hostile_answers_are_unparseable_at_once(hostile):
    start = time.perf_counter()
    assert m.verify(hostile, "1") == "unparseable"
    assert m.canonical(hostile) is None
    assert time.perf_counter() - start < 1.0


def test_a_comparison_past_its_time_limit_is_a_timeout_and_the_timer_is_put_back():
    heavy = "(x+1)^12*(x+2)^12*(x+3)^12*(x+4)^12"
    assert m.verify(heavy, "1", seconds=0.001) == "timeout"
    assert m.canonical(heavy, seconds=0.001) is None
    time.sleep(0.01)                          # a timer left running would fire here
    assert m.verify("1/2", "2/4") == "equal"


def _spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class _SpinsWhenDeleted:
    def __del__(self):
        _spin(0.05)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")   # the __del__'s dropped exception
def test_the_timer_is_not_swallowed_by_an_except_exception_or_a_del():
    """CI once saw a 1 ms limit on the heavy product verify as 'different': the signal landed where Python drops
    the exception (a __del__ in `regex`), or in one of SymPy's `except Exception` blocks."""
    with pytest.raises(TimeoutError):
        with m.time_limit(0.001):
            try:
                _spin(0.05)
            except Exception:
                pass
    with pytest.raises(TimeoutError):
        with m.time_limit(0.001):
            _SpinsWhenDeleted()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789x+-*/^(). e", max_size=40))
def test_any_text_gets_a_verdict_and_never_an_exception(text):
    assert m.verify(text, "x^2+1") in m.VERDICTS


def test_the_majority_counts_equal_answers_as_one_vote_and_a_tie_gives_no_label():
    assert m.majority_answer(["5/12", "10/24", "1/2", None, "nonsense"]) == ("5/12", 2 / 5)
    assert m.majority_answer(["x^2+1", "1+x^2", "x*x+1", "x+1"]) == ("x**2 + 1", 3 / 4)
    assert m.majority_answer(["1/2", "0.5", "1/3", "2/6"]) == (None, 0.0)
    assert m.majority_answer([None, "?", ""]) == (None, 0.0)


def _episode(answer_text, gold="5/12"):
    from agentic_lab.actions import parse_action
    from agentic_lab.trajectory import Trajectory, Turn
    text = f"<answer>{answer_text}</answer>" if answer_text is not None else "no answer"
    turn = Turn("What is 1/4 + 1/6?", text, parse_action(text), None, 0.0, True)
    return Trajectory("agentic_lab/Fractions-v0", 0, turns=[turn], info={"answer": gold, "success": False})


def test_ttrl_pays_agreement_with_the_vote_never_the_key():
    group = [_episode(a) for a in ["1/2", "2/4", "0.5", "5/12", None, "?"]]
    assert m.ttrl_rewards(group) == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]         # the majority is wrong, and paid
    tie = [_episode(a) for a in ["1/2", "5/12", "10/24", "2/4"]]
    assert m.ttrl_rewards(tie) == [0.0] * 4
    measured = m.vote_metrics(group_size=4)(tie + [_episode(a) for a in ["5/12", "10/24", "1/2", None]])
    assert measured == {"labelled": 0.5, "agreement": 0.25, "majority_right": 0.5}


def test_fraction_sums_are_held_out_by_question_and_new_pairs_by_their_denominators():
    train = sample_tasks("fractions", 600, seed=0)
    seen = sample_tasks("fractions", 100, seed=0, split="test", pairs="seen")
    new = sample_tasks("fractions", 100, seed=0, split="test", pairs="new")
    assert not {t.prompt for t in train} & {t.prompt for t in seen + new}
    pair = {t.prompt: t.split_keys[1] for t in train + seen + new}
    trained_pairs = {pair[t.prompt] for t in train}
    assert {pair[t.prompt] for t in seen} <= trained_pairs and not trained_pairs & {pair[t.prompt] for t in new}
    assert not any(t.info["new_pair"] for t in train + seen) and all(t.info["new_pair"] for t in new)


@pytest.mark.parametrize("family, params", [("expand", {}), ("prove", {"steps": 2})])
def test_held_out_questions_share_no_key_with_training(family, params):
    train = sample_tasks(family, 300, seed=0, **params)
    test = sample_tasks(family, 60, seed=0, split="test", **params)
    assert not {k for t in train for k in t.split_keys} & {k for t in test for k in t.split_keys}
    assert not {t.prompt for t in train} & {t.prompt for t in test}
    if family == "prove":     # the key is the shape: no test goal is a training goal with other letters
        assert not {m.shape(m.parse_goal(t)) for t in train} & {m.shape(m.parse_goal(t)) for t in test}


# --- the prover --------------------------------------------------------------------------------------------------
def goal(text: str) -> m.Goal:
    left, right = text.split("=")
    return m.parse_term(left), m.parse_term(right)


@pytest.mark.parametrize("before, rule, after", [
    ("a + 0 = a", "add_zero", "a = a"),
    ("(a + 0) * (a + 0) = b", "add_zero", "a * a = b"),                  # every copy of the instance
    ("a + b + (b + a) = c", "add_comm", "b + a + (a + b) = c"),          # the outermost match: x = a + b, y = b + a
    ("a * (b + c) = d", "mul_add", "a * b + a * c = d"),
    ("a * b + a * c = d", "<-mul_add", "a * (b + c) = d"),
    ("a + b + c = d", "add_assoc", "a + (b + c) = d"),
    ("a + (b + c) = d", "<-add_assoc", "a + b + c = d"),
    ("b = a * 1", "mul_one", "b = a"),                                   # the right side when the left has none
])
def test_a_rewrite_replaces_every_copy_of_the_first_match(before, rule, after):
    assert m.show_goal(m.rewrite(goal(before), rule)) == after


@pytest.mark.parametrize("rule, message", [("mul_one", "nothing in the goal matches"), ("add_zro", "no rule"),
                                           ("<-add_zero", "no rule"), ("<-add_comm", "no rule")])
def test_a_rule_that_does_not_apply_is_an_error(rule, message):
    with pytest.raises(m.ToolError, match=message):
        m.rewrite(goal("a + 0 = a"), rule)


terms = st.recursive(st.sampled_from(["a", "b", "c", "0", "1"]),
                     lambda inner: st.tuples(st.sampled_from("+*"), inner, inner), max_leaves=8)


@given(terms)
def test_a_term_reads_back_as_it_is_shown(term):
    assert m.parse_term(m.show(term)) == term


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_a_theorem_of_n_steps_has_a_proof_of_n_steps_and_none_shorter(steps):
    for task in sample_tasks("prove", 10, seed=1, steps=steps):
        proof = task.answer.split(", ")
        assert len(proof) == steps and task.check(task.answer)
        assert m.shortest_proof(m.parse_goal(task), steps - 1) is None
        assert not task.check(", ".join(proof[:-1])) and not task.check("add_comm, nonsense")


def test_a_proof_episode_shows_each_new_goal_and_pays_when_it_closes():
    env = gym.make("agentic_lab/Prove-v0", steps=2)
    _, info = env.reset(seed=0)
    task = info["task"]
    assert "add_assoc: x + y + z = x + (y + z)" in info["tools"][0]["function"]["description"]
    rewards = []
    for rule in task.answer.split(", "):
        observation, reward, terminated, _, info = env.step(
            "<tool_call>" + json.dumps({"name": "rw", "arguments": {"rule": rule}}) + "</tool_call>")
        rewards.append(reward)
    assert rewards == [0.0, 1.0] and terminated and info["success"] and observation.endswith("Proved.")
    env.reset(seed=0)
    observation, reward, terminated, _, _ = env.step('<tool_call>{"name": "rw", "arguments": {"rule": "x"}}'
                                                     '</tool_call>')
    assert observation.startswith("Error: no rule") and reward < 0 and not terminated


@pytest.mark.parametrize("reward, paid", [("sympy", 1.0), ("string", 0.0)])
def test_an_unreduced_answer_is_right_and_only_the_sympy_reward_pays_it(reward, paid):
    env = gym.make("agentic_lab/Fractions-v0", reward=reward)
    task = next(t for t in sample_tasks("fractions", 20, seed=2) if len(t.info["forms"]) > 1)
    env.reset(options={"task": task})
    _, earned, terminated, _, info = env.step(f"<answer>{task.info['forms'][1]}</answer>")
    assert (earned, terminated, info["success"]) == (paid, True, True)


def test_random_theorems_are_reproducible():
    assert m.random_theorem(random.Random(5), 3) == m.random_theorem(random.Random(5), 3)


def test_a_kept_theorem_is_the_one_its_seed_draws():
    """ProveEnv keeps each draw (drawing is a search); what it plays must be what TaskEnv would have drawn."""
    env = m.ProveEnv("test", steps=3)
    for seed in (0, 7, 7):
        env.reset(seed=seed)
        env.np_random, _ = gym.utils.seeding.np_random(seed)
        assert TaskEnv.draw_task(env) == env.task


# --- notebook 15's claims at its own scale -------------------------------------------------------------------------
@pytest.mark.slow
def test_rl_paid_by_the_verifier_gets_more_held_out_sums_right_than_rl_paid_by_string_match(training_threads):
    """Notebook 15's section 4 at its own scale (30 GRPO steps of 8 groups × 8 at lr 1e-4 from data/math-warm, seed
    0, 200 held-out sums of denominators training had, one answer each at T = 1): the run paid by the verifier ends
    right more often than the warm start, and more often than the run paid by string match, each by more than two
    standard errors paired by question (experiments/15_math_rl.py's seed 0: +0.175 ± 0.038 and +0.340 ± 0.040)."""
    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain
    from agentic_lab.rl import RLConfig, grpo_train

    def right(policy, tokenizer):
        return [float(t.success) for t in m.play_fraction_sums(policy, tokenizer, 200, pairs="seen")]

    warm, tokenizer = load_model(m.ANSWER_WARM_START)
    config = RLConfig(n_groups=8, group_size=8, lr=1e-4, max_new_tokens=m.ANSWER_TOKENS)
    after = {}
    for reward in ("sympy", "string"):
        policy, _ = load_model(m.ANSWER_WARM_START)
        grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/Fractions-v0", reward=reward), 30, config, seed=0,
                   progress=False)
        after[reward] = right(policy, tokenizer)
    gain, se = paired_gain(right(warm, tokenizer), after["sympy"])
    assert gain > 2 * se
    gap, se = paired_gain(after["string"], after["sympy"])
    assert gap > 2 * se


@pytest.mark.slow
def test_ttrl_where_the_mistakes_agree_trains_a_wrong_consensus_that_costs_what_the_model_could_do(training_threads):
    """Notebook 15's section 5 at its own scale (30 TTRL steps of 8 groups × 8 at lr 1e-4 from data/math-warm, seed 0,
    on unlabelled sums with denominators 10 to 13): the groups end agreeing almost always, on an answer that is
    almost never right, and the policy then gets fewer of section 4's held-out sums right than the warm start, by
    more than two standard errors (experiments/15_math_rl.py: agreement 0.41 -> 0.99, majority right 0.04 -> 0.12
    on seed 0)."""
    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain
    from agentic_lab.rl import RLConfig, grpo_train

    def right(policy, tokenizer):
        return [float(t.success) for t in m.play_fraction_sums(policy, tokenizer, 200, pairs="seen")]

    warm, tokenizer = load_model(m.ANSWER_WARM_START)
    policy, _ = load_model(m.ANSWER_WARM_START)
    history = grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/Fractions-v0", split="test",
                                                             denominators=(10, 13)), 30,
                         RLConfig(n_groups=8, group_size=8, lr=1e-4, max_new_tokens=m.ANSWER_TOKENS), seed=0,
                         progress=False, group_reward_fn=m.ttrl_rewards, step_metrics=m.vote_metrics(8))
    last = history[-3:]
    assert sum(h["agreement"] for h in last) / 3 > 0.9
    assert sum(h["majority_right"] for h in last) / 3 < 0.25
    loss, se = paired_gain(right(policy, tokenizer), right(warm, tokenizer))
    assert loss > 2 * se


@pytest.mark.slow
def test_one_round_of_expert_iteration_proves_more_held_out_theorems_in_one_try(training_threads):
    """Notebook 15's section 6 at its own scale (one round from data/prove-warm, seed 0: 4 tries of each of 20
    training theorems of 3 and 4 steps, each proved theorem's shortest proof kept, 8 fine-tuning steps at lr 3e-4;
    measured on 16 held-out theorems of each length, 4 tries each): pass@1 rises, and the round newly proves more
    held-out theorems (proved in none of the warm start's tries) than it loses (the notebook's run: +0.070 ± 0.034,
    4 new, 2 lost). Beyond two standard errors over three seeds at a larger scale: experiments/15_prover.py."""
    from agentic_lab import load_model
    from agentic_lab.eval import paired_gain

    def proved_counts(model, tokenizer):
        return [sum(t.success for t in tries) for tries in m.play_theorems(model, tokenizer, (3, 4), 16, 4)]

    prover, tokenizer = load_model(m.PROVER_WARM_START)
    before = proved_counts(prover, tokenizer)
    m.expert_iteration_round(prover, tokenizer, (3, 4), 20, 4, 8, lr=3e-4, seed=0)
    after = proved_counts(prover, tokenizer)
    gain, _ = paired_gain([c / 4 for c in before], [c / 4 for c in after])
    assert gain > 0
    assert sum(b == 0 < a for b, a in zip(before, after)) > sum(a == 0 < b for b, a in zip(before, after))
