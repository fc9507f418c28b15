"""Rollout workers as Ray actors (agentic_lab.distributed) and the one loop's options that use them.

One local Ray cluster serves the tests that use it and is shut down after them; every test leaves no actor behind.
The data-parallel tests launch two processes with torchrun."""
import copy
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.fixture(scope="module")
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


@pytest.mark.usefixtures("cluster")
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


@pytest.mark.usefixtures("cluster")
def test_two_workers_return_every_episode_in_seed_order():
    model, tokenizer = load_model()
    seeds = group_seeds(3, 2, base_seed=11)
    workers = RolloutWorkers(model, tokenizer, lambda: Latency(make_env(), 0.01), n_workers=2)
    try:
        episodes = workers.gather(workers.submit(seeds, 2, max_new_tokens=32))
    finally:
        workers.close()
    assert [t.seed for t in episodes] == seeds


@pytest.mark.usefixtures("cluster")
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


@pytest.mark.usefixtures("cluster")
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


@pytest.mark.parametrize("loss_type", ["grpo", "dapo"])
def test_two_data_parallel_learners_take_the_gradient_of_the_whole_batch(loss_type, tmp_path):
    """Two processes under torchrun (gloo), each on half the groups, end with the gradient one process computes on
    all of them: the mean of per-process sequence means ("grpo"), the global token mean ("dapo")."""
    from tests import data_parallel_check as check
    out = tmp_path / "gradients.pt"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                    str(Path(check.__file__)), str(out), loss_type], check=True, timeout=300,
                   env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True)
    model, tokenizer = load_model()
    trajectories, rewards = check.batch(model, tokenizer)
    whole = check.gradients(trajectories, rewards, loss_type, model, tokenizer)
    torch.testing.assert_close(torch.load(out), whole, atol=1e-6, rtol=1e-5)
    half = check.gradients(trajectories[:8], rewards[:8], loss_type, load_model()[0], tokenizer)
    assert not torch.allclose(half, whole, atol=1e-4)          # one process's half alone is another gradient


@pytest.mark.slow
@pytest.mark.usefixtures("cluster")
def test_two_workers_one_step_stale_learn_as_much_per_step_as_one_process():
    """Notebook 19's section 4 at its scale (seed 0): 10 GRPO steps of 4 groups of 4 at lr 1e-4 on the calculator
    with a 50 ms wait, in one process and with two workers playing one update behind under the capped importance
    weights. On 128 held-out tasks played once at T = 1, paired by task with the untrained model, the stale run gains
    more than two standard errors, and it ends no more than two standard errors below the one-process run."""
    from agentic_lab.eval import correct_per_task, paired_gain
    from agentic_lab.tasks import sample_tasks
    base, tokenizer = load_model()
    tasks = sample_tasks("calculator", 128, seed=0, split="test")

    def held_out(policy):
        return correct_per_task(policy, tokenizer, tasks, temperature=1.0, seed=1, max_turns=3)

    def trained(**options):
        policy = copy.deepcopy(base)
        grpo_train(policy, tokenizer, lambda: Latency(TaskEnv("calculator", max_turns=3), 0.05), steps=10,
                   config=RLConfig(n_groups=4, group_size=4, lr=1e-4, **options), progress=False)
        return held_out(policy)

    before, one_process = held_out(base), trained()
    stale = trained(rollout_workers=2, async_rollouts=True, sampler_is_cap=3.0)
    gain, stderr = paired_gain(before, stale)
    assert gain > 2 * stderr
    difference, difference_stderr = paired_gain(one_process, stale)
    assert difference > -2 * difference_stderr - 1e-9
    assert alive_actors() == 0
