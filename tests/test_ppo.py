"""PPO building blocks against numbers computed by hand (TRL 1.16 has no PPO trainer to compare with)."""
import math

import pytest
import torch

from agentic_lab.policy_gradient import kl_k1, kl_k2, kl_k3
from agentic_lab.ppo import PolicyWithValue, explained_variance, gae, kl_penalised_rewards, ppo_policy_loss, value_loss


def test_gae_by_hand():
    # Row 0: three steps. Row 1: two steps and one padded step whose reward 9 and value 7 must be ignored.
    rewards = torch.tensor([[1.0, 0.0, 2.0], [0.0, 1.0, 9.0]])
    values = torch.tensor([[0.5, 1.0, -0.5], [1.0, 2.0, 7.0]])
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    advantages, returns = gae(rewards, values, mask, gamma=0.9, lam=0.8)   # γλ = 0.72
    # row 0: δ2 = 2 - (-0.5) = 2.5        (no V_3: the episode ends)
    #        δ1 = 0 + 0.9·(-0.5) - 1.0 = -1.45,   A1 = -1.45 + 0.72·2.5 = 0.35
    #        δ0 = 1 + 0.9·1.0 - 0.5 = 1.4,        A0 = 1.4 + 0.72·0.35 = 1.652
    # row 1: δ1 = 1 - 2 = -1,  δ0 = 0 + 0.9·2 - 1 = 0.8,  A0 = 0.8 + 0.72·(-1) = 0.08
    torch.testing.assert_close(advantages, torch.tensor([[1.652, 0.35, 2.5], [0.08, -1.0, 0.0]]))
    torch.testing.assert_close(returns, torch.tensor([[2.152, 1.35, 2.0], [1.08, 1.0, 0.0]]))  # A + V


def test_gae_carries_credit_across_observations_to_the_first_turn():
    """A two-turn episode: message, tool output (mask 0), message; reward 1 at the end. With γ = λ = 1 and V = 0
    every token the policy wrote gets A = 1: the observation is not the end of the episode."""
    mask = torch.tensor([[1.0, 1, 0, 0, 1, 1]])
    rewards = torch.tensor([[0.0, 0, 0, 0, 0, 1]])
    advantages, returns = gae(rewards, torch.zeros(1, 6), mask, gamma=1.0, lam=1.0)
    torch.testing.assert_close(advantages, mask)
    torch.testing.assert_close(returns, mask)
    # γ = 0.5: the observation tokens do not count as steps, so the first turn is 3 and 2 actions from the reward
    advantages, _ = gae(rewards, torch.zeros(1, 6), mask, gamma=0.5, lam=1.0)
    torch.testing.assert_close(advantages, torch.tensor([[0.125, 0.25, 0, 0, 0.5, 1.0]]))


def test_gae_stops_at_the_episode_end_it_is_given():
    """Two episodes packed in one row: credit from the second must not reach the first."""
    mask = torch.ones(1, 4)
    rewards = torch.tensor([[0.0, 2.0, 0.0, 5.0]])
    episode_end = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    advantages, _ = gae(rewards, torch.zeros(1, 4), mask, gamma=1.0, lam=1.0, episode_end=episode_end)
    torch.testing.assert_close(advantages, torch.tensor([[2.0, 2.0, 5.0, 5.0]]))


def test_gae_limits_are_td_error_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)
    mask = torch.ones(2, 5)
    next_values = torch.cat([values[:, 1:], torch.zeros(2, 1)], dim=1)
    td, _ = gae(rewards, values, mask, gamma=0.9, lam=0.0)                 # λ = 0: A_t = δ_t
    torch.testing.assert_close(td, rewards + 0.9 * next_values - values)
    mc, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)           # λ = γ = 1: A_t = Σ_{l≥t} r_l - V_t
    reward_to_go = rewards.flip(1).cumsum(1).flip(1)
    torch.testing.assert_close(mc, reward_to_go - values)
    torch.testing.assert_close(returns, reward_to_go)


def test_ppo_policy_loss_clips_one_token_and_not_the_others():
    old = torch.zeros(1, 4)
    logprobs = torch.log(torch.tensor([[1.5, 0.9, 1.5, 100.0]])).requires_grad_()   # ρ = π/π_old since old = 0
    advantages = torch.tensor([[1.0, 2.0, -1.0, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])                            # the last token is padding
    loss, clip_fraction = ppo_policy_loss(logprobs, old, advantages, mask, clip_eps=0.2)
    # token 0: ρ = 1.5 > 1.2 with A > 0: min(1.5, 1.2) = 1.2, clipped (no gradient)
    # token 1: ρ = 0.9 inside [0.8, 1.2]: min(1.8, 1.8) = 1.8
    # token 2: ρ = 1.5 with A < 0: min(-1.5, -1.2) = -1.5, the unclipped term is the pessimistic one
    assert loss.item() == pytest.approx(-(1.2 + 1.8 - 1.5) / 3)
    assert clip_fraction.item() == pytest.approx(1 / 3)
    loss.backward()                                   # d(-ρA/3)/d log π = -ρA/3 where not clipped
    torch.testing.assert_close(logprobs.grad, torch.tensor([[0.0, -0.9 * 2 / 3, 1.5 / 3, 0.0]]))


def test_value_loss_by_hand():
    values = torch.tensor([[1.0, 2.0, 50.0]])
    old_values = torch.tensor([[0.5, 2.0, 0.0]])
    returns = torch.tensor([[2.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    # token 0: V moved 0.5 from V_old; V_clip = 0.5 + 0.2 = 0.7: max((1-2)², (0.7-2)²) = 1.69
    # token 1: V = V_old: (2-1)² = 1
    assert value_loss(values, old_values, returns, mask, clip_eps=0.2).item() == pytest.approx(0.5 * (1.69 + 1) / 2)


def test_kl_estimators_by_hand():
    logprobs, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])   # log r = -0.5 and +1
    torch.testing.assert_close(kl_k1(logprobs, ref), torch.tensor([0.5, -1.0]))
    torch.testing.assert_close(kl_k2(logprobs, ref), torch.tensor([0.125, 0.5]))
    torch.testing.assert_close(kl_k3(logprobs, ref), torch.tensor([math.exp(-0.5) - 0.5, math.e - 2]))


def test_k3_is_never_negative_and_zero_only_where_the_policies_agree():
    g = torch.Generator().manual_seed(0)
    logprobs, ref = torch.randn(10_000, generator=g) * 3, torch.randn(10_000, generator=g) * 3
    assert (kl_k3(logprobs, ref) >= 0).all() and (kl_k2(logprobs, ref) >= 0).all()
    assert (kl_k1(logprobs, ref) < 0).any()           # k1 is only right on average
    assert kl_k3(logprobs, logprobs).abs().max() == 0


def test_k1_and_k3_average_to_the_kl_on_samples_from_the_policy():
    p, q = torch.tensor([0.7, 0.2, 0.1]), torch.tensor([0.1, 0.2, 0.7])
    log_ratio = (p / q).log()                         # ±log 7 = ±1.946, and 0
    kl = (p * log_ratio).sum().item()                 # KL(p || q) = 0.6 · 1.946 = 1.168
    samples = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    logprobs, ref = p.log()[samples], q.log()[samples]
    assert kl_k1(logprobs, ref).mean().item() == pytest.approx(kl, abs=0.02)
    assert kl_k3(logprobs, ref).mean().item() == pytest.approx(kl, abs=0.02)
    k2 = (p * 0.5 * log_ratio ** 2).sum().item()      # k2 is biased: ½ E[(log r)²] = 1.515 here
    assert kl_k2(logprobs, ref).mean().item() == pytest.approx(k2, abs=0.02) and k2 - kl > 0.3


def test_kl_penalised_rewards_put_the_score_on_the_last_token():
    logprobs = torch.tensor([[-1.0, -1.0, -1.0], [-2.0, -2.0, -2.0]])
    ref = torch.tensor([[-1.5, -0.5, -1.0], [-1.0, -1.0, -1.0]])
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]])
    rewards = kl_penalised_rewards(torch.tensor([3.0, -1.0]), logprobs, ref, mask, kl_coef=0.1)
    # -0.1·(log π - log π_ref) per token; the score lands on token 2 of row 0 and on token 0 of row 1
    torch.testing.assert_close(rewards, torch.tensor([[-0.05, 0.05, 3.0], [0.1 - 1.0, 0.0, 0.0]]))


def test_policy_with_value_returns_the_lm_logits_and_one_value_per_token(tiny):
    model, tokenizer = tiny
    policy = PolicyWithValue(model)
    batch = tokenizer(["go north", "hi"], return_tensors="pt", padding=True)
    logits, values = policy(batch.input_ids, batch.attention_mask)
    assert values.shape == batch.input_ids.shape
    with torch.no_grad():
        torch.testing.assert_close(logits, model(**batch).logits)
    assert values[0].std() > 0                        # a value per position, not one per sequence
    values.sum().backward()
    assert policy.value_head.weight.grad.abs().sum() > 0
    # the critic reads the policy's body but does not train it (see PolicyWithValue.forward)
    assert all(p.grad is None for p in model.parameters())


def test_explained_variance_is_one_for_a_perfect_critic_and_zero_for_a_constant():
    returns = torch.tensor([[1.0, 2.0, 3.0, 99.0]])
    mask = torch.tensor([[1.0, 1, 1, 0]])              # the padded 99 is ignored
    assert explained_variance(returns, returns, mask) == pytest.approx(1.0)
    assert explained_variance(torch.full_like(returns, 5.0), returns, mask) == pytest.approx(0.0, abs=1e-6)
    assert explained_variance(-returns, returns, mask) < 0


def test_unclipped_value_loss_is_half_the_squared_error():
    values, old, returns = torch.tensor([[0.0, 1.0]]), torch.tensor([[5.0, 5.0]]), torch.tensor([[1.0, 3.0]])
    assert value_loss(values, old, returns, torch.ones(1, 2), clip_eps=None).item() == pytest.approx(0.5 * (1 + 4) / 2)
