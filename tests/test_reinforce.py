"""The REINFORCE estimator of notebook 02, section 1: its loss, and the measurement of its variance."""
from types import SimpleNamespace

import torch
from torch import nn

from agentic_lab.policy_gradient import gradient_variance, leave_one_out_baseline, reinforce_surrogate


class Bandit(nn.Module):
    """A one-token policy π = softmax(θ) over V arms, callable like a causal LM."""

    def __init__(self, arms: int = 5):
        super().__init__()
        self.theta = nn.Parameter(torch.randn(arms, generator=torch.Generator().manual_seed(1)))

    def forward(self, input_ids, attention_mask):
        return SimpleNamespace(logits=self.theta.expand(*input_ids.shape, -1))


def bandit_batch(policy, pulls: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    arms = torch.multinomial(torch.softmax(policy.theta.detach(), 0), pulls, replacement=True, generator=g)
    ids = torch.stack([torch.zeros_like(arms), arms], 1)                    # (N, 2): a prompt token, the action
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "loss_mask": torch.ones(pulls, 1)}
    rewards = torch.linspace(0, 1, len(policy.theta))[arms] + 0.1 * torch.randn(pulls, generator=g)
    return batch, rewards


def test_reinforce_surrogate_gradient_is_the_score_function_estimate():
    policy = Bandit()
    batch, rewards = bandit_batch(policy, 6)
    logprobs = torch.log_softmax(policy.theta, 0)[batch["input_ids"][:, 1]][:, None]       # (N, 1)
    reinforce_surrogate(logprobs, batch["loss_mask"], rewards, 0.3).backward()
    pi = torch.softmax(policy.theta.detach(), 0)
    score = torch.eye(len(pi))[batch["input_ids"][:, 1]] - pi                  # ∇ log π(a) = e_a - π
    torch.testing.assert_close(-policy.theta.grad, ((rewards - 0.3)[:, None] * score).mean(0))


def test_leave_one_out_baseline():
    torch.testing.assert_close(leave_one_out_baseline(torch.tensor([1.0, 2, 3, 0, 0, 6]), 3),
                               torch.tensor([2.5, 2, 1.5, 3, 3, 0]))


def test_variance_parabola_matches_the_gradients_it_never_stores():
    policy, G = Bandit(), 4
    batch, rewards = bandit_batch(policy, 16 * G)
    bs = [-1.0, 0.0, 0.5]
    result = gradient_variance(policy, batch, rewards, G, bs, blocks=2)
    pi = torch.softmax(policy.theta.detach(), 0).double()
    score = torch.eye(len(pi), dtype=torch.float64)[batch["input_ids"][:, 1]] - pi        # (N, V)
    for j, b in enumerate(bs):
        g = ((rewards.double() - b)[:, None] * score).view(16, G, -1).mean(1)               # (K, V): the ĝ_k
        per_block = [x.var(0).sum() for x in g.view(2, 8, -1)]                              # unbiased traces
        torch.testing.assert_close(result["variance"][j], sum(per_block) / 2)
    loo = ((rewards - leave_one_out_baseline(rewards, G)).double()[:, None] * score).view(16, G, -1).mean(1)
    torch.testing.assert_close(result["loo"], sum(x.var(0).sum() for x in loo.view(2, 8, -1)) / 2)


def test_a_baseline_makes_the_noise_independent_of_the_rewards_zero():
    """Shift every reward by +5 (the same task: a reward model is defined up to a shift): without a baseline the
    estimate gets far noisier; with the leave-one-out baseline it does not change at all; the mean reward as a
    constant baseline is close to the best constant b*."""
    policy, G = Bandit(), 4
    batch, rewards = bandit_batch(policy, 64 * G)
    plain = gradient_variance(policy, batch, rewards, G, [0.0, rewards.mean().item()])
    shifted = gradient_variance(policy, batch, rewards + 5, G, [0.0, (rewards + 5).mean().item()])
    assert shifted["variance"][0] > 10 * plain["variance"][0]
    torch.testing.assert_close(shifted["loo"], plain["loo"])
    torch.testing.assert_close(shifted["variance"][1], plain["variance"][1], rtol=1e-4, atol=1e-8)
    assert shifted["variance"][1] < shifted["variance"][0] / 10
    torch.testing.assert_close(shifted["best_b"], plain["best_b"] + 5, rtol=1e-4, atol=1e-6)
