"""Each loss in `agentic_lab.preference` equals TRL 1.16's on the same batch, and gets its sign right.

TRL is driven, never copied: DPO, IPO and KTO compute their loss inside `compute_loss` from a tokenised batch, so
we feed the trainer's own collated batch to `compute_loss` and compare with our loss applied to
`sequence_logprobs` of the same models on the same batch. CPO (SimPO) and ORPO expose the loss as a method on
log-probs (`cpo_loss`, `odds_ratio_loss`), which we call directly. Models and fixed log-probs are float64; the
per-token log-probs are float32 on both sides (TRL's fused LM head returns them so, `token_logprobs` casts).
"""
import copy

import pytest
import torch
from datasets import Dataset

from agentic_lab import load_model
from agentic_lab.preference import (bradley_terry_loss, dpo_loss, ipo_loss, kto_loss, orpo_loss, rpo_loss,
                                    sequence_logprobs, simpo_loss)

TOL = 1e-5
PAIRS = {"prompt": ["2+2=", "Go north.", "hello", "Name a colour:"],
         "chosen": ["4", "ok, north", "hi there", "blue"],
         "rejected": ["5", "no", "bye now, see you", "table"]}
LOG2 = torch.log(torch.tensor(2.0, dtype=torch.float64))


def assert_close(mine, trl):
    diff = (torch.as_tensor(mine, dtype=torch.float64) - torch.as_tensor(trl, dtype=torch.float64)).abs().max()
    assert diff <= TOL, f"max abs difference {diff.item():.3g}"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def trl_env():
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
        yield


@pytest.fixture(scope="module")
def models():
    """A float64 policy and a reference that differs from it, so every log-ratio is non-zero."""
    policy, tokenizer = load_model()
    policy = policy.double().eval()
    ref = copy.deepcopy(policy)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in ref.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return policy, ref, tokenizer


def config(cls, tmp_path_factory, **kwargs):
    # TRL configs default to bf16=True, even on CPU: the reference model's forward would then run in bfloat16
    return cls(output_dir=str(tmp_path_factory.mktemp("trl")), use_cpu=True, report_to=[], bf16=False, **kwargs)


def first_batch(trainer):
    """The trainer's own tokenisation and collation of its training set, in one batch."""
    data = trainer.train_dataset
    return trainer.data_collator([data[i] for i in range(len(data))])


def paired_logprobs(model, batch, average=False):
    """DPOTrainer batches are [all chosen; all rejected]: returns (chosen, rejected) log-probs, each (B,)."""
    with torch.no_grad():
        logps = sequence_logprobs(model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"],
                                  average=average)
    return logps.chunk(2)


@pytest.fixture(scope="module")
def dpo_run(models, trl_env, tmp_path_factory):
    """run(loss_type or a list of them, beta) -> (TRL's batch loss, TRL's metrics, batch) for DPOTrainer on PAIRS."""
    from trl import DPOConfig, DPOTrainer
    policy, ref, tokenizer = models

    def run(loss_type, beta):
        loss_types = loss_type if isinstance(loss_type, list) else [loss_type]
        args = config(DPOConfig, tmp_path_factory, loss_type=loss_types, beta=beta,
                      per_device_train_batch_size=len(PAIRS["prompt"]))
        trainer = DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=Dataset.from_dict(PAIRS),
                             processing_class=tokenizer)
        batch = first_batch(trainer)
        with torch.no_grad():
            loss = trainer.compute_loss(trainer.model, batch)
        return loss, trainer._metrics["eval"], batch    # the policy is in eval mode, so TRL logs under "eval"
    return run


def test_dpo_sigmoid_matches_trl(dpo_run, models):
    policy, ref, _ = models
    trl_loss, metrics, batch = dpo_run("sigmoid", beta=0.1)
    pi_c, pi_r = paired_logprobs(policy, batch)
    ref_c, ref_r = paired_logprobs(ref, batch)
    losses, chosen_rewards, rejected_rewards = dpo_loss(pi_c, pi_r, ref_c, ref_r, beta=0.1)
    assert_close(losses.mean(), trl_loss)
    assert_close(pi_c.mean(), metrics["logps/chosen"][-1])       # sequence_logprobs = TRL's completion log-prob
    assert_close(pi_r.mean(), metrics["logps/rejected"][-1])
    assert_close(chosen_rewards.mean(), metrics["rewards/chosen"][-1])
    assert_close(rejected_rewards.mean(), metrics["rewards/rejected"][-1])
    assert abs(trl_loss.item() - LOG2) > 1e-3                       # the reference really differs


def test_rpo_is_dpo_plus_the_chosen_nll_as_trl_combines_them(dpo_run, models):
    policy, ref, _ = models
    trl_loss, _, batch = dpo_run(["sigmoid", "sft"], beta=0.1)
    pi_c, pi_r = paired_logprobs(policy, batch)
    ref_c, ref_r = paired_logprobs(ref, batch)
    chosen_tokens = batch["completion_mask"][:len(pi_c), 1:].sum(dim=1)
    losses, _, _ = rpo_loss(pi_c, pi_r, ref_c, ref_r, chosen_tokens, beta=0.1)
    assert_close(losses.mean(), trl_loss)
    # the NLL is a mean over the batch's tokens, not a mean of per-answer means (answers differ in length here)
    per_answer = -(pi_c / chosen_tokens).mean()
    assert (dpo_loss(pi_c, pi_r, ref_c, ref_r, beta=0.1)[0].mean() + per_answer - trl_loss).abs() > 1e-4


def test_ipo_matches_trl_on_token_mean_logprobs(dpo_run, models):
    policy, ref, _ = models
    trl_loss, _, batch = dpo_run("ipo", beta=0.5)
    pi_c, pi_r = paired_logprobs(policy, batch, average=True)
    ref_c, ref_r = paired_logprobs(ref, batch, average=True)
    assert_close(ipo_loss(pi_c, pi_r, ref_c, ref_r, beta=0.5).mean(), trl_loss)
    # token sums give a different number: the averaging is part of TRL's IPO
    sums = paired_logprobs(policy, batch) + paired_logprobs(ref, batch)
    assert (ipo_loss(*sums, beta=0.5).mean() - trl_loss).abs() > 1e-2


def test_kto_matches_trl(models, trl_env, tmp_path_factory):
    from trl import KTOConfig, KTOTrainer
    # roles swapped: the trained model is the reference, so the KL estimate is positive and z0 is not clamped to 0
    ref, policy, tokenizer = models
    unpaired = Dataset.from_dict({"prompt": PAIRS["prompt"] * 2, "completion": PAIRS["chosen"] + PAIRS["rejected"],
                                  "label": [True] * 4 + [False] * 4})
    args = config(KTOConfig, tmp_path_factory, beta=0.1, desirable_weight=1.3, undesirable_weight=0.7,
                  per_device_train_batch_size=len(unpaired))
    trainer = KTOTrainer(model=policy, ref_model=ref, args=args, train_dataset=unpaired, processing_class=tokenizer)
    batch = first_batch(trainer)
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, batch)
        logps = [sequence_logprobs(m, batch[f"{kl}input_ids"], batch[f"{kl}attention_mask"],
                                   batch[f"{kl}completion_mask"]) for kl in ("", "KL_") for m in (policy, ref)]
    pi, ref_logps, kl_pi, kl_ref = logps
    losses, rewards = kto_loss(pi, ref_logps, batch["label"].bool(), kl_pi, kl_ref, beta=0.1,
                               desirable_weight=1.3, undesirable_weight=0.7)
    assert_close(losses.mean(), trl_loss)
    metrics = trainer._metrics["eval"]
    assert metrics["kl"][-1] > 0                                    # so the reference point z0 is exercised
    assert_close(rewards[batch["label"].bool()].mean(), metrics["rewards/chosen"][-1])


def test_bradley_terry_matches_reward_trainer(models, trl_env, tmp_path_factory):
    from transformers import LlamaForSequenceClassification
    from trl import RewardConfig, RewardTrainer
    policy, _, tokenizer = models
    reward_config = copy.deepcopy(policy.config)
    reward_config.num_labels = 1
    torch.manual_seed(0)
    reward_model = LlamaForSequenceClassification(reward_config).double().eval()
    with_margin = Dataset.from_dict({**PAIRS, "margin": [0.5, 0.0, 1.0, 2.0]})
    args = config(RewardConfig, tmp_path_factory, center_rewards_coefficient=0.01,
                  per_device_train_batch_size=len(with_margin))
    trainer = RewardTrainer(model=reward_model, args=args, train_dataset=with_margin, processing_class=tokenizer)
    batch = first_batch(trainer)
    with torch.no_grad():
        trl_loss = trainer.compute_loss(trainer.model, dict(batch))
        rewards = reward_model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, 0]
    r_chosen, r_rejected = rewards.chunk(2)                         # RewardTrainer batches are [chosen; rejected]
    assert_close(bradley_terry_loss(r_chosen, r_rejected, batch["margin"], center_coef=0.01).mean(), trl_loss)


def fixed_logprobs(n=6, seed=1):
    """Token-mean log-probs in (-3, 0), one of them near 0 where log(1 - p) is delicate. float64, (n,) each."""
    generator = torch.Generator().manual_seed(seed)
    chosen, rejected = -3 * torch.rand(2, n, generator=generator, dtype=torch.float64)
    chosen[0] = -1e-4
    return chosen, rejected


@pytest.fixture(scope="module")
def cpo_trainer(models, trl_env, tmp_path_factory):
    from trl.experimental.cpo import CPOConfig, CPOTrainer
    policy, _, tokenizer = models
    # pure SimPO: TRL's simpo_gamma is our γ, and cpo_alpha = 0 drops CPO's NLL term
    args = config(CPOConfig, tmp_path_factory, loss_type="simpo", beta=2.0, simpo_gamma=0.7, cpo_alpha=0.0,
                  per_device_train_batch_size=len(PAIRS["prompt"]))
    return CPOTrainer(model=policy, args=args, train_dataset=Dataset.from_dict(PAIRS), processing_class=tokenizer)


def test_simpo_matches_trl_cpo_loss(cpo_trainer):
    chosen, rejected = fixed_logprobs()
    trl_losses, trl_chosen_rewards, trl_rejected_rewards = cpo_trainer.cpo_loss(chosen, rejected)
    losses, chosen_rewards, rejected_rewards = simpo_loss(chosen, rejected, beta=2.0, gamma=0.7)
    assert_close(losses, trl_losses)
    assert_close(chosen_rewards, trl_chosen_rewards)
    assert_close(rejected_rewards, trl_rejected_rewards)


def test_simpo_on_a_batch_matches_trl_cpo_compute_loss(cpo_trainer, models):
    policy = models[0]
    batch = first_batch(cpo_trainer)
    with torch.no_grad():
        trl_loss = cpo_trainer.compute_loss(policy, batch)
        # CPO's labels are the input ids with the prompt and the padding set to -100
        chosen, rejected = (sequence_logprobs(policy, batch[f"{side}_input_ids"], batch[f"{side}_attention_mask"],
                                              batch[f"{side}_labels"] != -100, average=True)
                            for side in ("chosen", "rejected"))
    assert_close(simpo_loss(chosen, rejected, beta=2.0, gamma=0.7)[0].mean(), trl_loss)


def test_orpo_matches_trl_odds_ratio_loss(models, trl_env, tmp_path_factory):
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer
    policy, _, tokenizer = models
    trainer = ORPOTrainer(model=policy, args=config(ORPOConfig, tmp_path_factory, beta=0.1),
                          train_dataset=Dataset.from_dict(PAIRS), processing_class=tokenizer)
    chosen, rejected = fixed_logprobs()
    trl_terms, _, _, trl_mean_logsigmoid, trl_mean_log_odds = trainer.odds_ratio_loss(chosen, rejected)
    losses, log_odds_ratio = orpo_loss(chosen, rejected, beta=0.1)
    # TRL returns +β log σ(.) and subtracts its mean from the NLL; ours is the term to minimise, -β log σ(.)
    assert_close(losses, -trl_terms)
    assert_close(log_odds_ratio.mean(), trl_mean_log_odds)


def test_orpo_whole_loss_is_trls_with_trls_nll_and_ours_differs_only_there(models, trl_env, tmp_path_factory):
    """The whole ORPO loss on one batch. TRL's supervised term is the token-mean cross-entropy of the chosen
    *sequences*, prompt tokens included, one mean over the batch's tokens; ours (`preference_loss("orpo")`) is the
    token-mean NLL of each chosen *completion*, averaged over answers. With TRL's NLL in place of ours, our odds-ratio
    term gives TRL's `compute_loss` exactly; with ours, the loss differs, by exactly the difference of the two NLLs."""
    from trl.experimental.orpo import ORPOConfig, ORPOTrainer
    from agentic_lab.policy_gradient import token_logprobs
    from agentic_lab.preference import preference_loss
    policy, _, tokenizer = models
    trainer = ORPOTrainer(model=policy, args=config(ORPOConfig, tmp_path_factory, beta=0.1,
                                                   per_device_train_batch_size=len(PAIRS["prompt"])),
                          train_dataset=Dataset.from_dict(PAIRS), processing_class=tokenizer)
    batch = first_batch(trainer)
    with torch.no_grad():
        trl_loss = trainer.compute_loss(policy, batch)
        chosen, rejected = (sequence_logprobs(policy, batch[f"{side}_input_ids"], batch[f"{side}_attention_mask"],
                                              batch[f"{side}_labels"] != -100, average=True)
                            for side in ("chosen", "rejected"))
        odds_term = orpo_loss(chosen, rejected, beta=0.1)[0].mean()
        # TRL's NLL: every real token of prompt + chosen answer after the first, one token mean over the batch
        scored = batch["chosen_attention_mask"][:, 1:].double()
        trl_nll = -(token_logprobs(policy, batch["chosen_input_ids"], batch["chosen_attention_mask"]) * scored).sum() \
            / scored.sum()
        our_nll = -chosen.mean()                              # completion tokens only, a mean of per-answer means
        ours = preference_loss("orpo", policy, None, _as_our_batch(batch), beta=0.1)[0]   # the training loss
    assert_close(trl_nll + odds_term, trl_loss)
    assert_close(ours, our_nll + odds_term)
    assert (ours - trl_loss).abs() > 0.1, "the two supervised terms should differ on this batch"
    assert_close(ours - trl_loss, our_nll - trl_nll)


def _as_our_batch(batch):
    """TRL's ORPO batch in `encode_pairs`'s layout: rows [chosen; rejected], right-padded to one width, with the
    completion mask where TRL's labels are not -100."""
    width = max(batch["chosen_input_ids"].shape[1], batch["rejected_input_ids"].shape[1])
    def stack(chosen, rejected):
        pad = lambda x: torch.nn.functional.pad(x, (0, width - x.shape[1]))
        return torch.cat([pad(chosen), pad(rejected)])
    return {"input_ids": stack(batch["chosen_input_ids"], batch["rejected_input_ids"]),
            "attention_mask": stack(batch["chosen_attention_mask"], batch["rejected_attention_mask"]),
            "completion_mask": stack((batch["chosen_labels"] != -100).long(), (batch["rejected_labels"] != -100).long())}


# Hand-computed cases.

def test_dpo_at_equal_logratios_is_log2_with_zero_rewards():
    x = torch.tensor([-3.0, -7.5], dtype=torch.float64)
    losses, chosen_rewards, rejected_rewards = dpo_loss(x, x, x - 1, x - 1)
    assert_close(losses, LOG2.expand(2))
    assert_close(chosen_rewards, [0.1, 0.1])        # β (log π - log π_ref) = 0.1 × 1
    assert_close(chosen_rewards - rejected_rewards, [0.0, 0.0])


def test_dpo_label_smoothing_mixes_in_the_flipped_pair():
    chosen, rejected = fixed_logprobs()
    ref = torch.zeros_like(chosen)
    smoothed = dpo_loss(chosen, rejected, ref, ref, label_smoothing=0.2)[0]
    plain, flipped = dpo_loss(chosen, rejected, ref, ref)[0], dpo_loss(rejected, chosen, ref, ref)[0]
    assert_close(smoothed, 0.8 * plain + 0.2 * flipped)


def test_bradley_terry_hand_values():
    zero = torch.zeros(1, dtype=torch.float64)
    assert_close(bradley_terry_loss(zero, zero), LOG2)
    assert_close(bradley_terry_loss(zero + 1, zero, margin=zero + 1), LOG2)     # the margin eats the gap
    assert_close(bradley_terry_loss(zero + 1, zero + 1, center_coef=0.5), -torch.log(torch.sigmoid(zero)) + 2)


def test_ipo_hand_values():
    zero = torch.zeros(1, dtype=torch.float64)
    assert_close(ipo_loss(zero, zero, zero, zero, beta=0.1), 25.0)                  # (0 - 1/(2β))²
    assert_close(ipo_loss(zero + 5, zero, zero, zero, beta=0.1), 0.0)               # gap on target 1/(2β) = 5


def test_simpo_at_equal_logprobs_pays_the_margin():
    x = torch.tensor([-0.5, -2.0], dtype=torch.float64)
    losses, _, _ = simpo_loss(x, x, beta=2.0, gamma=0.7)
    assert_close(losses, torch.log1p(torch.exp(torch.tensor(0.7, dtype=torch.float64))).expand(2))


def test_kto_at_the_reference_point_is_half_the_weight():
    r = torch.tensor([0.3, 0.3], dtype=torch.float64)
    desirable = torch.tensor([True, False])
    kl_pi, kl_ref = torch.tensor([0.5, 0.1], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)  # z0 = 0.3
    losses, rewards = kto_loss(r, torch.zeros(2, dtype=torch.float64), desirable, kl_pi, kl_ref,
                               desirable_weight=1.3, undesirable_weight=0.7)
    assert_close(losses, [0.65, 0.35])
    assert_close(rewards, [0.03, 0.03])
    # a negative KL estimate is clamped to 0: then r = 0 sits at the reference point
    losses, _ = kto_loss(torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64), desirable,
                         -kl_pi, kl_ref)
    assert_close(losses, [0.5, 0.5])


def test_orpo_log_odds_hand_values():
    # p = 1/2 has odds 1, p = 1/3 has odds 1/2: the log odds ratio is log 2
    chosen = torch.log(torch.tensor([0.5], dtype=torch.float64))
    rejected = torch.log(torch.tensor([1 / 3], dtype=torch.float64))
    losses, log_odds_ratio = orpo_loss(chosen, rejected, beta=0.1)
    assert_close(log_odds_ratio, LOG2)
    assert_close(losses, -0.1 * torch.log(torch.tensor(2 / 3, dtype=torch.float64)))


# Signs: raising the preferred completion's log-prob must lower the loss, raising the other's must raise it.

ZERO = torch.zeros(3, dtype=torch.float64)
DESIRABLE = torch.tensor([True, True, False])
SIGN_CASES = {
    "bradley_terry": lambda c, r: bradley_terry_loss(c, r),
    "dpo": lambda c, r: dpo_loss(c, r, ZERO - 1, ZERO - 1)[0],
    "ipo": lambda c, r: ipo_loss(c, r, ZERO - 1, ZERO - 1),
    "simpo": lambda c, r: simpo_loss(c, r)[0],
    "orpo": lambda c, r: orpo_loss(c, r)[0],
    # KTO is unpaired: "chosen" feeds the desirable examples and "rejected" the undesirable one
    "kto": lambda c, r: kto_loss(torch.where(DESIRABLE, c, r), ZERO - 1, DESIRABLE, ZERO, ZERO)[0],
}


@pytest.mark.parametrize("name", SIGN_CASES)
def test_raising_the_preferred_logprob_lowers_the_loss(name):
    chosen = torch.tensor([-0.8, -1.5, -1.2], dtype=torch.float64, requires_grad=True)
    rejected = torch.tensor([-1.1, -0.9, -1.3], dtype=torch.float64, requires_grad=True)
    SIGN_CASES[name](chosen, rejected).sum().backward()
    if name == "kto":
        assert (chosen.grad[:2] < 0).all() and rejected.grad[2] > 0
    else:
        assert (chosen.grad < 0).all() and (rejected.grad > 0).all()
