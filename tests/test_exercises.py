"""Every exercise checker accepts the reference answer and rejects a plausible wrong one."""
import math
import re

import pytest
import torch
import torch.nn.functional as F

from agentic_lab.exercises import EXERCISES, check


def _gae_without_mask(rewards, values, mask, gamma, lam):
    """Bootstraps from the padding after a sequence ends: the classic off-by-one of GAE."""
    adv = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else 0.0
        last = rewards[:, t] + gamma * next_value - values[:, t] + gamma * lam * last
        adv[:, t] = last
    return adv * mask, (adv + values) * mask


def _ppo_max_instead_of_min(logprobs, old_logprobs, advantages, mask, clip_eps):
    ratio = (logprobs - old_logprobs).exp()
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps)
    per_token = -torch.max(ratio * advantages, clipped * advantages)
    return (per_token * mask).sum() / mask.sum()


def _group_advantages_population_std(rewards, group_size):
    g = rewards.view(-1, group_size)
    return ((g - g.mean(1, keepdim=True)) / (g.std(1, unbiased=False, keepdim=True) + 1e-4)).reshape(-1)


def _rloo_including_self(rewards, group_size):
    g = rewards.view(-1, group_size)
    return (g - g.mean(1, keepdim=True)).reshape(-1)


def _pass_at_k_with_replacement(n, c, k):
    return 1 - (1 - c / n) ** k


PLAUSIBLE_WRONG = {
    "bradley_terry_loss": lambda r_chosen, r_rejected: F.logsigmoid(r_chosen - r_rejected),      # sign
    "pairwise_accuracy": lambda r_chosen, r_rejected: (r_chosen >= r_rejected).double().mean(),  # ties count
    "gae": _gae_without_mask,
    "kl_k3": lambda logprobs, ref_logprobs: logprobs - ref_logprobs,                              # that is k1
    "ppo_policy_loss": _ppo_max_instead_of_min,
    "dpo_loss": lambda pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta:                     # no reference
        -F.logsigmoid(beta * (pi_chosen - pi_rejected)),
    "simpo_loss": lambda pi_chosen_avg, pi_rejected_avg, beta, gamma:                           # γ inside β
        -F.logsigmoid(beta * (pi_chosen_avg - pi_rejected_avg - gamma)),
    "group_advantages": _group_advantages_population_std,
    "rloo_advantages": _rloo_including_self,
    "pass_at_k": _pass_at_k_with_replacement,
    "format_reward": lambda text: float(bool(re.search(r"<think>.+</think><answer>.+</answer>", text))),  # search
}


def test_every_exercise_has_a_wrong_answer_to_reject():
    assert set(PLAUSIBLE_WRONG) == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_checker_accepts_the_reference(name):
    assert check(name, EXERCISES[name].reference, verbose=False)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_checker_rejects_a_plausible_wrong_answer(name):
    assert not check(name, PLAUSIBLE_WRONG[name], verbose=False)


def test_unattempted_exercise_is_reported_not_raised(capsys):
    def not_yet(**kwargs):
        raise NotImplementedError
    assert not check("gae", not_yet)
    assert "not attempted yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_code_is_reported(capsys):
    assert not check("pass_at_k", lambda n, c, k: math.comb(n - c, k) / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_diagnosis_names_the_sign_error(capsys):
    check("bradley_terry_loss", PLAUSIBLE_WRONG["bradley_terry_loss"])
    assert "sign is flipped" in capsys.readouterr().out
