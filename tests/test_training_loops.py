"""The training loops of notebooks 02-06: batches are built right, and each loop moves the model the right way."""
import copy

import gymnasium as gym
import pytest
import torch

from agentic_lab import preference, reward_model as rm_lib
from agentic_lab.algorithms import group_advantages, grpo_loss
from agentic_lab.envs import TaskEnv
from agentic_lab.eval import call_rate, correct_per_task, paired_gain
from agentic_lab.policy_gradient import collate_trajectories, logprobs_and_entropy, token_logprobs
from agentic_lab.ppo import PolicyWithValue, ppo_train
from agentic_lab.rewards import outcome_reward
from agentic_lab.rl import RLConfig, grpo_train, policy_entropy, update
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.tasks import sample_tasks

PROMPT = [{"role": "user", "content": "What is 2+2?"}]


def test_pair_batch_masks_exactly_the_answer(tiny):
    _, tokenizer = tiny
    batch = preference.encode_pairs(tokenizer, [PROMPT], ["<answer>4</answer>"], ["<answer>55</answer>"])
    for row, answer in enumerate(["<answer>4</answer>", "<answer>55</answer>"]):
        ids = batch["input_ids"][row][batch["completion_mask"][row].bool()]
        assert tokenizer.decode(ids) == answer + tokenizer.eos_token
    assert batch["attention_mask"][0].sum() < batch["attention_mask"][1].sum()  # right-padded, different lengths


def test_step_pairs_train_only_the_step_after_the_shared_prefix(tiny):
    _, tokenizer = tiny
    task = sample_tasks("word_problem", 1, seed=0, split="train")[0]
    right = task.solution[-1]["reasoning_content"].split()
    wrong_second = f"<think>{right[0]} 1+1=3</think><answer>3</answer>"
    [pair] = preference.step_pairs([task], [wrong_second])
    assert pair == {"prompt": task.messages(), "prefix": f"<think>{right[0]} ", "chosen": right[1], "rejected": "1+1=3"}
    assert preference.step_pairs([task], [f"<think>{' '.join(right)}</think><answer>{task.answer}</answer>"]) == []
    batch = preference.encode_pairs(tokenizer, [pair["prompt"]], [pair["chosen"]], [pair["rejected"]], [pair["prefix"]])
    assert tokenizer.decode(batch["input_ids"][1][batch["completion_mask"][1].bool()]) == "1+1=3"


def test_kto_reference_point_uses_mismatched_prompt_and_answer(tiny):
    _, tokenizer = tiny
    prompts = [[{"role": "user", "content": q}] for q in ("A?", "B?")]
    batch = preference.encode_pairs(tokenizer, prompts, ["a1", "b1"], ["a2", "b2"])
    mismatched = preference._mismatched(batch, 2)
    texts = [tokenizer.decode(r[m.bool()]) for r, m in zip(mismatched["input_ids"], mismatched["attention_mask"])]
    assert "B?" in texts[1] and texts[1].endswith("a1" + tokenizer.eos_token)  # prompt 1 with row 0's answer
    assert "A?" in texts[0] and texts[0].endswith("b2" + tokenizer.eos_token)  # wraps around


@pytest.mark.parametrize("loss", preference.LOSSES)
def test_each_preference_loss_widens_the_gap(tiny, loss):
    model, tokenizer = tiny
    policy, reference = copy.deepcopy(model), model
    chosen, rejected = ["<answer>4</answer>"] * 8, ["<answer>5</answer>"] * 8
    batch = preference.encode_pairs(tokenizer, [PROMPT] * 8, chosen, rejected)

    def gap():
        lp = preference.sequence_logprobs(policy, batch["input_ids"], batch["attention_mask"], batch["completion_mask"])
        return (lp[:8] - lp[8:]).mean().item()
    before = gap()
    preference.preference_train(loss, policy, reference, tokenizer, [PROMPT] * 8, chosen, rejected, epochs=3,
                                batch_size=4, lr=1e-3, beta={"ipo": 0.5, "simpo": 2.0}.get(loss, 0.1), progress=False)
    assert gap() > before + 0.5, (loss, before, gap())


def test_ppo_starts_at_zero_kl_and_then_moves(tiny):
    model, tokenizer = tiny
    policy = PolicyWithValue(copy.deepcopy(model))
    longer = lambda tasks, responses: torch.tensor([len(r) / 20.0 for r in responses])  # reward length
    history = ppo_train(policy, model, tokenizer, lambda: TaskEnv("word_problem", max_turns=1), longer, steps=6,
                        batch_size=16, minibatch_size=8, lr=3e-4, kl_coef=0.0, progress=False)
    assert abs(history[0]["kl"]) < 1e-4
    assert history[-1]["kl"] > 0.05
    assert all(0 <= h["clip_fraction"] <= 1 for h in history)
    assert all(h["approx_kl"] >= 0 and h["explained_variance"] <= 1 for h in history)


def test_grpo_trainer_log_probs_are_the_sampler_log_probs_at_its_temperature(tiny):
    """At T = 1.5 the policy that sampled is softmax(logits / 1.5): π_old in the loss must be that distribution,
    or every importance ratio is wrong (without the temperature in the trainer the gap was several nats)."""
    model, tokenizer = tiny
    for loss_type in ["grpo", "rloo"]:
        config = RLConfig(n_groups=2, group_size=4, temperature=1.5, max_new_tokens=24, lr=0.0, loss_type=loss_type)
        history = grpo_train(copy.deepcopy(model), tokenizer, lambda: TaskEnv("word_problem", max_turns=1), steps=1,
                             config=config, reward_fn=lambda t: float(len(t.turns[0].text)), progress=False)
        assert history[0]["sampler_logprob_gap"] < 1e-4, (loss_type, history[0])


def test_track_kl_measures_the_drift_from_the_initial_policy_without_entering_the_loss(tiny):
    """kl_ref is 0 on the first step (nothing has moved yet), positive once the policy moved; β stays 0, so the
    steps are the ones training without track_kl takes; every step records the gradient's norm before clipping."""
    model, tokenizer = tiny
    config = RLConfig(n_groups=2, group_size=4, lr=1e-2, max_new_tokens=16)
    make_env = lambda: TaskEnv("word_problem", max_turns=1)
    reward = lambda t: float(sum(map(ord, t.turns[0].text)) % 7)      # differs within a group: the policy moves
    tracked, plain = copy.deepcopy(model), copy.deepcopy(model)
    history = grpo_train(tracked, tokenizer, make_env, steps=2, config=RLConfig(**{**vars(config), "track_kl": True}),
                         reward_fn=reward, progress=False)
    grpo_train(plain, tokenizer, make_env, steps=2, config=config, reward_fn=reward, progress=False)
    assert history[0]["kl_ref"] == 0.0 < history[1]["kl_ref"]
    assert all(h["grad_norm"] > 0 for h in history)
    assert all(torch.equal(a, b) for a, b in zip(tracked.parameters(), plain.parameters()))


def test_update_takes_pi_old_from_its_first_gradient_forward(tiny):
    """π_old is the first gradient forward, detached, not a forward of its own: the step must be the one a separate
    no-grad π_old forward gives (the textbook order), parameter for parameter."""
    model, tokenizer = tiny
    config = RLConfig(n_groups=2, group_size=4, lr=1e-3, max_new_tokens=24, temperature=1.3)
    seeds = group_seeds(2, 4)
    trajectories = rollout(model, tokenizer, [TaskEnv("word_problem", max_turns=1) for _ in seeds], seeds,
                           temperature=1.3, max_new_tokens=24, seed=0)
    rewards = torch.tensor([0.0, 1.0, 0.0, 2.0, 1.0, 1.0, 0.0, 3.0])                # a spread in both groups
    ours = copy.deepcopy(model)
    # Plain SGD at lr 1: the step is the clipped gradient itself. (Adam's first step is lr·sign(g), so float noise
    # on a parameter whose gradient is ~0 would move it by a whole lr in one order and not in the other.)
    update(ours, None, torch.optim.SGD(ours.parameters(), lr=1.0), tokenizer, trajectories, rewards, config)
    textbook = copy.deepcopy(model)
    optimizer = torch.optim.SGD(textbook.parameters(), lr=1.0)
    batch = collate_trajectories(trajectories, tokenizer.pad_token_id)
    old_logprobs = logprobs_and_entropy(textbook, batch, 1.3)[0]
    logprobs = token_logprobs(textbook, batch["input_ids"], batch["attention_mask"], 1.3)
    loss, _ = grpo_loss(logprobs, old_logprobs, group_advantages(rewards, 4), batch["loss_mask"],
                        max_completion_length=24)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(textbook.parameters(), 1.0)
    optimizer.step()
    moved = max((a - b).abs().max().item() for a, b in zip(textbook.parameters(), model.parameters()))
    gap = max((a - b).abs().max().item() for a, b in zip(ours.parameters(), textbook.parameters()))
    assert moved > 1e-3 and gap < 1e-5 * moved, (moved, gap)


def test_rloo_trains_through_trl_rloo_loss_with_sequence_clip_fractions(tiny):
    model, tokenizer = tiny
    config = RLConfig(n_groups=2, group_size=4, loss_type="rloo", num_iterations=2, lr=1e-3, max_new_tokens=24)
    policy = copy.deepcopy(model)
    history = grpo_train(policy, tokenizer, lambda: TaskEnv("word_problem", max_turns=1), steps=1, config=config,
                         reward_fn=lambda t: float(sum(map(ord, t.turns[0].text)) % 7), progress=False)
    # any reward that differs within a group will do (answers cut at 24 tokens can all have one length)
    assert "loss" in history[0] and 0 <= history[0]["clip_region"] <= 1
    assert any(not torch.equal(a, b) for a, b in zip(policy.parameters(), model.parameters()))


def test_dynamic_sampling_refills_the_batch_with_informative_groups(tiny):
    """DAPO keeps sampling until n_groups groups with a reward spread are kept (or the cap is hit), and the first
    rollout's zero-spread share and entropy are reported as every other variant reports them."""
    model, tokenizer = tiny
    calls = []
    def reward(trajectory):                       # a group has spread only when its task seed is even
        calls.append(trajectory.seed)
        return float(trajectory.seed % 2 == 0 and len(calls) % 2 == 0)
    config = RLConfig(n_groups=4, group_size=2, dynamic_sampling=True, max_sampling_rounds=4, max_new_tokens=16,
                      lr=1e-2)                                 # a large step: entropy after it would differ
    make_env = lambda: TaskEnv("word_problem", max_turns=1)
    history = grpo_train(copy.deepcopy(model), tokenizer, make_env, steps=1, config=config, reward_fn=reward,
                         progress=False)
    record = history[0]
    assert record["zero_spread"] == 0.5                        # half the groups of the first rollout are flat
    assert record["sampling_rounds"] == 2 and record["kept_groups"] == 4   # so a second rollout fills the batch
    assert len(calls) == 2 * 4 * 2 and len(set(calls)) == 8    # two rollouts, each with its own 4 tasks
    seeds = group_seeds(4, 2)                                  # the first rollout again, under the policy that sampled it
    first = rollout(model, tokenizer, [make_env() for _ in seeds], seeds, max_new_tokens=16, seed=0)
    assert record["entropy"] == pytest.approx(policy_entropy(model, tokenizer, first), abs=1e-5)


def test_variance_filter_trains_on_the_groups_whose_rewards_spread_most(tiny, monkeypatch):
    """RAGEN's filter (keep_top_spread): of 4 groups, the 2 with a reward spread are what the update gets; the step's
    diagnostics still describe the whole first rollout."""
    from agentic_lab import rl
    model, tokenizer = tiny
    updated = []
    def spy(model, reference, optimizer, tokenizer, trajectories, *args):
        updated.extend(t.seed for t in trajectories)
        return update(model, reference, optimizer, tokenizer, trajectories, *args)
    monkeypatch.setattr(rl, "update", spy)
    calls = []
    def reward(trajectory):                       # spread (0, 1, 0, 1) only in the groups with an odd task seed: 1, 3
        calls.append(trajectory.seed)
        return float(trajectory.seed % 2 == 1 and len(calls) % 2 == 0)
    config = RLConfig(n_groups=4, group_size=4, keep_top_spread=0.5, max_new_tokens=16)
    history = grpo_train(copy.deepcopy(model), tokenizer, lambda: TaskEnv("word_problem", max_turns=1), steps=1,
                         config=config, reward_fn=reward, progress=False)
    assert calls == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert history[0]["kept_groups"] == 2 and updated == [1] * 4 + [3] * 4
    assert history[0]["zero_spread"] == 0.5                   # measured on all 4 groups, before the filter


def test_grpo_dynamic_sampling_skips_flat_groups(tiny):
    model, tokenizer = tiny
    policy = copy.deepcopy(model)
    config = RLConfig(n_groups=2, group_size=4, dynamic_sampling=True, max_new_tokens=32)
    history = grpo_train(policy, tokenizer, lambda: TaskEnv("word_problem", max_turns=1), steps=2, config=config,
                         reward_fn=lambda t: 1.0, progress=False)  # every group flat: nothing to learn from
    assert all(h["zero_spread"] == 1.0 and "loss" not in h for h in history)
    assert all(h["sampling_rounds"] == 3 and h["kept_groups"] == 0 for h in history)   # the cap, then no update
    assert all(torch.equal(a, b) for a, b in zip(policy.parameters(), model.parameters()))


@pytest.mark.slow
def test_grpo_on_verifiable_rewards_raises_held_out_accuracy(tiny):
    """Notebook 05's claim at its own scale: on the same 500 held-out prompts, the share of 8 answers sampled at
    T = 1 that are right rises by more than 3 paired standard errors."""
    model, tokenizer = tiny
    tasks = sample_tasks("word_problem", 500, seed=0, split="test")
    def sampled(policy):
        return [c / 8 for c in correct_per_task(policy, tokenizer, tasks, n=8, temperature=1.0, seed=1, max_turns=1)]
    before, policy = sampled(model), copy.deepcopy(model)
    grpo_train(policy, tokenizer, lambda: TaskEnv("word_problem", max_turns=1), steps=120,
               config=RLConfig(n_groups=8, group_size=8, lr=3e-5, max_new_tokens=48), reward_fn=outcome_reward, seed=0,
               progress=False)
    gain, stderr = paired_gain(before, sampled(policy))
    assert gain > 3 * stderr, (gain, stderr)  # notebook 05 prints 0.342 -> 0.383: +0.041 ± 0.011


def test_right_wrong_pairs_are_one_right_and_one_wrong_answer_of_the_same_task(tiny):
    model, tokenizer = tiny
    tasks = sample_tasks("word_problem", 60, seed=1, split="train")
    pairs = rm_lib.right_wrong_pairs(model, tokenizer, tasks, n=4, seed=0)
    assert pairs and len({p.task.prompt for p in pairs}) == len(pairs)
    for p in pairs:
        assert rm_lib.gold_parts(p.task, p.chosen)["correct"] and not rm_lib.gold_parts(p.task, p.rejected)["correct"]


@pytest.mark.slow
def test_fine_tuning_on_own_right_answers_raises_held_out_accuracy_and_orpo_adds_nothing(tiny):
    """Notebook 03's claim at its own scale: on the policy's own right-vs-wrong answers to 1,500 training prompts
    (2 epochs, lr 1e-4), the NLL term alone raises held-out accuracy (400 prompts, 4 samples at T = 1, paired) by
    more than 3 standard errors; ORPO (NLL + odds ratio) by more than 2; and ORPO minus NLL only is within 2."""
    model, tokenizer = tiny
    pairs = rm_lib.right_wrong_pairs(model, tokenizer, sample_tasks("word_problem", 1500, seed=1, split="train"),
                                     n=4, seed=0)
    tasks = sample_tasks("word_problem", 400, seed=2, split="test")
    def sampled(policy):
        return rm_lib.correct_share(tasks, rm_lib.sample_responses(policy, tokenizer, tasks, n=4, seed=0))
    def trained(loss):
        policy = copy.deepcopy(model)
        preference.preference_train(loss, policy, None, tokenizer, [p.task.messages() for p in pairs],
                                    [p.chosen for p in pairs], [p.rejected for p in pairs], epochs=2, lr=1e-4,
                                    beta=0.1, seed=0, progress=False)
        return sampled(policy)
    before, nll, orpo = sampled(model), trained("nll"), trained("orpo")
    (gain, stderr), (orpo_gain, orpo_stderr) = paired_gain(before, nll), paired_gain(before, orpo)
    difference, difference_stderr = paired_gain(nll, orpo)
    # notebook 03 prints: NLL 0.374 -> 0.446, +0.072 ± 0.016; ORPO the same; ORPO - NLL +0.000 ± 0.014
    assert gain > 3 * stderr, (gain, stderr)
    assert orpo_gain > 2 * orpo_stderr, (orpo_gain, orpo_stderr)
    assert abs(difference) < 2 * difference_stderr, (difference, difference_stderr)


def test_gold_win_rate_is_a_half_against_itself_and_symmetric(tiny):
    model, tokenizer = tiny
    tasks = sample_tasks("word_problem", 20, seed=0)
    answers = rm_lib.sample_responses(model, tokenizer, tasks, n=2, seed=0)
    again = rm_lib.sample_responses(model, tokenizer, tasks, n=2, seed=0)
    rate, stderr = rm_lib.gold_win_rate(tasks, answers, again)
    assert rate == 0.5 and stderr == 0.0  # same model, same seed: every answer ties with itself
    other = rm_lib.sample_responses(model, tokenizer, tasks, n=2, seed=1)
    rate, _ = rm_lib.gold_win_rate(tasks, answers, other)
    flipped, _ = rm_lib.gold_win_rate(tasks, other, answers)
    assert rate + flipped == pytest.approx(1.0)  # a win for one side is a loss for the other


@pytest.mark.slow
def test_grpo_teaches_the_agent_to_call_the_calculator(tiny):
    """Notebook 06's claim at its own scale: held-out success of the sampled policy rises beyond 3 standard errors,
    paired episode by episode, and the policy calls the tool on more 2-digit products than before."""
    model, tokenizer = tiny
    seeds = list(range(10_000, 10_512))  # the 512 held-out expressions of notebook 06
    def held_out(policy):
        envs = [gym.make("agentic_lab/Calculator-v0", split="test") for _ in seeds]
        return rollout(policy, tokenizer, envs, seeds, temperature=1.0, seed=1)
    def calls_on_2_digit(trajectories):
        return call_rate([t for t in trajectories if t.info["digits"] == 2])
    policy = copy.deepcopy(model)
    before = held_out(policy)
    grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/Calculator-v0"), steps=20,
               config=RLConfig(n_groups=8, group_size=8, lr=1e-4), seed=0, progress=False)
    after = held_out(policy)
    gain, stderr = paired_gain([t.success for t in before], [t.success for t in after])
    assert gain > 3 * stderr, (gain, stderr)  # notebook 06 prints 0.63 -> 0.96, +0.338 ± 0.024
    assert calls_on_2_digit(after) > calls_on_2_digit(before) + 0.3  # notebook 06 prints 28% -> 99%


@pytest.fixture(scope="module")
def proxy(tiny):
    """Notebook 02's proxy reward model, built as the notebook builds it (300 training prompts, about 40 s)."""
    model, tokenizer = tiny
    torch.manual_seed(0)
    return rm_lib.proxy_reward(model, tokenizer, n_tasks=300, seed=0)


@pytest.mark.slow
def test_ppo_against_the_proxy_loses_gold_unless_the_kl_penalty_holds_it(tiny, proxy):
    """Notebook 02 at its own scale (20 steps of 32 answers): with β = 0 the policy drifts and gold falls by more than
    2 standard errors of its 4-step means; with β = 0.2 the policy moves less than half as far and gold's change stays
    within 2 standard errors."""
    model, tokenizer = tiny
    def gold_drop(kl_coef):
        history = ppo_train(PolicyWithValue(copy.deepcopy(model)), model, tokenizer,
                            lambda: TaskEnv("word_problem", max_turns=1), proxy, steps=20, batch_size=32,
                            kl_coef=kl_coef, lr=1e-4, gold_fn=rm_lib.gold_reward, seed=0, progress=False)
        first, last = (torch.tensor([h["gold"] for h in w]) for w in (history[:4], history[-4:]))
        noise = ((first.var() + last.var()) / 4) ** 0.5
        return (first.mean() - last.mean()).item(), noise.item(), sum(h["kl"] for h in history[-4:]) / 4
    drop, noise, kl = gold_drop(0.0)
    assert drop > 2 * noise, (drop, noise, kl)  # notebook 02 prints 0.486 -> 0.292, KL 17.3 nats
    held_drop, held_noise, held_kl = gold_drop(0.2)
    # notebook 02 prints a change of -0.092 ± 0.061, KL 4.1 nats
    assert abs(held_drop) < 2 * held_noise and held_kl < kl / 2, (held_drop, held_noise, held_kl, kl)


@pytest.mark.slow
def test_best_of_n_against_the_proxy_raises_gold_then_lowers_it(tiny, proxy):
    """Notebook 02, section 7, at its own scale: of 64 answers at the labelling temperature to each of 64 held-out
    prompts, best-of-2 by the proxy beats one sample in gold, and best-of-64 falls below best-of-2, each by more than
    3 paired standard errors, while the proxy of the kept answer rises all the way."""
    model, tokenizer = tiny
    P, M = 64, 64
    tasks = sample_tasks("word_problem", P, seed=3, split="test")
    answers = rm_lib.sample_responses(model, tokenizer, tasks, n=M, temperature=rm_lib.LABEL_TEMPERATURE, seed=5)
    flat_tasks, flat_answers = [t for t in tasks for _ in range(M)], [a for group in answers for a in group]
    proxy_scores = proxy(flat_tasks, flat_answers).view(P, M)
    gold_scores = rm_lib.gold_scores(flat_tasks, flat_answers).view(P, M)
    kept = {n: rm_lib.best_of_n(proxy_scores, gold_scores, n) for n in (1, 2, 64)}
    def gap(a, b):  # gold of best-of-b minus gold of best-of-a, paired per prompt: (mean, standard error)
        d = kept[b][1] - kept[a][1]
        return d.mean().item(), (d.std() / P ** 0.5).item()
    (rise, rise_se), (fall, fall_se) = gap(1, 2), gap(2, 64)
    # notebook 02 prints +0.069 ± 0.014 from n = 1 to 2, then -0.194 ± 0.032 from n = 2 to 64
    assert rise > 3 * rise_se and fall < -3 * fall_se, (rise, rise_se, fall, fall_se)
    assert kept[1][0].mean() < kept[2][0].mean() < kept[64][0].mean()
