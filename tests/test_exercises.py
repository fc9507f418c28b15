"""Every exercise checker accepts the reference answer and rejects a plausible wrong one."""
import math
import re
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from agentic_lab.exercises import EXERCISES, _compare, check
from agentic_lab.math_tasks import canonical
from agentic_lab.memory import Bank, apply


def _gae_without_mask(rewards, values, mask, gamma, lam):
    """Bootstraps from the padding after a sequence ends: the classic off-by-one of GAE."""
    adv = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in reversed(range(rewards.shape[1])):
        next_value = values[:, t + 1] if t + 1 < rewards.shape[1] else 0.0
        last = rewards[:, t] + gamma * next_value - values[:, t] + gamma * lam * last
        adv[:, t] = last
    return adv * mask, (adv + values) * mask


def _gae_ending_at_every_masked_token(rewards, values, mask, gamma, lam):
    """Treats every 0 of the mask as the end of the episode: a tool's output then cuts the credit of the first turn."""
    adv = torch.zeros_like(rewards)
    next_value = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    last = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    for t in reversed(range(rewards.shape[1])):
        last = (rewards[:, t] + gamma * next_value - values[:, t] + gamma * lam * last) * mask[:, t]
        adv[:, t] = last
        next_value = values[:, t] * mask[:, t]
    return adv, (adv + values) * mask


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


def _distinct_in_the_first_k(answers, k):
    return len(set(answers[:k]))


def _distinct_counting_none(answers, k):
    """Right but for the samples with no answer: None counted as one more answer."""
    from agentic_lab.eval import pass_at_k
    return sum(pass_at_k(len(answers), answers.count(a), k) for a in set(answers))


def _kto_beta_twice(pi_logps, ref_logps, desirable, kl_pi_logps, kl_ref_logps, beta):
    """Takes r as the implicit reward β log π/π_ref, then multiplies by β again inside σ."""
    r, z0 = beta * (pi_logps - ref_logps), (kl_pi_logps - kl_ref_logps).mean().clamp(min=0)
    return torch.where(desirable, 1 - torch.sigmoid(beta * (r - z0)), 1 - torch.sigmoid(beta * (z0 - r)))


def _kto_unclamped_reference_point(pi_logps, ref_logps, desirable, kl_pi_logps, kl_ref_logps, beta):
    """Uses the batch KL estimate as it comes, negative or not."""
    r, z0 = pi_logps - ref_logps, (kl_pi_logps - kl_ref_logps).mean()
    return torch.where(desirable, 1 - torch.sigmoid(beta * (r - z0)), 1 - torch.sigmoid(beta * (z0 - r)))
def _weights_on_observations_too(advantages, mask):
    """A_i on every token after the prompt, tool observations included."""
    after_prompt = (mask.cumsum(1) > 0).double()
    return after_prompt * advantages[:, None] / (mask.shape[0] * after_prompt.sum(1, keepdim=True))


def _weights_on_the_last_turn_only(advantages, mask):
    """Credits only the turn that answered: the earlier turns (the tool call) get nothing."""
    before_last_gap = torch.flip(torch.cummax(torch.flip(1 - mask, [1]) * (torch.flip(mask, [1]).cumsum(1) > 0), 1)
                                 .values, [1])
    last = mask * (1 - before_last_gap)
    return last * advantages[:, None] / (mask.shape[0] * last.sum(1, keepdim=True))


def _weights_over_all_positions(advantages, mask):
    """Divides by the row's width (prompt and observations included) instead of the tokens the policy wrote."""
    return mask * advantages[:, None] / (mask.shape[0] * mask.shape[1])


def _success_rate_sample_std(successes):
    """sd with n - 1 (torch's default) over sqrt(n): not the binomial sqrt(p(1-p)/n); NaN at n = 1."""
    return successes.mean(), successes.std() / math.sqrt(len(successes))


# Each exercise's plausible wrong answers: the first is the classic slip, the others the regime its hard cases test.
def _aggregate_every_type_as_token_mean(per_token_loss, mask, loss_type, max_completion_length):
    return (per_token_loss * mask).sum() / mask.sum()                    # "grpo" and "dr_grpo" as "bnpo"


def _aggregate_without_mask(per_token_loss, mask, loss_type, max_completion_length):
    lengths = mask.sum(1)                                               # padding's losses leak in
    if loss_type == "grpo":
        return (per_token_loss.sum(1) / lengths).mean()
    if loss_type == "bnpo":
        return per_token_loss.sum() / lengths.sum()
    return per_token_loss.sum() / (len(mask) * max_completion_length)


def _aggregate_grpo_dividing_by_zero(per_token_loss, mask, loss_type, max_completion_length):
    masked = per_token_loss * mask                                      # right, except an empty completion: 0/0
    if loss_type == "grpo":
        return (masked.sum(1) / mask.sum(1)).mean()
    if loss_type == "bnpo":
        return masked.sum() / mask.sum()
    return masked.sum() / (len(mask) * max_completion_length)


def _bfs_over_cells(rows, start, door_opens: bool):
    """Breadth-first search whose state is the cell alone: it cannot know whether the key is held, so it must
    either let the door open always or never."""
    from collections import deque
    seen, frontier = {tuple(start): 0}, deque([tuple(start)])
    while frontier:
        r, c = frontier.popleft()
        if rows[r][c] == "G":
            return seen[(r, c)]
        for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
            nr, nc = r + dr, c + dc
            inside = 0 <= nr < len(rows) and 0 <= nc < len(rows[0])
            if inside and rows[nr][nc] != "#" and (door_opens or rows[nr][nc] != "D") and (nr, nc) not in seen:
                seen[(nr, nc)] = seen[(r, c)] + 1
                frontier.append((nr, nc))
    return -1


def _otc_with_n_over_every_member(calls, correct):
    """n taken over the whole group: a wrong member that skipped the tool makes every call look wasted."""
    from agentic_lab.tool_use import otc_tool_reward
    n = min(calls)
    return [otc_tool_reward(m, n) if right else 0.0 for m, right in zip(calls, correct)]


def _otc_paying_wrong_answers(calls, correct):
    """r_tool alone, without the 1[correct] factor: a wrong answer with the right number of calls earns 1."""
    from agentic_lab.tool_use import otc_tool_reward
    n = min((m for m, right in zip(calls, correct) if right), default=0)
    return [otc_tool_reward(m, n) for m in calls]


def _curiosity_rate_over_calls(calls, correct, alpha=0.5, beta=0.05, target=0.3, free_calls=1):
    """RaPR as calls per episode, not the share of episodes that looked: one member's three calls read as a habit."""
    done = [sum(c) for c in calls]
    rate = sum(done) / len(done)
    return [float(r) + alpha * max(target - rate, 0.0) * (n > 0) + beta * min(free_calls - n, 0)
            for n, r in zip(done, correct)]


def _curiosity_paid_to_every_member(calls, correct, alpha=0.5, beta=0.05, target=0.3, free_calls=1):
    """The bonus without 1[n_i > 0]: members that never looked are paid for the group's curiosity."""
    done = [sum(c) for c in calls]
    rate = sum(n > 0 for n in done) / len(done)
    return [float(r) + alpha * max(target - rate, 0.0) + beta * min(free_calls - n, 0) for n, r in zip(done, correct)]


def _curiosity_penalising_every_call(calls, correct, alpha=0.5, beta=0.05, target=0.3, free_calls=1):
    """N = 0: the first call is penalised too, so a single look earns less than the bonus says."""
    done = [sum(c) for c in calls]
    rate = sum(n > 0 for n in done) / len(done)
    return [float(r) + alpha * max(target - rate, 0.0) * (n > 0) - beta * n for n, r in zip(done, correct)]


def _curiosity_counting_refused_calls(calls, correct, alpha=0.5, beta=0.05, target=0.3, free_calls=1):
    """The formula right, but a refused crop counted as a visual operation (notebook 13's own defect, since fixed)."""
    done = [len(c) for c in calls]
    rate = sum(n > 0 for n in done) / len(done)
    return [float(r) + alpha * max(target - rate, 0.0) * (n > 0) + beta * min(free_calls - n, 0)
            for n, r in zip(done, correct)]


def _stage_two_bonus_on_both(r1, r2, alpha):
    """The bonus α (r2 - r1) added to the first attempt's reward too."""
    rewards = torch.stack([r1 + alpha * (r2 - r1), r2 + alpha * (r2 - r1)], dim=1)
    return (rewards - rewards.mean(0)) / (rewards.std(0) + 1e-6)


def _stage_two_one_baseline_for_both(r1, r2, alpha):
    """Both attempts' rewards pooled into one group: the second attempt's bonus is measured against first attempts."""
    rewards = torch.stack([r1, r2 + alpha * (r2 - r1)], dim=1)
    return (rewards - rewards.mean()) / (rewards.std() + 1e-6)


def _stage_two_episode_credit(r1, r2, alpha):
    """The episode's return r1' + r2' normalised over the group and given to both attempts (credit="episode")."""
    returns = r1 + r2 + alpha * (r2 - r1)
    advantage = (returns - returns.mean()) / (returns.std() + 1e-6)
    return torch.stack([advantage, advantage], dim=1)


def _stage_two_without_eps(r1, r2, alpha):
    """No ε: an attempt every member got right (or wrong) divides 0 by 0."""
    rewards = torch.stack([r1, r2 + alpha * (r2 - r1)], dim=1)
    return (rewards - rewards.mean(0)) / rewards.std(0)


def _retrieved_if_any_character_is(offsets, spans):
    """Overlap instead of first character: a token that only runs into a span counts as retrieved."""
    return [any(a < end and start < b for a, b in spans) for start, end in offsets]


def _retrieved_with_the_end_included(offsets, spans):
    """[a, b] instead of [a, b): the token right after a span counts as retrieved."""
    return [any(a <= start <= b for a, b in spans) for start, _ in offsets]


def _step_groups_by_turn_index(returns, anchors):
    """Groups by the turn's index t instead of its state: GRPO's group at each turn, blind to where the agent was."""
    out = []
    for episode in returns:
        peers = [[r[t] for r in returns if t < len(r)] for t in range(len(episode))]
        out.append([episode[t] - sum(p) / len(p) for t, p in enumerate(peers)])
    return out


def _step_groups_first_visit_only(returns, anchors):
    """One entry per (episode, state), the first visit's return: an episode's return to a room is not compared."""
    firsts = {}
    for i, (episode, states) in enumerate(zip(returns, anchors)):
        for r, s in zip(episode, states):
            firsts.setdefault((i, s), r)
    by_state = {}
    for (i, s), r in firsts.items():
        by_state.setdefault(s, []).append(r)
    return [[r - sum(by_state[s]) / len(by_state[s]) for r, s in zip(episode, states)]
            for episode, states in zip(returns, anchors)]


def _apply_keeping_the_time_on_delete(bank, action, time):
    """A deleted slot keeps when it was written: the answerer's "most recent" then counts an empty slot."""
    after = apply(bank, action, time)
    return Bank(after.slots, bank.written) if action.operation == "DELETE" else after


def _apply_adding_after_the_last_filled_slot(bank, action, time):
    """ADD after the last filled slot, as into a list: the same until a DELETE leaves a hole before a filled one."""
    if action.operation != "ADD":
        return apply(bank, action, time)
    filled = [i for i, text in enumerate(bank.slots) if text is not None]
    slot = filled[-1] + 1 if filled else 0
    slots, written = list(bank.slots), list(bank.written)
    slots[slot], written[slot] = " ".join(action.entry.split()), time
    return Bank(tuple(slots), tuple(written))


def _hard_coded_any_shown_literal(task, code):
    """Any shown value written in the code, the task's own constant included: "x * 5" is cheating when f(5) is shown."""
    import ast
    from agentic_lab.coding import literals
    shown = [value for pair in task.info["visible"] for value in pair]
    return any(value in shown for value in literals(ast.parse(code)))


def _hard_coded_constants_only(task, code):
    """Numbers and strings only: examples hard-coded as whole lists get through."""
    import ast
    shown = [value for pair in task.info["visible"] for value in pair]
    reference = [n.value for n in ast.walk(ast.parse(task.answer)) if isinstance(n, ast.Constant)]
    return any(isinstance(n, ast.Constant) and n.value in shown and n.value not in reference
               for n in ast.walk(ast.parse(code)))


def _majority_by_spelling(answers):
    """Votes counted by the text: 2/4 is not a vote for 1/2."""
    from collections import Counter
    votes = Counter(a for a in answers if a is not None and canonical(a) is not None).most_common()
    if not votes or (len(votes) > 1 and votes[0][1] == votes[1][1]):
        return None, 0.0
    return canonical(votes[0][0]), votes[0][1] / len(answers)


def _majority_share_of_readable(answers):
    """The share among readable answers only: a label two of ten agree on looks unanimous when eight were junk."""
    from collections import Counter
    keys = [k for k in (canonical(a) for a in answers if a is not None) if k is not None]
    votes = Counter(keys).most_common()
    if not votes or (len(votes) > 1 and votes[0][1] == votes[1][1]):
        return None, 0.0
    return votes[0][0], votes[0][1] / len(keys)


def _majority_first_of_a_tie(answers):
    """A tie goes to the value seen first: a coin flip becomes a label."""
    from collections import Counter
    keys = [k for k in (canonical(a) for a in answers if a is not None) if k is not None]
    if not keys:
        return None, 0.0
    top, count = Counter(keys).most_common(1)[0]
    return top, count / len(answers)


def _describe_labels_apart(elements):
    """Every text node shown as text, the checkbox with no label: the agent reads boxes it cannot tell apart."""
    from agentic_lab import web
    return [(ref, kind, "" if kind == "checkbox" else text) for ref, kind, text in web.describe(elements)] + \
        [(e["ref"], "text", e["text"]) for e in elements if e["tag"] == "t" and e["parent"] != 3]


def _describe_positive_refs_only(elements):
    """Text nodes (negative refs) left out: a link paragraph loses the words around the links."""
    from agentic_lab import web
    return [row for row in web.describe(elements) if row[0] > 0]


def _describe_with_containers(elements):
    """Everything, containers included, as text."""
    from agentic_lab import web
    kinds = {ref: (kind, text) for ref, kind, text in web.describe(elements)}
    return [(e["ref"], *kinds.get(e["ref"], ("text", e["text"]))) for e in elements]


def _shards_by_episode(n_groups, group_size, n_workers):
    """Episodes dealt out evenly, whatever the groups: a group can straddle two workers."""
    base, extra = divmod(n_groups * group_size, n_workers)
    bounds = [w * base + min(w, extra) for w in range(n_workers + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def _shards_dropping_the_remainder(n_groups, group_size, n_workers):
    per = n_groups // n_workers * group_size
    return [slice(w * per, (w + 1) * per) for w in range(n_workers)]


def _shards_remainder_to_the_last(n_groups, group_size, n_workers):
    per = n_groups // n_workers * group_size
    return [slice(w * per, (w + 1) * per if w < n_workers - 1 else n_groups * group_size) for w in range(n_workers)]


def _abstention_costing_the_threshold(answer_text, correct, threshold):
    """Charges a wrong answer t: answering then pays above p = t / (1 + t), not above t."""
    from agentic_lab.trust import is_abstention
    return 1.0 if correct else 0.0 if is_abstention(answer_text) else -threshold


def _abstention_counting_no_answer(answer_text, correct, threshold):
    """Right but for an episode with no answer, taken as an abstention: running out of turns then costs nothing."""
    from agentic_lab.trust import abstention_reward_of
    return 0.0 if answer_text is None else abstention_reward_of(answer_text, correct, threshold)


def _abstention_exact_string(answer_text, correct, threshold):
    """Right but for how "I don't know" is recognised: only exactly as the demonstrations write it."""
    return 1.0 if correct else 0.0 if answer_text == "I don't know" else -threshold / (1 - threshold)


PLAUSIBLE_WRONG = {
    "bradley_terry_loss": [lambda r_chosen, r_rejected: F.logsigmoid(r_chosen - r_rejected),     # sign
                           lambda r_chosen, r_rejected: -torch.log(torch.sigmoid(r_chosen - r_rejected))],  # -inf
    "pairwise_accuracy": lambda r_chosen, r_rejected: (r_chosen >= r_rejected).double().mean(),  # ties count
    "gae": [_gae_without_mask, _gae_ending_at_every_masked_token],
    "kl_k3": lambda logprobs, ref_logprobs: logprobs - ref_logprobs,                              # that is k1
    "ppo_policy_loss": _ppo_max_instead_of_min,
    "dpo_loss": [lambda pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta:                    # no reference
                 -F.logsigmoid(beta * (pi_chosen - pi_rejected)),
                 lambda pi_chosen, pi_rejected, ref_chosen, ref_rejected, beta:                    # σ underflows
                 -torch.log(torch.sigmoid(beta * ((pi_chosen - ref_chosen) - (pi_rejected - ref_rejected))))],
    "ipo_loss": lambda pi_chosen_avg, pi_rejected_avg, ref_chosen_avg, ref_rejected_avg, beta:     # target 1/β
        ((pi_chosen_avg - ref_chosen_avg) - (pi_rejected_avg - ref_rejected_avg) - 1 / beta) ** 2,
    "kto_loss": [_kto_beta_twice, _kto_unclamped_reference_point],
    "simpo_loss": lambda pi_chosen_avg, pi_rejected_avg, beta, gamma:                           # γ inside β
        -F.logsigmoid(beta * (pi_chosen_avg - pi_rejected_avg - gamma)),
    "group_advantages": [_group_advantages_population_std,
                         lambda rewards, group_size: ((rewards.view(-1, group_size) - rewards.view(-1, group_size)
                                                       .mean(1, keepdim=True)) / rewards.view(-1, group_size)
                                                      .std(1, keepdim=True)).reshape(-1)],                # no ε: NaN
    "rloo_advantages": _rloo_including_self,
    "pass_at_k": _pass_at_k_with_replacement,
    "abstention_reward": [_abstention_costing_the_threshold, _abstention_counting_no_answer, _abstention_exact_string],
    "distinct_at_k": [_distinct_in_the_first_k, lambda answers, k: min(k, len(set(answers))), _distinct_counting_none],
    "format_reward": lambda text: float(bool(re.search(r"<think>.+</think><answer>.+</answer>", text))),  # search
    "reinforce_surrogate": [
        lambda token_logprobs, mask, rewards, baseline:                      # a mean over tokens, not log π(y)
        -((rewards - baseline) * (token_logprobs * mask).sum(1) / mask.sum(1)).mean(),
        lambda token_logprobs, mask, rewards, baseline:                      # the padding counted
        -((rewards - baseline) * token_logprobs.sum(1)).mean(),
        lambda token_logprobs, mask, rewards, baseline:                      # ascent, not a loss
        ((rewards - baseline) * (token_logprobs * mask).sum(1)).mean()],
    "success_rate": [_success_rate_sample_std,
                     lambda successes: (successes.mean(), successes.mean() * (1 - successes.mean()) / len(successes)),  # no sqrt
                     lambda successes: (successes.mean(), (successes.mean() * (1 - successes.mean())) ** 0.5 / len(successes))],
    "grpo_token_weights": [lambda advantages, mask: mask * advantages[:, None] / mask.sum(1, keepdim=True),  # no 1/B
                           _weights_on_observations_too, _weights_over_all_positions, _weights_on_the_last_turn_only],
    "optimal_length": [lambda rows, start: _bfs_over_cells(rows, start, door_opens=True),
                       lambda rows, start: _bfs_over_cells(rows, start, door_opens=False)],
    "otc_group_rewards": [_otc_with_n_over_every_member, _otc_paying_wrong_answers],
    "curiosity_rewards": [_curiosity_rate_over_calls, _curiosity_paid_to_every_member, _curiosity_penalising_every_call,
                          _curiosity_counting_refused_calls],
    "retrieved_tokens": [_retrieved_if_any_character_is, _retrieved_with_the_end_included],
    "step_group_advantages": [_step_groups_by_turn_index, _step_groups_first_visit_only],
    "apply_memory_operation": [_apply_keeping_the_time_on_delete, _apply_adding_after_the_last_filled_slot],
    "stage_two_advantages": [_stage_two_bonus_on_both, _stage_two_one_baseline_for_both, _stage_two_episode_credit,
                             _stage_two_without_eps],
    "edit_distance": [lambda a, b: sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b)),   # Hamming, no shifts
                      lambda a, b: max(len(a), len(b)) - sum(x == y for x, y in zip(a, b))],
    "aggregate_loss": [_aggregate_every_type_as_token_mean, _aggregate_without_mask, _aggregate_grpo_dividing_by_zero],
    "hard_coded": [_hard_coded_constants_only, _hard_coded_any_shown_literal],
    "majority_answer": [_majority_by_spelling, _majority_share_of_readable, _majority_first_of_a_tie],
    "describe_page": [_describe_labels_apart, _describe_positive_refs_only, _describe_with_containers],
    "shard_groups": [_shards_by_episode, _shards_dropping_the_remainder, _shards_remainder_to_the_last],
}


def test_every_exercise_has_a_wrong_answer_to_reject():
    assert set(PLAUSIBLE_WRONG) == set(EXERCISES)


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_checker_accepts_the_reference(name):
    assert check(name, EXERCISES[name].reference, verbose=False)


def wrong_answers(name):
    wrong = PLAUSIBLE_WRONG[name]
    return wrong if isinstance(wrong, list) else [wrong]


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_checker_rejects_a_plausible_wrong_answer(name):
    for wrong in wrong_answers(name):
        assert not check(name, wrong, verbose=False)


@pytest.mark.parametrize("name", ["bradley_terry_loss", "gae", "dpo_loss", "kto_loss", "aggregate_loss",
                                  "distinct_at_k"])
def test_hard_cases_catch_what_random_inputs_miss(name):
    """log(sigmoid(x)) is right on moderate inputs and GAE that stops at every 0 of the mask is right on single-turn
    masks: only the hard cases (huge margins in float32, a two-turn mask) reject them."""
    wrong, quiet = wrong_answers(name)[-1], lambda *a: None
    assert _compare(replace(EXERCISES[name], hard_cases=()), wrong, 20, 0, quiet)
    assert not _compare(EXERCISES[name], wrong, 20, 0, quiet)


def test_the_solution_is_shown_only_after_a_pass_or_on_request(monkeypatch):
    shown = []
    monkeypatch.setattr("agentic_lab.viz.show_source", shown.append)
    def not_yet(**kwargs):
        raise NotImplementedError
    check("kl_k3", not_yet)
    check("kl_k3", PLAUSIBLE_WRONG["kl_k3"])
    assert shown == []
    check("kl_k3", not_yet, reveal=True)
    assert [f.__name__ for f in shown] == ["kl_k3"]
    check("kl_k3", EXERCISES["kl_k3"].reference)
    check("ppo_policy_loss", EXERCISES["ppo_policy_loss"].reference)     # a wrapper shows the package function
    assert [f.__name__ for f in shown] == ["kl_k3", "kl_k3", "ppo_policy_loss"]


def test_unattempted_exercise_is_reported_not_raised(capsys):
    def not_yet(**kwargs):
        raise NotImplementedError
    assert not check("gae", not_yet)
    assert "not attempted yet" in capsys.readouterr().out


def test_a_crash_in_the_learners_code_is_reported(capsys):
    assert not check("pass_at_k", lambda n, c, k: math.comb(n - c, k) / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_diagnosis_names_the_sign_error(capsys):
    check("bradley_terry_loss", PLAUSIBLE_WRONG["bradley_terry_loss"][0])
    assert "sign is flipped" in capsys.readouterr().out


def test_the_revealed_solutions_pass_their_own_checkers():
    """Where the reference is a wrapper (success_rate over episodes, GRPO's weights by autograd through
    algorithms.grpo_loss), the readable solution that `reveal` shows gives the same answers."""
    from agentic_lab.exercises import grpo_token_weights
    assert check("grpo_token_weights", grpo_token_weights, verbose=False)
    assert check("success_rate", lambda successes: (successes.mean(), (successes.mean() * (1 - successes.mean())
                                                                       / len(successes)).sqrt()), verbose=False)


def test_stage_two_advantages_are_what_the_loop_credits_each_attempt_with():
    """The readable reference is the engine's path: `credit="turn"` takes GiGPO's step groups with the attempt as the
    anchor (rl.turn_advantages), each attempt's reward its SCoRe stage II reward."""
    from agentic_lab.algorithms import step_group_advantages
    from agentic_lab.reflection import score_rewards, stage_two_advantages
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        r1, r2 = (torch.randint(0, 2, (6,), generator=g).double() for _ in range(2))
        rewards = [[float(a), float(b)] for a, b in zip(*score_rewards(r1, r2, 10.0))]
        engine = torch.tensor(step_group_advantages(rewards, [[0, 1]] * 6, "group"), dtype=torch.float64)
        assert torch.allclose(stage_two_advantages(r1, r2, 10.0), engine, atol=1e-5)


def test_a_cell_ending_in_check_displays_nothing_but_the_message():
    """Notebook 04 showed a stray `False` under each exercise: the verdict is truthy but has no display."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    shell = InteractiveShell.instance()
    with capture_output() as captured:
        shell.run_cell("from agentic_lab.exercises import check\n"
                       "def not_yet(**kwargs):\n    raise NotImplementedError\n"
                       "check('kl_k3', not_yet)")
    assert "not attempted yet" in captured.stdout
    assert "False" not in captured.stdout and not captured.outputs
    assert not check("kl_k3", PLAUSIBLE_WRONG["kl_k3"], verbose=False)


def test_a_stub_returning_zeros_is_told_so_and_every_failure_says_how_to_see_the_solution(capsys):
    check("kl_k3", lambda logprobs, ref_logprobs: torch.zeros_like(logprobs))
    out = capsys.readouterr().out
    assert "0 everywhere" in out and "constant factor" not in out and "reveal=True" in out
    check("kl_k3", EXERCISES["kl_k3"].reference)
    assert "reveal=True" not in capsys.readouterr().out
