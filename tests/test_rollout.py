"""The rollout engine: masks, token-in-token-out, batching equal to one-by-one, seeds and groups."""
import copy
from dataclasses import replace

import gymnasium as gym
import pytest
import torch

import agentic_lab.envs  # noqa: F401
from agentic_lab.eval import play_tasks
from agentic_lab.policy_gradient import collate_trajectories, token_logprobs
from agentic_lab.rl import RLConfig, grpo_train, policy_entropy
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.tasks import sample_tasks
from agentic_lab.trajectory import mask_runs, split_contexts


def test_mask_covers_exactly_what_the_policy_wrote_token_by_token(tiny):
    model, tokenizer = tiny
    task = sample_tasks("calculator", 1, seed=4, split="test")[0]
    trajectory = play_tasks(model, tokenizer, [task])[0]
    ids, mask = trajectory.token_ids, trajectory.loss_mask
    assert len(ids) == len(mask) == len(trajectory.logprobs)
    written = [tokenizer.decode(ids[a:b]) for value, a, b in mask_runs(mask) if value == 1]
    assert written == [turn.text + "<|end|>" for turn in trajectory.turns]
    shown = [tokenizer.decode(ids[a:b]) for value, a, b in mask_runs(mask) if value == 0]
    prompt = tokenizer.apply_chat_template(task.messages(), tools=task.tool_schemas(), tokenize=False,
                                           add_generation_prompt=True)
    assert shown[0] == prompt
    for turn, text in zip(trajectory.turns, shown[1:]):
        assert text == f"<|observation|>{turn.result}<|end|><|assistant|>"
    assert all(lp == 0.0 for lp, m in zip(trajectory.logprobs, mask) if m == 0)
    assert all(lp <= 0.0 for lp, m in zip(trajectory.logprobs, mask) if m == 1)


def test_the_whole_episode_is_the_chat_template_of_its_conversation(tiny):
    """For this tokenizer re-rendering happens to agree; the engine never relies on it."""
    model, tokenizer = tiny
    for trajectory, task in zip(play_tasks(model, tokenizer, sample_tasks("search_qa", 6, seed=1, split="test"),
                                           temperature=1.0), sample_tasks("search_qa", 6, seed=1, split="test")):
        messages = task.messages()
        for turn in trajectory.turns:
            messages.append({"role": "assistant", "content": turn.text})
            if not turn.done:
                messages.append({"role": "tool", "content": turn.result})
        rendered = tokenizer.apply_chat_template(messages, tools=task.tool_schemas(), tokenize=False)
        assert tokenizer.decode(trajectory.token_ids) == rendered


def test_batched_greedy_equals_one_episode_at_a_time(tiny):
    model, tokenizer = tiny
    tasks = sample_tasks("search_qa", 5, seed=2, split="test") + sample_tasks("arithmetic", 5, seed=2, split="test")
    batched = play_tasks(model, tokenizer, tasks)
    alone = [play_tasks(model, tokenizer, [t])[0] for t in tasks]
    assert [t.token_ids for t in batched] == [t.token_ids for t in alone]


def test_same_seed_same_trajectories_and_groups_share_a_task(tiny):
    model, tokenizer = tiny
    seeds = group_seeds(n_groups=3, group_size=4, base_seed=10)
    assert seeds == [10] * 4 + [11] * 4 + [12] * 4

    def play(seed):
        envs = [gym.make("agentic_lab/Calculator-v0") for _ in seeds]
        return rollout(model, tokenizer, envs, seeds, temperature=1.0, seed=seed)
    first, again, other = play(0), play(0), play(1)
    assert first == again and first != other
    for g in range(3):
        group = first[4 * g: 4 * g + 4]
        assert len({t.turns[0].observation for t in group}) == 1   # one task per group
    assert len({t.turns[0].observation for t in first}) == 3


def test_multi_step_environment_plays_to_truncation(tiny):
    model, tokenizer = tiny
    envs = [gym.make("agentic_lab/KeyDoor-v0", max_turns=3) for _ in range(4)]
    trajectories = rollout(model, tokenizer, envs, seeds=[0, 1, 2, 3], temperature=1.0)
    for t in trajectories:
        assert 1 <= len(t.turns) <= 3 and t.turns[-1].done
        assert "agent" in t.info and t.env_id == "agentic_lab/KeyDoor-v0"


def test_a_fresh_context_each_turn_is_the_latest_observation_alone(tiny):
    """keep_history=False: turn k conditions on a new conversation whose one message is the k-th observation; the
    rows the update trains on are exactly those contexts and messages, and their log-probs are the sampler's."""
    model, tokenizer = tiny
    envs = [gym.make("agentic_lab/KeyDoor-v0", max_turns=4) for _ in range(3)]
    trajectories = rollout(model, tokenizer, envs, seeds=[0, 1, 2], temperature=1.0, keep_history=False)
    for trajectory in trajectories:
        rows = split_contexts(trajectory)
        assert len(rows) == len(trajectory.turns) == len(trajectory.context_starts) and trajectory.context_starts[0] == 0
        assert [i for row in rows for i in row.token_ids] == trajectory.token_ids
        for k, (row, turn) in enumerate(zip(rows, trajectory.turns)):
            shown = turn.observation                       # the reset's prompt, then each observation in turn
            context = tokenizer.apply_chat_template([{"role": "user", "content": shown}], add_generation_prompt=True,
                                                    tools=envs[0].unwrapped.tool_schemas() or None, tokenize=False)
            assert tokenizer.decode(row.token_ids) in (context + turn.text + "<|end|>", context + turn.text)  # or cut
            assert row.loss_mask == [0] * (len(row.token_ids) - sum(row.loss_mask)) + [1] * sum(row.loss_mask)
    rows = [row for t in trajectories for row in split_contexts(t)]
    batch = collate_trajectories(rows, tokenizer.pad_token_id)
    with torch.no_grad():
        logprobs = token_logprobs(model, batch["input_ids"], batch["attention_mask"])
    assert ((logprobs - batch["sampler_logprobs"]).abs() * batch["loss_mask"]).max() < 1e-4


def test_a_fresh_context_each_turn_keeps_the_turns_apart_in_the_update(tiny):
    """One GRPO step on fresh-context episodes trains one row per turn: the sampler and the trainer agree (episode
    and turn-level credit, RLOO with its KL penalty summed over each episode's rows, DAPO's dynamic sampling, whose
    entropy is measured on the same rows), and the turn critic, which reads one growing context, is refused."""
    model, tokenizer = tiny
    make_env = lambda: gym.make("agentic_lab/KeyDoor-v0", max_turns=3)  # noqa: E731
    config = RLConfig(n_groups=2, group_size=2, max_new_tokens=24, keep_history=False, lr=0.0)
    for variant in ({"credit": "episode"}, {"credit": "gigpo"}, {"loss_type": "rloo", "beta": 0.1}):
        record = grpo_train(copy.deepcopy(model), tokenizer, make_env, 1, replace(config, **variant),
                            progress=False)[0]
        assert record["turns"] > 1 and record["sampler_logprob_gap"] < 1e-4
    # the entropy dynamic sampling records is the per-turn rows' (an episode collated whole would attend across turns)
    record = grpo_train(copy.deepcopy(model), tokenizer, make_env, 1, replace(config, dynamic_sampling=True),
                        progress=False)[0]
    assert record["entropy"] == pytest.approx(policy_entropy(model, tokenizer, rollout(
        model, tokenizer, [make_env() for _ in range(4)], group_seeds(2, 2, base_seed=0), seed=0,
        max_new_tokens=24, keep_history=False)), abs=1e-5)
    with pytest.raises(ValueError, match="keep_history"):
        grpo_train(model, tokenizer, make_env, 1, replace(config, credit="critic"), progress=False)
