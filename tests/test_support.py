"""Notebook 18: the expressions outside the calculator family's forms (agentic_lab.support), distinct@k, and the
headline at the notebook's scale: RL amplifies inside the base model's support."""
import copy
import re

import pytest

from agentic_lab.eval import distinct_at_k, pass_at_k
from agentic_lab.support import TEMPLATES
from agentic_lab.tasks import sample_tasks
from agentic_lab.tools import calculate

# every prompt the calculator family writes: a*b, a*b+c, a*b-c or (a+c)*b, a of 2 or 3 digits, b of 2
CALCULATOR_FORM = re.compile(r"What is (\d{2,3}\*\d{2}([+-]\d{1,2})?|\(\d{2,3}\+\d{1,2}\)\*\d{2})\?")


def test_the_calculator_form_matches_every_calculator_prompt():
    tasks = sample_tasks("calculator", 300, seed=0) + sample_tasks("calculator", 100, seed=0, split="test")
    assert all(CALCULATOR_FORM.fullmatch(t.prompt) for t in tasks)


@pytest.mark.parametrize("template", list(TEMPLATES))
def test_new_expressions_are_outside_the_calculator_forms_and_calc_answers_them(template):
    for split in ("train", "test"):
        for task in sample_tasks("new_expressions", 100, seed=0, split=split, template=template):
            assert not CALCULATOR_FORM.fullmatch(task.prompt), task.prompt
            assert calculate(task.info["expr"]) == task.answer
            assert task.check(task.answer) and not task.check(str(int(task.answer) + 1))


def test_an_unknown_template_is_refused():
    with pytest.raises(ValueError, match="template must be one of"):
        sample_tasks("new_expressions", 1, template="a^b")


@pytest.mark.parametrize("answers, k, expected", [
    ([3, 3, 3, 3], 2, 1.0), ([1, 2, 3, 4], 3, 3.0), ([1, 1, 2, None], 4, 2.0), ([None, None], 1, 0.0)])
def test_distinct_at_k_at_its_ends(answers, k, expected):
    assert distinct_at_k(answers, k) == pytest.approx(expected)


def test_distinct_at_k_is_the_mean_over_every_draw_of_k():
    from itertools import combinations
    answers, k = [1, 1, 2, 3, 3, 3, None], 3
    draws = list(combinations(answers, k))
    assert distinct_at_k(answers, k) == pytest.approx(sum(len(set(d) - {None}) for d in draws) / len(draws))


@pytest.mark.slow
def test_inside_its_support_rl_raises_pass_at_1_not_pass_at_256_and_narrows_the_answers(training_threads):
    """Notebook 18's section 2 at its scale: 16 held-out calculator problems sampled 256 times at T = 1 before and
    after 10 GRPO steps (4 groups of 4, lr 1e-4). Paired by problem: pass@1 rises by more than two standard errors,
    pass@256 does not rise by two, and the number of different answers among 256 samples falls by more than two."""
    import numpy as np

    from agentic_lab import load_model
    from agentic_lab.envs import TaskEnv
    from agentic_lab.eval import play_tasks
    from agentic_lab.rl import RLConfig, grpo_train
    base, tokenizer = load_model()
    problems, n = sample_tasks("calculator", 16, seed=0, split="test"), 256

    def per_problem(policy):
        played = play_tasks(policy, tokenizer, [t for t in problems for _ in range(n)], temperature=1.0, seed=0,
                            max_turns=3)
        runs = [played[i * n:(i + 1) * n] for i in range(len(problems))]
        return (np.array([[pass_at_k(n, sum(e.success for e in run), k) for k in (1, n)] for run in runs]),
                np.array([distinct_at_k([e.final_answer for e in run], n) for run in runs]))

    trained = copy.deepcopy(base)
    grpo_train(trained, tokenizer, lambda: TaskEnv("calculator", max_turns=3), steps=10,
               config=RLConfig(n_groups=4, group_size=4, lr=1e-4), progress=False)
    (pass_before, distinct_before), (pass_after, distinct_after) = per_problem(base), per_problem(trained)

    def gain(after, before):
        d = after - before
        return d.mean(), d.std(ddof=1) / np.sqrt(len(d))
    at_1, at_1_se = gain(pass_after[:, 0], pass_before[:, 0])
    at_n, at_n_se = gain(pass_after[:, 1], pass_before[:, 1])
    fewer, fewer_se = gain(distinct_before, distinct_after)
    assert at_1 > 2 * at_1_se
    assert at_n <= 2 * at_n_se + 1e-9
    assert fewer > 2 * fewer_se


def test_long_values_hold_the_asked_value_at_its_length_among_two_short_ones():
    for length in (56, 80):
        for task in sample_tasks("long_values", 50, seed=0, split="test", length=length):
            note = task.prompt.splitlines()[1]
            values = [part.split(" ", 1)[1] for part in note.split(": ", 1)[1].rstrip(".").split("; ")]
            assert len(task.answer) == length and task.answer in values and len(values) == 3
            assert all(len(v) <= 12 for v in values if v != task.answer)
    lengths = {t.info["length"] for t in sample_tasks("long_values", 100, seed=0, length=(56, 60, 64, 68))}
    assert lengths == {56, 60, 64, 68}


def test_long_values_held_out_keys_are_never_trained_on():
    def keys(split):
        return {t.prompt.splitlines()[1].split(":")[0] for t in sample_tasks("long_values", 300, seed=0, split=split,
                                                                             length=(56, 60, 64, 68))}
    assert not keys("train") & keys("test")


@pytest.mark.slow
def test_rl_on_copies_it_rarely_gets_right_solves_longer_ones_the_base_never_solved(training_threads):
    """Notebook 18's section 4 at its scale: 40 GRPO steps (8 groups of 8, lr 1e-4) on values of 56-68 characters;
    8 held-out values of 80 characters, each sampled 256 times at T = 1 by the base model and by the trained model
    (the same sampling seed). No base sample copies any of them whole; the trained model copies at least three of
    them whole at least once, and pass@256 rises by more than two standard errors, paired by problem."""
    import numpy as np

    from agentic_lab import load_model
    from agentic_lab.envs import TaskEnv
    from agentic_lab.eval import correct_per_task
    from agentic_lab.rl import RLConfig, grpo_train
    base, tokenizer = load_model()
    trained = copy.deepcopy(base)
    grpo_train(trained, tokenizer, lambda: TaskEnv("long_values", max_turns=1, params={"length": (56, 60, 64, 68)}),
               steps=40, config=RLConfig(n_groups=8, group_size=8, lr=1e-4), progress=False)
    problems, n = sample_tasks("long_values", 8, seed=0, split="test", length=80), 256
    before, after = (np.array(correct_per_task(policy, tokenizer, problems, n, temperature=1.0, seed=0, max_turns=3))
                     for policy in (base, trained))
    assert before.sum() == 0
    newly = (after > 0).astype(float) - (before > 0)              # pass@256 of each problem, after minus before
    assert newly.sum() >= 3 and newly.mean() > 2 * newly.std(ddof=1) / np.sqrt(len(newly))
