"""The GRPO family in agentic_lab.algorithms computes what TRL 1.16's GRPOTrainer and RLOOTrainer compute.

Each comparison builds a TRL trainer from a config, feeds its own loss or advantage code a fixed batch, and
checks our function on the same batch: losses to 1e-5 (relative once above 1: float32 sums taken in another order
differ in the sixth digit), gradients to 1e-5, clip fractions and KL as TRL logs them.
Hand-computed cases then show what each normalisation and helper does.
"""
import pytest
import torch
from datasets import Dataset
from trl import GRPOConfig, GRPOTrainer, RLOOConfig, RLOOTrainer
from trl.rewards import get_soft_overlong_punishment

from agentic_lab import load_model
from agentic_lab.algorithms import (aggregate_loss, grpo_loss, group_advantages, overlong_penalty, rloo_advantages, rloo_loss,
                                    top_spread_groups, truncated_importance_weights, zero_spread_groups)
from agentic_lab.policy_gradient import token_logprobs

PROMPTS = ["What is 2+2?", "Go north.", "Hi", "Open the door, then go east."]
COMPLETION_LENGTHS = [8, 5, 2, 7]                   # right padding of different lengths exercises every mask
ADVANTAGES = [1.0, -0.5, 0.8, -1.2]
# log(π_θ/π_old) = offset_i + noise: sequence 0 drifts up (A > 0: clipped high), sequence 1 down (A < 0:
# clipped low), so the token-level and the sequence-level (GSPO) clips both bind somewhere.
RATIO_OFFSETS = [0.3, -0.3, 0.0, 0.1]
MAX_COMPLETION_LENGTH = 8
REWARDS = [1.0, 0.0, 0.0, 0.5, 0.2, 0.9, 0.4, 0.4]    # two groups of 4, whatever the completions say


def same_loss(ours: float, trl: float) -> bool:
    return abs(ours - trl) <= 1e-5 * max(1.0, abs(trl))


def fixed_rewards(completions, **kwargs):
    return REWARDS[:len(completions)]


pytestmark = pytest.mark.usefixtures("one_thread")


def fresh_model():
    """TRL patches the forward of the model it trains, so every trainer gets its own copy of the tiny model."""
    return load_model()


@pytest.fixture(scope="module")
def batch():
    """Inputs of GRPOTrainer._compute_loss, and the same batch as our side takes it."""
    model, tokenizer = fresh_model()
    prompts = tokenizer(PROMPTS, return_tensors="pt", padding=True)          # left-padded, as TRL's prompts
    g = torch.Generator().manual_seed(0)
    completion_ids = torch.randint(2, 60, (len(PROMPTS), MAX_COMPLETION_LENGTH), generator=g)
    completion_mask = (torch.arange(MAX_COMPLETION_LENGTH)[None] < torch.tensor(COMPLETION_LENGTHS)[:, None]).long()
    completion_ids = completion_ids.masked_fill(completion_mask == 0, tokenizer.pad_token_id)
    ids = torch.cat([prompts.input_ids, completion_ids], dim=1)
    attention = torch.cat([prompts.attention_mask, completion_mask], dim=1)
    with torch.no_grad():
        logprobs = token_logprobs(model, ids, attention)[:, -MAX_COMPLETION_LENGTH:]        # (B, C)
    noise = torch.randn(logprobs.shape, generator=g)
    old = logprobs - torch.tensor(RATIO_OFFSETS)[:, None] - 0.3 * noise
    ref = logprobs + 0.5 * torch.randn(logprobs.shape, generator=g)
    inputs = {"prompt_ids": prompts.input_ids, "prompt_mask": prompts.attention_mask,
              "completion_ids": completion_ids, "completion_mask": completion_mask,
              "advantages": torch.tensor(ADVANTAGES), "old_per_token_logps": old, "ref_per_token_logps": ref,
              "num_items_in_batch": completion_mask.sum()}
    return {"inputs": inputs, "ids": ids, "attention": attention, "old": old, "ref": ref,
            "mask": completion_mask.float()}


# TRL's configs default to bf16=True, even on CPU, where autocast then rounds the log-probs by ~0.05; and to
# gradient checkpointing, which only slows these tiny backward passes.
COMMON_CONFIG = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "report_to": [],
                 "save_strategy": "no", "num_generations": 4, "max_completion_length": MAX_COMPLETION_LENGTH}


def grpo_trainer(tmp_path, **config):
    model, tokenizer = fresh_model()
    args = GRPOConfig(output_dir=str(tmp_path), **{"per_device_train_batch_size": 4, **COMMON_CONFIG, **config})
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=args, reward_funcs=fixed_rewards,
                          train_dataset=Dataset.from_dict({"prompt": PROMPTS * 2}))
    model.train()                                   # TRL normalises differently in train and eval mode
    trainer.current_gradient_accumulation_steps = 1  # the training loop sets it; we call the loss directly
    return trainer


def our_loss(batch, micro_batch=slice(None), **kwargs):
    """grpo_loss on our own model's log-probs of the batch's ids; returns (loss, metrics, model)."""
    model, _ = fresh_model()
    model.train()
    logprobs = token_logprobs(model, batch["ids"][micro_batch], batch["attention"][micro_batch])
    loss, metrics = grpo_loss(logprobs[:, -MAX_COMPLETION_LENGTH:], batch["old"][micro_batch],
                              batch["inputs"]["advantages"][micro_batch], batch["mask"][micro_batch],
                              ref_logprobs=batch["ref"][micro_batch], **kwargs)
    return loss, metrics, model


def gradient(model):
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


# Each variant: GRPOConfig fields, and the same settings in grpo_loss's names.
VARIANTS = {
    "grpo": ({"loss_type": "grpo"}, {"loss_type": "grpo"}),
    "bnpo": ({"loss_type": "bnpo"}, {"loss_type": "bnpo"}),
    "dr_grpo": ({"loss_type": "dr_grpo"},
                {"loss_type": "dr_grpo", "max_completion_length": MAX_COMPLETION_LENGTH}),
    "dapo": ({"loss_type": "dapo"}, {"loss_type": "dapo"}),
    "dapo_clip_higher": ({"loss_type": "dapo", "epsilon_high": 0.28}, {"loss_type": "dapo", "epsilon_high": 0.28}),
    "grpo_kl": ({"loss_type": "grpo", "beta": 0.04}, {"loss_type": "grpo", "beta": 0.04}),
    "grpo_kl_uncorrected": ({"loss_type": "grpo", "beta": 0.04, "use_bias_correction_kl": False},
                            {"loss_type": "grpo", "beta": 0.04, "kl_bias_correction": False}),
    "bnpo_kl": ({"loss_type": "bnpo", "beta": 0.04, "epsilon": 0.1},
                {"loss_type": "bnpo", "beta": 0.04, "epsilon_low": 0.1, "epsilon_high": 0.1}),
    "gspo": ({"loss_type": "grpo", "importance_sampling_level": "sequence"},
             {"loss_type": "grpo", "importance_sampling_level": "sequence"}),
    "gspo_kl": ({"loss_type": "grpo", "importance_sampling_level": "sequence", "beta": 0.04},
                {"loss_type": "grpo", "importance_sampling_level": "sequence", "beta": 0.04}),
    "gspo_dapo": ({"loss_type": "dapo", "importance_sampling_level": "sequence"},
                  {"loss_type": "dapo", "importance_sampling_level": "sequence"}),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_grpo_loss_equals_trl_grpo_trainer(variant, batch, tmp_path):
    config, ours = VARIANTS[variant]
    trainer = grpo_trainer(tmp_path, **config)
    trl_loss = trainer.compute_loss(trainer.model, batch["inputs"])
    trl_loss.backward()
    loss, metrics, model = our_loss(batch, **ours)
    loss.backward()
    assert same_loss(loss.item(), trl_loss.item()), (loss.item(), trl_loss.item())
    torch.testing.assert_close(gradient(model), gradient(trainer.model), atol=1e-5, rtol=1e-4)
    logged = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    assert metrics["clip_low"] == pytest.approx(logged["clip_ratio/low_mean"], abs=1e-6)
    assert metrics["clip_high"] == pytest.approx(logged["clip_ratio/high_mean"], abs=1e-6)
    assert metrics["clip_region"] == pytest.approx(logged["clip_ratio/region_mean"], abs=1e-6)
    assert ("kl" in metrics) == ("kl" in logged)
    if "kl" in metrics:
        assert metrics["kl"] == pytest.approx(logged["kl"], abs=1e-5)


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_importance_weights_for_another_sampler_equal_trl_grpo_trainer(loss_type, batch, tmp_path):
    """Tokens sampled by a stale or different policy: TRL multiplies the clipped term by its truncated importance
    ratio when vLLM sampled; ours takes the same weights from truncated_importance_weights."""
    sampler = batch["old"] + 0.5 * torch.randn(batch["old"].shape, generator=torch.Generator().manual_seed(1))
    weights = truncated_importance_weights(batch["old"], sampler, batch["mask"], cap=2.0)
    assert weights.max() == 2.0 and weights.min() < 0.8                 # the cap binds, and some tokens weigh little
    trainer = grpo_trainer(tmp_path, loss_type=loss_type, beta=0.04)
    trainer.use_vllm = trainer.vllm_importance_sampling_correction = True   # TRL weighs only what vLLM sampled
    trl_loss = trainer.compute_loss(trainer.model, {**batch["inputs"], "importance_sampling_ratio": weights})
    trl_loss.backward()
    loss, _, model = our_loss(batch, loss_type=loss_type, beta=0.04, importance_weights=weights)
    loss.backward()
    assert same_loss(loss.item(), trl_loss.item()), (loss.item(), trl_loss.item())
    torch.testing.assert_close(gradient(model), gradient(trainer.model), atol=1e-5, rtol=1e-4)
    unweighted, _, _ = our_loss(batch, loss_type=loss_type, beta=0.04)
    assert not same_loss(loss.item(), unweighted.item())


def test_truncated_importance_weights_are_the_capped_ratio_on_the_mask():
    old, sampler = torch.log(torch.tensor([[0.5, 0.9, 0.1]])), torch.log(torch.tensor([[0.25, 0.1, 0.4]]))
    weights = truncated_importance_weights(old, sampler, torch.tensor([[1.0, 1.0, 0.0]]), cap=3.0)
    torch.testing.assert_close(weights, torch.tensor([[2.0, 3.0, 1.0]]))  # 0.9/0.1 = 9 is capped; off the mask: 1


@pytest.mark.parametrize("level", ["token", "sequence"])
def test_the_fixed_batch_clips_on_both_sides(level, batch):
    _, metrics, _ = our_loss(batch, importance_sampling_level=level)
    assert metrics["clip_low"] > 0 and metrics["clip_high"] > 0


def test_dapo_normalises_over_the_whole_accumulation_window_as_trl(batch, tmp_path):
    """Two micro-batches accumulated into one step: TRL's "dapo" divides each by the step's token count N, so
    the two losses add up to the token mean over the step; "bnpo" averages the two micro-batch means."""
    halves = [slice(0, 2), slice(2, 4)]
    total_tokens = batch["mask"].sum()
    for loss_type in ["dapo", "bnpo"]:
        trainer = grpo_trainer(tmp_path, loss_type=loss_type, gradient_accumulation_steps=2)
        trainer.current_gradient_accumulation_steps = 2
        assert trainer.args.steps_per_generation == 2
        ours = []
        for half in halves:
            micro = {k: v[half] if k != "num_items_in_batch" else v for k, v in batch["inputs"].items()}
            trl_loss = trainer.compute_loss(trainer.model, micro).item()
            loss = our_loss(batch, half, loss_type=loss_type, num_items_in_batch=total_tokens)[0].item()
            loss = loss if loss_type == "dapo" else loss / 2        # a per-micro-batch mean, divided by k = 2
            assert same_loss(loss, trl_loss), (loss_type, loss, trl_loss)
            ours.append(loss)
        whole = our_loss(batch, loss_type=loss_type)[0].item()
        if loss_type == "dapo":
            assert sum(ours) == pytest.approx(whole, abs=1e-5)
        else:  # the halves hold 13 and 9 tokens: a mean of means is not the token mean
            assert abs(sum(ours) - whole) > 1e-3


def generated_advantages(trainer):
    rows = [{"prompt": PROMPTS[0]}] * 4 + [{"prompt": PROMPTS[1]}] * 4    # what TRL's sampler yields: G per prompt
    return trainer._generate_and_score_completions(rows)["advantages"]


@pytest.mark.parametrize("scale", ["group", "batch", "none", True, False])
def test_group_advantages_equal_trl_grpo_trainer(scale, tmp_path):
    trainer = grpo_trainer(tmp_path, scale_rewards=scale, per_device_train_batch_size=8)
    ours = group_advantages(torch.tensor(REWARDS), group_size=4, scale=scale)
    torch.testing.assert_close(ours, generated_advantages(trainer), atol=1e-6, rtol=0)


def rloo_trainer(tmp_path):
    model, tokenizer = fresh_model()
    args = RLOOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, **COMMON_CONFIG,
                      beta=0.0)  # TRL's default 0.05 would subtract β Σ_t k1 from each reward first
    trainer = RLOOTrainer(model=model, processing_class=tokenizer, args=args, reward_funcs=fixed_rewards,
                          train_dataset=Dataset.from_dict({"prompt": PROMPTS * 2}))
    model.train()
    return trainer


def test_rloo_advantages_equal_trl_rloo_trainer(tmp_path):
    ours = rloo_advantages(torch.tensor(REWARDS), group_size=4)
    torch.testing.assert_close(ours, generated_advantages(rloo_trainer(tmp_path)), atol=1e-6, rtol=0)


def test_rloo_loss_and_gradients_equal_trl_rloo_trainer(batch, tmp_path):
    trainer = rloo_trainer(tmp_path)
    inputs = {k: batch["inputs"][k] for k in ["prompt_ids", "prompt_mask", "completion_ids", "completion_mask",
                                              "advantages"]}
    inputs["old_logps"] = (batch["old"] * batch["mask"]).sum(1)
    trl_loss = trainer.compute_loss(trainer.model, inputs)
    trl_loss.backward()
    model, _ = fresh_model()
    logprobs = token_logprobs(model, batch["ids"], batch["attention"])[:, -MAX_COMPLETION_LENGTH:]
    loss, metrics = rloo_loss(logprobs, batch["old"], batch["inputs"]["advantages"], batch["mask"])
    loss.backward()
    # ρ_i exponentiates a sum of 8 token log-ratios, so the ~1e-6 float32 differences between our log-softmax and
    # TRL's selective one add up: 1.2e-5 relative in the loss, 1.7e-5 in one gradient entry of 1.8M, on an AMD
    # EPYC; hence tolerances of 1e-4 relative to the loss and to the largest gradient
    assert loss.item() == pytest.approx(trl_loss.item(), rel=1e-4)
    ours, theirs = gradient(model), gradient(trainer.model)
    torch.testing.assert_close(ours, theirs, atol=1e-4 * theirs.abs().max().item(), rtol=1e-4)
    logged = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    assert metrics["clip_region"] == pytest.approx(logged["clip_ratio/region_mean"], abs=1e-6)
    assert metrics["clip_region"] > 0               # the sequence ratios leave [0.8, 1.2] on this batch


# --- hand-computed cases -----------------------------------------------------------------------------------

def on_policy_case():
    """Two completions of 1 and 3 tokens, ratio 1 everywhere, so each token's loss is -A_i: (-2) and (+1, +1, +1)."""
    logprobs = torch.full((2, 4), -1.0)
    mask = torch.tensor([[1.0, 0, 0, 0], [1, 1, 1, 0]])
    return logprobs, logprobs.clone(), torch.tensor([2.0, -1.0]), mask


@pytest.mark.parametrize("loss_type, kwargs, expected", [
    ("grpo", {}, (-2 / 1 + 3 / 3) / 2),                          # mean of sequence means: the short one weighs 1/2
    ("bnpo", {}, (-2 + 3) / 4),                                   # mean over the 4 tokens
    ("dr_grpo", {"max_completion_length": 4}, (-2 + 3) / (2 * 4)),  # sum over B * max_completion_length
    ("dapo", {}, (-2 + 3) / 4),                                   # one micro-batch: the same as bnpo
    ("dapo", {"num_items_in_batch": 8}, (-2 + 3) / 8),            # N from the whole step
])
def test_normalisations_by_hand(loss_type, kwargs, expected):
    loss, _ = grpo_loss(*on_policy_case(), loss_type=loss_type, **kwargs)
    assert loss.item() == pytest.approx(expected)


def test_sequence_level_ratio_is_the_geometric_mean_of_token_ratios():
    logprobs = torch.tensor([[-1.0, -2.0, -3.0]], requires_grad=True)
    old = torch.tensor([[-1.1, -2.5, 0.0]])          # the third token is padding: its huge ratio must not count
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    loss, metrics = grpo_loss(logprobs, old, torch.tensor([1.0]), mask, importance_sampling_level="sequence")
    rho = torch.exp(torch.tensor((0.1 + 0.5) / 2))  # 1.35: above 1 + ε with A > 0, so clipped to 1.2
    assert rho > 1.2 and loss.item() == pytest.approx(-1.2)
    assert metrics["clip_high"] == 1.0
    loss.backward()                                  # clipped: no gradient to any token of the sequence
    assert torch.all(logprobs.grad == 0)
    token_loss, token_metrics = grpo_loss(logprobs, old, torch.tensor([1.0]), mask)
    assert token_loss.item() == pytest.approx(-(torch.exp(torch.tensor(0.1)).item() + 1.2) / 2)
    assert token_metrics["clip_high"] == 0.5         # per token, only the second token is clipped


def test_kl_term_is_k3_to_the_reference_weighted_by_the_ratio():
    logprobs, _, _, mask = on_policy_case()
    old = logprobs - 0.1                              # ρ = e^0.1 on every token
    ref = logprobs - 0.5                              # log r = log π_ref - log π = -0.5 on every token
    k3 = torch.exp(torch.tensor(-0.5)).item() - 1 + 0.5
    rho = torch.exp(torch.tensor(0.1)).item()
    for correction, kl in [(True, rho * k3), (False, k3)]:
        loss, metrics = grpo_loss(logprobs, old, torch.zeros(2), mask, loss_type="bnpo", beta=0.1,
                                  ref_logprobs=ref, kl_bias_correction=correction)
        assert metrics["kl"] == pytest.approx(kl) and loss.item() == pytest.approx(0.1 * kl)


def test_unknown_switches_are_errors():
    with pytest.raises(ValueError):
        grpo_loss(*on_policy_case(), loss_type="ppo")
    with pytest.raises(ValueError):
        grpo_loss(*on_policy_case(), importance_sampling_level="tokens")
    with pytest.raises(ValueError):
        grpo_loss(*on_policy_case(), loss_type="dr_grpo")   # needs max_completion_length


def test_group_advantages_by_hand():
    rewards = torch.tensor([1.0, 0.0, 0.0, 1.0, 3.0, 3.0, 3.0, 3.0])
    std = torch.tensor([1.0, 0.0, 0.0, 1.0]).std().item()      # unbiased: sqrt(1/3)
    expected = torch.tensor([0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0])
    torch.testing.assert_close(group_advantages(rewards, 4, scale="none"), expected)
    torch.testing.assert_close(group_advantages(rewards, 4), expected / (std + 1e-4))
    torch.testing.assert_close(group_advantages(rewards, 4, scale="batch"), expected / (rewards.std() + 1e-4))


def test_rloo_advantages_by_hand():
    # group [1, 0, 0, 1]: baselines are the mean of the other three: 1/3, 2/3, 2/3, 1/3
    torch.testing.assert_close(rloo_advantages(torch.tensor([1.0, 0.0, 0.0, 1.0]), 4),
                               torch.tensor([2 / 3, -2 / 3, -2 / 3, 2 / 3]))
    rewards = torch.tensor([0.3, 0.7, 0.1, 2.0, 1.0, 5.0])
    torch.testing.assert_close(rloo_advantages(rewards, 3), group_advantages(rewards, 3, scale="none") * 3 / 2)


def test_zero_spread_groups_by_hand():
    rewards = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.5, 0.5, 0.5])
    assert zero_spread_groups(rewards, 3).tolist() == [True, False, True]


def test_top_spread_groups_by_hand():
    """RAGEN's filter keeps the floor(fraction * n_groups) groups of largest reward spread, at least one; a tie goes to
    the earlier group. Spreads here: 0, 0.577, 0.5, 0.577."""
    rewards = torch.tensor([1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.5, 1.0, 1.0, 0.0, 1.0])
    assert top_spread_groups(rewards, 3, 0.5).tolist() == [False, True, False, True]
    assert top_spread_groups(rewards, 3, 0.75).tolist() == [False, True, True, True]
    assert top_spread_groups(rewards, 3, 0.25).tolist() == [False, True, False, False]
    assert top_spread_groups(rewards, 3, 0.1).tolist() == [False, True, False, False]
    assert top_spread_groups(rewards, 3, 1.0).all()


def test_overlong_penalty_by_hand_and_as_trl():
    lengths = torch.tensor([50, 80, 90, 100, 101, 200])
    expected = [0.0, 0.0, -0.5, -1.0, -1.0, -1.0]     # max_len 100, the last 20 tokens ramp from 0 to -1
    assert overlong_penalty(lengths, max_len=100, cache_len=20).tolist() == pytest.approx(expected)
    trl_penalty = get_soft_overlong_punishment(max_completion_len=100, soft_punish_cache=20)
    assert trl_penalty([[0] * n for n in lengths.tolist()]) == pytest.approx(expected)


def test_length_bias_in_numbers():
    """Notebook 04's hand-built group: two short right answers (4 tokens), two long wrong ones (12). Under "grpo"
    each wrong token is pushed down a third as hard as each right token is pushed up; "bnpo" and "dr_grpo" push every
    token alike, so the whole long wrong answer takes three times the push of a short right one."""
    lengths = torch.tensor([4, 4, 12, 12])
    mask = (torch.arange(12)[None, :] < lengths[:, None]).float()
    advantages = group_advantages(torch.tensor([1.0, 1.0, 0.0, 0.0]), 4)
    def push(loss_type):
        logprobs = torch.zeros(4, 12, requires_grad=True)
        grpo_loss(logprobs, torch.zeros(4, 12), advantages, mask, loss_type=loss_type, max_completion_length=12)[0].backward()
        return -logprobs.grad
    grpo = push("grpo")
    assert grpo[2, 0] / grpo[0, 0] == pytest.approx(-1 / 3) and grpo[2].sum() == pytest.approx(-grpo[0].sum())
    for loss_type in ["bnpo", "dr_grpo"]:
        w = push(loss_type)
        assert w[2, 0] == pytest.approx(-w[0, 0]) and w[2].sum() == pytest.approx(-3 * w[0].sum())


def test_aggregate_loss_keeps_an_empty_completion_at_zero():
    per_token = torch.tensor([[1.0, 3.0, 99.0], [5.0, 5.0, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert aggregate_loss(per_token, mask, "grpo").item() == pytest.approx(1.0)          # (2 + 0) / 2
    assert aggregate_loss(per_token, mask, "bnpo").item() == pytest.approx(2.0)
    assert aggregate_loss(per_token, mask, "dr_grpo", max_completion_length=4).item() == pytest.approx(0.5)


@pytest.mark.slow
def test_dapo_fills_the_batch_and_its_overlong_penalty_binds_at_notebook_04s_settings(tiny):
    """Notebook 04's headline for DAPO, at its own settings (Navigation, 6 groups of 8, max_new_tokens=12,
    overlong_cache=4, mu = 2, lr 1e-4), over its first 4 steps: dynamic sampling trains on more informative groups than
    one rollout holds, filling the batch on every step, and the overlong penalty reaches a real share of answers."""
    import copy
    from agentic_lab.envs import TaskEnv
    from agentic_lab.rl import RLConfig, grpo_train
    model, tokenizer = tiny
    config = RLConfig(n_groups=6, group_size=8, lr=1e-4, max_new_tokens=12, num_iterations=2, loss_type="dapo",
                      epsilon_high=0.28, dynamic_sampling=True, overlong_cache=4)
    history = grpo_train(copy.deepcopy(model), tokenizer, lambda: TaskEnv("navigation", max_turns=1), steps=4,
                         config=config, seed=0, progress=False)
    informative_in_one_round = sum(6 * (1 - h["zero_spread"]) for h in history) / 4
    kept = sum(h["kept_groups"] for h in history) / 4
    assert all(h["kept_groups"] == 6 for h in history) and kept > informative_in_one_round   # refilled every step
    assert any(h["sampling_rounds"] > 1 for h in history)
    assert sum(h["overlong_penalised"] for h in history) / 4 > 0.05
