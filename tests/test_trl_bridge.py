"""Our environments train with TRL's GRPOTrainer through the adapter."""
import os

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
                          environment_factory=trl_environment("agentic_lab/Calculator-v0"))
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    assert len(logs) == 2
    assert all(h["tools/call_frequency"] > 0 and h["tools/failure_frequency"] < 1 for h in logs)
