"""Reward models (notebook 01): the gold preference, noisy pairs, and a Bradley–Terry model that learns."""
import math

import pytest
import torch

from agentic_lab import reward_model as rm_lib
from agentic_lab.eval import paired_gain
from agentic_lab.tasks import sample_tasks

TASK = sample_tasks("word_problem", 1, seed=0, split="test")[0]
RIGHT, WRONG = TASK.answer, str(int(TASK.answer) + 1)


def test_gold_prefers_correct_then_well_formed_then_short():
    long_right = f"<think>{'x' * 60}</think><answer>{RIGHT}</answer>"
    assert rm_lib.gold_reward(TASK, long_right) > rm_lib.gold_reward(TASK, f"<answer>{WRONG}</answer>")
    assert rm_lib.gold_reward(TASK, f"<answer>{RIGHT}</answer>") > rm_lib.gold_reward(TASK, f"<answer>{RIGHT}</answer>!")
    assert rm_lib.gold_reward(TASK, f"<answer>{RIGHT}</answer>") > rm_lib.gold_reward(TASK, long_right)
    assert rm_lib.gold_parts(TASK, "no tags") == {"correct": False, "well_formed": False, "length": 7}


def test_labels_follow_gold_with_the_stated_noise():
    tasks = [TASK] * 4000
    responses = [[f"<answer>{RIGHT}</answer>", f"<answer>{RIGHT}</answer>xx"]] * len(tasks)  # margin 0.51
    pairs = rm_lib.preference_pairs(tasks, responses, tau=0.25, seed=0)
    wrong = sum(p.gold_margin < 0 for p in pairs) / len(pairs)
    expected = 1 / (1 + math.exp(0.51 / 0.25))  # σ(-Δ/τ)
    assert abs(wrong - expected) < 4 * math.sqrt(expected * (1 - expected) / len(pairs))
    assert rm_lib.preference_pairs([TASK], [["same", "same"]]) == []


def test_reward_is_read_at_the_last_token_whatever_the_padding(tiny):
    reward_model, tokenizer = rm_lib.load_reward_model(seed=0)
    short, long = "<answer>1</answer>", f"<think>{'1+1=2 ' * 8}</think><answer>2</answer>"
    together = rm_lib.rewards(reward_model, tokenizer, [TASK, TASK], [short, long])
    alone = torch.cat([rm_lib.rewards(reward_model, tokenizer, [TASK], [r]) for r in (short, long)])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_training_beats_the_untrained_head_on_the_same_held_out_pairs(tiny):
    """Notebook 01's claim at its own scale (1,500 training prompts): the trained reward model agrees with gold on
    more of the held-out pairs than the untrained head does on the very same pairs. The untrained head is not a coin
    flip (it agreed on 0.432 of them), so the comparison is paired, against it, not against 0.5."""
    policy, tokenizer = tiny
    train = sample_tasks("word_problem", 1500, seed=1, split="train")
    test = sample_tasks("word_problem", 400, seed=1, split="test")
    train_pairs = rm_lib.labelled_pairs(policy, tokenizer, train, seed=0)
    test_pairs = rm_lib.labelled_pairs(policy, tokenizer, test, seed=1)
    reward_model, _ = rm_lib.load_reward_model(seed=0)
    before = rm_lib.evaluate_pairs(reward_model, tokenizer, test_pairs)["gold_agrees"]
    rm_lib.train_reward_model(reward_model, tokenizer, train_pairs, epochs=2, progress=False)
    after = rm_lib.evaluate_pairs(reward_model, tokenizer, test_pairs)["gold_agrees"]
    gain, stderr = paired_gain(before, after)
    # measured: +0.197 ± 0.045 on 264 non-tie pairs (0.432 -> 0.629), 4.4 SE; notebook 01 calls it a clear gain
    assert gain > 2 * stderr, (gain, stderr, len(after))


def test_best_of_n_keeps_the_proxy_favourite_of_each_disjoint_group():
    proxy = torch.tensor([[0.1, 0.9, 0.5, 0.2]])    # one prompt, four answers
    gold = torch.tensor([[1.0, 0.0, 2.0, 3.0]])
    assert rm_lib.best_of_n(proxy, gold, 1)[1].item() == pytest.approx(1.5)   # every answer: the plain mean
    kept_proxy, kept_gold = rm_lib.best_of_n(proxy, gold, 2)                # groups (0.1, 0.9) and (0.5, 0.2)
    assert kept_proxy.item() == pytest.approx(0.7) and kept_gold.item() == pytest.approx(1.0)
    assert rm_lib.best_of_n(proxy, gold, 4)[1].item() == 0.0                # the proxy's favourite is gold's worst
    assert rm_lib.best_of_n_kl(1) == 0.0 and rm_lib.best_of_n_kl(2) == pytest.approx(math.log(2) - 0.5)
