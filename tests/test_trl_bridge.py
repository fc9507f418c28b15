"""Our environments train with TRL's GRPOTrainer through the adapter."""

import pytest

from agentic_lab.tasks import sample_tasks
from agentic_lab.trl_bridge import environment_reward, seed_dataset, task_dataset, task_reward, trl_environment


def test_task_reward_checks_answers_with_the_family_checker():
    data = task_dataset("navigation", 4, seed=0)
    tasks = sample_tasks("navigation", 4, seed=0)
    completions = [[{"role": "assistant", "content": f"<answer>{t.answer}</answer>"}] for t in tasks[:2]] + \
                  [[{"role": "assistant", "content": "<answer>UUUU</answer>"}], [{"role": "assistant", "content": "?"}]]
    rewards = task_reward(data["prompt"], completions, data["family"], data["answer"], data["task_info"])
    assert rewards[:2] == [1.0, 1.0] and rewards[3] == 0.0


def test_environment_class_exposes_the_tools_and_scores_the_final_answer():
    env_class = trl_environment("agentic_lab/Calculator-v0")
    env = env_class()
    prompt = env.reset(seed=3)
    assert prompt.startswith("What is")
    expr = prompt[len("What is "):-1]
    result = env.calc(expr=expr)
    assert result.lstrip("-").isdigit()
    completion = [{"role": "assistant", "tool_calls": [{"function": {"name": "calc"}}]},
                  {"role": "tool", "content": result},
                  {"role": "assistant", "content": f"<answer>{result}</answer>"}]
    assert environment_reward([completion], [env]) == [1.0] and env.success


@pytest.mark.slow
def test_grpo_trainer_runs_on_an_environment_through_the_adapter(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    from trl import GRPOConfig, GRPOTrainer
    from agentic_lab import load_model
    model, tokenizer = load_model()
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4, max_steps=2,
                      max_completion_length=96, learning_rate=1e-5, logging_steps=1, report_to=[], use_cpu=True,
                      save_strategy="no")
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=environment_reward,
                          train_dataset=seed_dataset(32), args=args,
                          environment_factory=trl_environment("agentic_lab/SearchQA-v0"))  # always searches
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2
    assert all(h["tools/call_frequency"] > 0 and h["tools/failure_frequency"] < 1 for h in logs)


@pytest.mark.slow
@pytest.mark.parametrize("env_id, module, tools", [("agentic_lab/ToolChoice-v0", "tool_use", {"calc", "lookup"}),
                                                   ("agentic_lab/SearchAgent-v0", "search", {"search"}),
                                                   ("agentic_lab/Code-v0", "coding", {"run"}),
                                                   ("agentic_lab/WebTwin-v0", "web", {"click", "type"})])
def test_grpo_trainer_trains_a_warm_start_on_its_environment(env_id, module, tools, tmp_path, monkeypatch):
    """Notebook 08's, 10's, 14's and 16's warm starts on their environments: the tools are methods of the TRL
    environment, and the warm start calls them through TRL's own tool parsing (BM25 search included)."""
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    import importlib

    from trl import GRPOConfig, GRPOTrainer
    from agentic_lab import load_model
    model, tokenizer = load_model(importlib.import_module(f"agentic_lab.{module}").WARM_START)
    environment = trl_environment(env_id)
    assert tools <= set(dir(environment))
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4, max_steps=2,
                      max_completion_length=96, learning_rate=1e-5, logging_steps=1, report_to=[], use_cpu=True,
                      save_strategy="no")
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=environment_reward,
                          train_dataset=seed_dataset(32), args=args, environment_factory=environment)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2 and any(h["tools/call_frequency"] > 0 for h in logs)


def _trainer_stub(tiny_model, tokenizer):
    """The trainer attributes a rollout_func reads, without building a trainer."""
    from types import SimpleNamespace
    from accelerate import Accelerator
    return SimpleNamespace(model_wrapped=tiny_model, accelerator=Accelerator(cpu=True), processing_class=tokenizer,
                           temperature=1.0, max_completion_length=128,
                           args=SimpleNamespace(gradient_checkpointing_kwargs=None, ds3_gather_for_generation=True))


def test_trajectories_split_into_trl_rollout_fields_without_touching_ids(tiny):
    import gymnasium as gym
    import torch
    from agentic_lab.rollout import group_seeds, rollout
    from agentic_lab.trl_bridge import trl_rollout_output
    torch.set_num_threads(1)
    model, tokenizer = tiny
    envs = [gym.make("agentic_lab/Calculator-v0") for _ in range(4)]
    trajectories = rollout(model, tokenizer, envs, group_seeds(2, 2), max_new_tokens=32)
    output = trl_rollout_output(trajectories)
    assert len(output["completion_ids"]) == len(trajectories)
    for i, t in enumerate(trajectories):
        prompt, completion = output["prompt_ids"][i], output["completion_ids"][i]
        assert prompt + completion == t.token_ids
        assert t.loss_mask[:len(prompt)] == [0] * len(prompt) and t.loss_mask[len(prompt)] == 1
        assert output["env_mask"][i] == t.loss_mask[len(prompt):]
        assert output["logprobs"][i] == t.logprobs[len(prompt):] and len(output["logprobs"][i]) == len(completion)
        assert output["env_return"][i] == t.total_reward and output["env_seed"][i] == t.seed
    assert any(0 in mask for mask in output["env_mask"])  # multi-turn: observations sit inside completions


def test_rollout_func_plays_one_episode_per_prompt_with_the_prompts_seed(tiny):
    import torch
    from agentic_lab.trl_bridge import make_rollout_func, rollout_dataset
    torch.set_num_threads(1)
    model, tokenizer = tiny
    data = rollout_dataset("agentic_lab/Calculator-v0", 3, seed=5)
    assert len(set(p[-1]["content"] for p in data["prompt"])) == 3
    prompts = [prompt for prompt in (data["prompt"][2], data["prompt"][0]) for _ in range(3)]  # as TRL repeats them
    trainer = _trainer_stub(model, tokenizer)
    model.train()
    try:
        output = make_rollout_func("agentic_lab/Calculator-v0", data, max_new_tokens=32)(prompts, trainer)
        assert model.training  # put back as TRL left it
    finally:
        model.eval()
    assert all(len(output[key]) == len(prompts) for key in output)
    assert output["env_seed"] == [data["seed"][2]] * 3 + [data["seed"][0]] * 3
    assert all(tokenizer.decode(output["prompt_ids"][i]).count(prompts[i][-1]["content"]) == 1 for i in range(6))
    assert len({tuple(ids) for ids in output["prompt_ids"]}) == 2
    for mask in output["env_mask"]:  # what the policy wrote, and what it read in between, fits the budget
        assert len(mask) - mask[::-1].index(1) <= trainer.max_completion_length


def test_rollout_func_sends_a_trajectory_reward_as_env_return():
    """Notebook 17's judge through TRL: with reward_fn, env_return is the judge's reward of each episode played, not
    the environment's return (they differ wherever the user is wrong)."""
    import torch
    from agentic_lab import load_model
    from agentic_lab.trl_bridge import make_rollout_func, rollout_dataset
    from agentic_lab.trust import WARM_START, agreement_reward
    torch.set_num_threads(1)
    model, tokenizer = load_model(WARM_START)
    data = rollout_dataset("agentic_lab/Sycophancy-v0", 8, split="test")
    played = []

    def judged(trajectory):
        played.append(trajectory)
        return agreement_reward(trajectory)

    prompts = [prompt for prompt in data["prompt"] for _ in range(2)]
    output = make_rollout_func("agentic_lab/Sycophancy-v0", data, reward_fn=judged, split="test")(
        prompts, _trainer_stub(model, tokenizer))
    assert output["env_return"] == [agreement_reward(t) for t in played] and len(played) == len(prompts)
    assert any(agreement_reward(t) != t.total_reward for t in played)


def test_grpo_trainer_trains_on_our_rollouts_through_rollout_func(tmp_path, monkeypatch):
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    import torch
    from trl import GRPOConfig, GRPOTrainer
    from agentic_lab import load_model
    from agentic_lab.trl_bridge import make_rollout_func, rollout_dataset, rollout_reward
    torch.set_num_threads(1)
    model, tokenizer = load_model()  # a fresh copy: the trainer patches its forward
    before = [p.detach().clone() for p in model.parameters()]
    # SearchQA: every episode searches, so every batch has observations inside its completions (on the
    # calculator a batch of 2-digit products may hold no call at all); held-out questions, because the tiny model
    # answers some training questions right every time, and a group with equal rewards gives no gradient
    data = rollout_dataset("agentic_lab/SearchQA-v0", 8, split="test")
    play, outputs = make_rollout_func("agentic_lab/SearchQA-v0", data, max_new_tokens=64, split="test"), []

    def recorded(prompts, trainer):
        outputs.append(play(prompts, trainer))
        return outputs[-1]

    # temperature 1.5: the tiny model is nearly greedy at 1.0, and equal rewards in a group give no gradient
    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to=[], max_steps=2,
                      per_device_train_batch_size=4, num_generations=4, max_completion_length=256, temperature=1.5,
                      logging_steps=1, save_strategy="no")
    trainer = GRPOTrainer(model=model, reward_funcs=rollout_reward, args=args, train_dataset=data,
                          processing_class=tokenizer, rollout_func=recorded)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == len(outputs) == 2
    for log, output in zip(logs, outputs):
        sampled = [sum(mask) for mask in output["env_mask"]]
        assert sum(sampled) < sum(len(ids) for ids in output["completion_ids"])  # observations in the completions
        assert log["completions/mean_length"] == pytest.approx(sum(sampled) / len(sampled))  # ...but not counted
        assert log["reward"] == pytest.approx(sum(output["env_return"]) / len(output["env_return"]))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
