"""Rollout workers as Ray actors (agentic_lab.distributed) and the one loop's options that use them.

One local Ray cluster serves the module and is shut down after it; every test leaves no actor behind."""
import copy

import pytest
import ray
import torch
from hypothesis import given
from hypothesis import strategies as st

from agentic_lab import load_model
from agentic_lab.distributed import Latency, RolloutWorkers, shard_groups, start_local_cluster
from agentic_lab.envs import TaskEnv
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.rollout import group_seeds, rollout

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module", autouse=True)
def cluster():
    start_local_cluster(num_cpus=2)
    yield
    ray.shutdown()


def alive_actors() -> int:
    return sum(a["State"] == "ALIVE" for a in ray._private.state.actors().values())


def make_env():
    return TaskEnv("navigation", max_turns=1)


@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 6))
def test_shards_are_whole_groups_in_order_and_as_even_as_can_be(n_groups, group_size, n_workers):
    shards = shard_groups(n_groups, group_size, n_workers)
    assert len(shards) == n_workers
    assert [i for s in shards for i in range(s.start, s.stop)] == list(range(n_groups * group_size))
    sizes = [(s.stop - s.start) for s in shards]
    assert all(size % group_size == 0 for size in sizes)
    assert max(sizes) - min(sizes) <= group_size


def test_one_worker_plays_what_the_learner_would_and_plays_new_weights_once_sent():
    model, tokenizer = load_model()
    seeds = group_seeds(3, 2, base_seed=5)
    workers = RolloutWorkers(model, tokenizer, make_env, n_workers=1)
    try:
        remote = workers.gather(workers.submit(seeds, 2, seed=7, max_new_tokens=48))
        local = rollout(model, tokenizer, [make_env() for _ in seeds], seeds, seed=7, max_new_tokens=48)
        assert [t.token_ids for t in remote] == [t.token_ids for t in local]
        with torch.no_grad():                               # the learner moves; the worker has the old weights
            model.lm_head.weight.mul_(0.5)
        stale = workers.gather(workers.submit(seeds, 2, seed=7, max_new_tokens=48))
        assert [t.token_ids for t in stale] == [t.token_ids for t in local]
        workers.load_weights(model)
        fresh = workers.gather(workers.submit(seeds, 2, seed=7, max_new_tokens=48))
        moved = rollout(model, tokenizer, [make_env() for _ in seeds], seeds, seed=7, max_new_tokens=48)
        assert [t.token_ids for t in fresh] == [t.token_ids for t in moved] != [t.token_ids for t in local]
    finally:
        workers.close()
    assert alive_actors() == 0


def test_two_workers_return_every_episode_in_seed_order():
    model, tokenizer = load_model()
    seeds = group_seeds(3, 2, base_seed=11)
    workers = RolloutWorkers(model, tokenizer, lambda: Latency(make_env(), 0.01), n_workers=2)
    try:
        episodes = workers.gather(workers.submit(seeds, 2, max_new_tokens=32))
    finally:
        workers.close()
    assert [t.seed for t in episodes] == seeds


def test_synchronous_workers_sample_the_learners_policy_and_asynchronous_ones_the_previous_one():
    """The sampler's recorded log-probs against the learner's π_old: equal up to float error when the workers hold
    the current weights; apart after the first step when they play one update behind (async_rollouts), which the
    truncated importance weights then measure."""
    model, tokenizer = load_model()
    config = dict(n_groups=2, group_size=2, max_new_tokens=32, lr=1e-3, rollout_workers=2)
    sync = grpo_train(copy.deepcopy(model), tokenizer, make_env, steps=3, config=RLConfig(**config), progress=False)
    lagging = grpo_train(copy.deepcopy(model), tokenizer, make_env, steps=3, progress=False,
                         config=RLConfig(**config, async_rollouts=True, sampler_is_cap=2.0))
    assert max(h["sampler_logprob_gap"] for h in sync) < 1e-3
    assert lagging[0]["sampler_logprob_gap"] < 1e-3                 # the first batch: played by the initial weights
    assert min(h["sampler_logprob_gap"] for h in lagging[1:]) > 1e-2
    assert all(h["sampler_weight_mean"] != pytest.approx(1.0, abs=1e-4) for h in lagging[1:])
    assert alive_actors() == 0


def test_a_run_that_fails_leaves_no_worker_behind():
    model, tokenizer = load_model()

    def broken_reward(trajectory):
        raise RuntimeError("a reward function with a bug")
    with pytest.raises(RuntimeError, match="a bug"):
        grpo_train(model, tokenizer, make_env, steps=1, reward_fn=broken_reward, progress=False,
                   config=RLConfig(n_groups=2, group_size=2, max_new_tokens=16, rollout_workers=2))
    assert alive_actors() == 0


@pytest.mark.parametrize("config, complaint", [
    (dict(async_rollouts=True), "needs rollout_workers"),
    (dict(async_rollouts=True, rollout_workers=2, dynamic_sampling=True), "not dynamic_sampling"),
    (dict(sampler_is_cap=2.0, loss_type="rloo"), "not with loss_type='rloo'")])
def test_options_that_cannot_go_together_are_refused_before_anything_runs(config, complaint):
    model, tokenizer = load_model()
    with pytest.raises(ValueError, match=complaint):
        grpo_train(model, tokenizer, make_env, steps=1, config=RLConfig(**config), progress=False)
