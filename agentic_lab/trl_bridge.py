"""Train the course's environments with TRL's GRPOTrainer.

Three ways in, all on the same Gymnasium environments (`agentic_lab.envs`):

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

* Multi turn with our own engine: TRL's `rollout_func` hook. `rollout_dataset(env_id, n)` gives one row
  per seed, the prompt being the environment's first observation; `make_rollout_func(env_id, data)`
  plays each prompt's episode with `agentic_lab.rollout` and hands TRL the exact ids: `prompt_ids` (what
  the engine conditioned on before its first sampled token), `completion_ids` (messages and observations
  interleaved), the sampler's `logprobs`, and `env_mask` (our loss mask after the prompt). TRL forwards
  the extra `env_return` field to `rollout_reward`; score with it rather than with `completions`, which
  TRL decodes as one assistant message with the observations' text run into it.
      data = rollout_dataset("agentic_lab/Calculator-v0", 256)
      GRPOTrainer(model, reward_funcs=rollout_reward, train_dataset=data,
                  rollout_func=make_rollout_func("agentic_lab/Calculator-v0", data), ...)
  Prefer it to `environment_factory` when the environment speaks our text protocol rather than tool
  methods, when you want the batched engine (one forward per token for the whole batch, rows leaving
  as they stop, observations rendered by the chat template), or when you want to train on exactly
  the trajectories you evaluate and inspect in the course. TRL's own tool loop is the choice when the
  environment is a set of tools and you want TRL's generation backends (vLLM) and its parsing.

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
`agentic_lab.rollout`; re-tokenising decoded text would break the importance ratios. The `rollout_func`
path already has that shape: (prompt_ids, completion_ids, env_mask) is verl's (prompt_ids, response_ids,
response_mask).
"""
from __future__ import annotations

import inspect
import json
from typing import Callable

import gymnasium as gym
import torch
from datasets import Dataset

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab.rollout import rollout
from agentic_lab.tasks import Task, sample_tasks
from agentic_lab.tools import Tool
from agentic_lab.trajectory import Trajectory


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


def rollout_dataset(env_id: str, n: int, seed: int = 0, **env_kwargs) -> Dataset:
    """Rows for `rollout_func` training: the environment's first observation as the user message, and its seed.

    TRL hands `rollout_func` only the prompts, so the prompt text must name its seed: a seed whose first
    observation repeats an earlier one is skipped."""
    env = gym.make(env_id, **env_kwargs)
    seeds: dict[str, int] = {}
    for candidate in range(seed, seed + 10 * n):
        observation, _ = env.reset(seed=candidate)
        seeds.setdefault(observation, candidate)
        if len(seeds) == n:
            return Dataset.from_dict({"prompt": [[{"role": "user", "content": text}] for text in seeds],
                                      "seed": list(seeds.values())})
    raise ValueError(f"{env_id} has fewer than {n} distinct first observations in seeds {seed}..{seed + 10 * n - 1}")


def trl_rollout_output(trajectories: list[Trajectory],
                       reward_fn: Callable[[Trajectory], float] | None = None) -> dict[str, list]:
    """TRL's rollout_func fields from our trajectories, split at the first sampled token (ids untouched).
    `env_return` and `env_seed` are extra fields: TRL passes them to the reward functions. `env_return` is the
    episode's total reward, or `reward_fn(trajectory)`, a reward of the whole episode such as notebook 17's judges."""
    output = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [], "env_return": [], "env_seed": []}
    for trajectory in trajectories:
        start = trajectory.loss_mask.index(1)
        output["prompt_ids"].append(trajectory.token_ids[:start])
        output["completion_ids"].append(trajectory.token_ids[start:])
        output["logprobs"].append(trajectory.logprobs[start:])
        output["env_mask"].append(trajectory.loss_mask[start:])
        output["env_return"].append(trajectory.total_reward if reward_fn is None else reward_fn(trajectory))
        output["env_seed"].append(trajectory.seed)
    return output


def make_rollout_func(env_id: str, dataset: Dataset, max_new_tokens: int = 96,
                      reward_fn: Callable[[Trajectory], float] | None = None, **env_kwargs):
    """A TRL `rollout_func` that plays one episode per prompt with our engine, on the trainer's current model.

    `dataset` is the one the trainer samples (e.g. `rollout_dataset`; concatenate the eval rows if you evaluate);
    its `prompt` and `seed` columns give the lookup from prompt text back to seed. TRL's `prompts` already repeat each prompt `num_generations`
    times, so one episode per element makes the groups. Sampling follows the trainer's `temperature`. Each
    message has at most `max_new_tokens`, and a message starts only if it fits in `max_completion_length`;
    an episode cut there keeps the observation that followed its last message, so TRL counts it truncated.
    `reward_fn` (a function of the Trajectory, as `rl.grpo_train` takes) replaces the environment's return in
    `env_return`, which `rollout_reward` hands to TRL."""
    seeds: dict[str, int] = {}
    for prompt, seed in zip(dataset["prompt"], dataset["seed"]):
        if seeds.setdefault(prompt[-1]["content"], seed) != seed:
            raise ValueError(f"two seeds share the prompt {prompt[-1]['content']!r}: build the data with rollout_dataset")

    def rollout_func(prompts: list, trainer) -> dict[str, list]:
        from trl.models import unwrap_model_for_generation
        texts = [prompt[-1]["content"] for prompt in prompts]
        envs, episode_seeds = [gym.make(env_id, **env_kwargs) for _ in prompts], [seeds[text] for text in texts]
        tokenizer, budget = trainer.processing_class, trainer.max_completion_length
        # The engine's limit is on the whole context; the shortest prompt plus the budget bounds every completion.
        max_context = _shortest_prompt(envs[0], set(episode_seeds), tokenizer) + budget
        # Unwrapped as TRL does for generate(): no DDP wrapper, no gradient checkpointing, ZeRO-3 weights gathered.
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
                                         gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs
                                         ) as model:
            was_training = model.training
            model.eval()  # no dropout while sampling, so the recorded log-probs are the policy's
            try:
                trajectories = rollout(model, tokenizer, envs, episode_seeds, temperature=trainer.temperature,
                                       max_new_tokens=min(max_new_tokens, budget), max_context=max_context,
                                       seed=int(torch.randint(2**31, ())))  # drawn from the trainer's seeded RNG
            finally:
                model.train(was_training)
        for text, trajectory in zip(texts, trajectories):
            if trajectory.turns[0].observation != text:
                raise ValueError(f"seed {trajectory.seed} of {env_id} no longer opens with {text!r}")
        return trl_rollout_output(trajectories, reward_fn)

    return rollout_func


def _shortest_prompt(env: gym.Env, seeds: set[int], tokenizer) -> int:
    """Tokens in the shortest of these episodes' prompts, rendered as `rollout` renders them."""
    lengths = []
    for seed in seeds:
        observation, info = env.reset(seed=seed)
        lengths.append(len(tokenizer.apply_chat_template([{"role": "user", "content": observation}],
                                                         tools=info.get("tools") or None, add_generation_prompt=True,
                                                         return_dict=False)))
    return min(lengths)


def rollout_reward(completions, env_return, **kwargs) -> list[float]:
    """The episode's total reward, computed by the environment during the rollout and forwarded by TRL."""
    return [float(value) for value in env_return]
