"""Train the course's environments with TRL's GRPOTrainer.

Two ways in, both on the same Gymnasium environments (`agentic_lab.envs`):

* Single turn (a task answered in one message): `task_dataset(family)` gives prompts with their gold
  answers and `task_reward` scores each completion with the family's checker.
      GRPOTrainer(model, reward_funcs=task_reward, train_dataset=task_dataset("arithmetic", 256), ...)

* Multi turn (tools, several messages): TRL's `environment_factory` protocol. `trl_environment(env_id)`
  makes a class whose `reset(**row)` resets our environment with the row's seed and returns its first
  observation (TRL appends it to the user message), and whose public methods are the environment's
  tools; TRL parses the model's tool calls with the tokenizer's `response_template`, calls the method,
  and appends the result. `environment_reward` then sends the final message (the answer) to the
  environment and returns the episode's total reward.
      GRPOTrainer(model, reward_funcs=environment_reward, train_dataset=seed_dataset(256),
                  environment_factory=trl_environment("agentic_lab/Calculator-v0"), ...)

The masking rule, the same everywhere: the policy-gradient loss runs over the tokens the policy
sampled and only those. Prompt, observation and tool-output tokens are in the context (the model
attends to them) but out of the loss: TRL's `tool_mask` / `env_mask`, our `Trajectory.loss_mask`.

At scale the same environment maps onto a distributed framework's agent loop. In verl, an `AgentLoop`
subclass's `run()` resets the environment, then alternates `server_manager.generate(prompt_ids)`
(the policy's turn: response ids appended with `response_mask` 1) and `env.step(text)` (the observation,
tokenised with the chat template and appended with `response_mask` 0), and returns
`AgentLoopOutput(prompt_ids, response_ids, response_mask, reward_score)`. OpenRLHF's agent mode is
the same contract: an `AgentExecutor`'s `step(observation, action)` returns the reward and the next
observation, and only the action tokens receive gradient. In both, ids flow token in, token out, as in
`agentic_lab.rollout`; re-tokenising decoded text would break the importance ratios.
"""
from __future__ import annotations

import inspect
import json

import gymnasium as gym
from datasets import Dataset

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab.tasks import Task, sample_tasks
from agentic_lab.tools import Tool


def task_dataset(family: str, n: int, seed: int = 0, split: str = "train") -> Dataset:
    """Prompts of one family in TRL's conversational format, with what `task_reward` needs to check them."""
    tasks = sample_tasks(family, n, seed=seed, split=split)
    return Dataset.from_dict({
        "prompt": [t.messages() for t in tasks],
        "family": [t.family for t in tasks],
        "answer": [t.answer for t in tasks],
        "task_info": [json.dumps(t.info) for t in tasks],
    })


def task_reward(prompts, completions, family, answer, task_info, **kwargs) -> list[float]:
    """1.0 when the completion's <answer> passes the family's checker, else 0.0 (TRL reward-function API)."""
    from agentic_lab.actions import parse_action
    rewards = []
    for prompt, completion, fam, gold, info in zip(prompts, completions, family, answer, task_info):
        text = completion[-1]["content"] if isinstance(completion, list) else completion
        action = parse_action(text or "")
        task = Task(fam, prompt[-1]["content"], gold, (), info=json.loads(info))
        rewards.append(float(action.kind == "answer" and task.check(action.answer)))
    return rewards


def seed_dataset(n: int, start: int = 0) -> Dataset:
    """Rows for `environment_factory` training: an empty user message (the environment fills it) and a seed."""
    return Dataset.from_dict({"prompt": [[{"role": "user", "content": ""}]] * n, "seed": list(range(start, start + n))})


class TRLEnvironment:
    """TRL's environment protocol over one of our environments (see `trl_environment`)."""
    env_id: str = ""
    env_kwargs: dict = {}

    def __init__(self):
        self.env = gym.make(self.env_id, **self.env_kwargs)
        self.total_reward, self.done, self.success = 0.0, False, False

    def reset(self, **row) -> str:
        observation, _ = self.env.reset(seed=int(row["seed"]))
        self.total_reward, self.done, self.success = 0.0, False, False
        return observation

    def _act(self, text: str) -> str:
        observation, reward, terminated, truncated, info = self.env.step(text)
        self.total_reward += float(reward)
        self.done, self.success = terminated or truncated, bool(info.get("success", False))
        return observation


def _tool_method(tool: Tool):
    """A method TRL can expose as a tool: typed signature and an Args docstring, as transformers expects."""
    def method(self, **arguments) -> str:
        if self.done:
            return "Error: the episode is over."
        return self._act(f"<tool_call>{json.dumps({'name': tool.name, 'arguments': arguments})}</tool_call>")
    method.__name__ = method.__qualname__ = tool.name
    method.__doc__ = f"{tool.description}\n\nArgs:\n" + "".join(
        f"    {arg}: {description}\n" for arg, (_, description) in tool.parameters.items())
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)] + [
        inspect.Parameter(arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typ)
        for arg, (typ, _) in tool.parameters.items()]
    method.__signature__ = inspect.Signature(parameters, return_annotation=str)
    method.__annotations__ = {arg: typ for arg, (typ, _) in tool.parameters.items()} | {"return": str}
    return method


def trl_environment(env_id: str, **env_kwargs) -> type[TRLEnvironment]:
    """A TRL `environment_factory` for a registered environment: one public method per tool it offers."""
    probe = gym.make(env_id, **env_kwargs).unwrapped
    namespace = {"env_id": env_id, "env_kwargs": env_kwargs} | {
        name: _tool_method(tool) for name, tool in probe.tools.items()}
    return type(f"TRL{env_id.split('/')[-1].replace('-', '')}", (TRLEnvironment,), namespace)


def environment_reward(completions, environments, **kwargs) -> list[float]:
    """Send each episode's final message (its answer) to the environment; return the episode's total reward."""
    rewards = []
    for completion, env in zip(completions, environments):
        final = completion[-1] if isinstance(completion, list) else {"role": "assistant", "content": completion}
        if not env.done and final.get("role") == "assistant" and not final.get("tool_calls"):
            thought = final.get("reasoning_content")
            env._act((f"<think>{thought}</think>" if thought else "") + (final.get("content") or ""))
        rewards.append(env.total_reward)
    return rewards
