"""One GRPO step, ours (`agentic_lab.rl.grpo_train`) against TRL's `GRPOTrainer`, on the same tiny model.

    python benchmarks/grpo_step.py [--warmup 2] [--steps 5] [--threads 1] [--profile]

Same work on both sides, notebook 05's run: the single-turn word_problem family (TRL scores it with
`agentic_lab.trl_bridge.task_reward`, ours with the environment's reward), 8 groups of 8 completions per
step (TRL: per_device_train_batch_size=64, num_generations=8), at most 48 new tokens, temperature 1, lr 3e-5,
loss_type "grpo", β = 0, one gradient step per batch (μ = 1). Both start from the shipped weights. Each
trains `warmup + steps` steps in this run; the figure is the ratio of their mean seconds per step over the
last `steps` (steady state). Torch runs on `--threads` threads.

Alone on 2 cores (a clean clone, 2026-12-02): ours 0.71 s a step, TRL 1.77 s, figure 2.5. Where the time goes
(`--profile`: cProfile of one steady-state step each, 1 thread; the other core ran a notebook; one run, seconds):

    ours, 2.44 s a step (figure 2.1)              TRL, 5.09 s a step
      rollout                       1.29             transformers generate     1.61
      forward with grad             0.72             forward with grad         1.07
      (π_old: that forward, detached)                (π_old skipped: μ = 1)
      backward                      1.14             backward                  3.04
    top own time: backward 1.14, linear 0.75,      top own time: backward 1.99, linear 1.98
      attention 0.43

Our update forwards each group's shared prompt once (`policy_gradient.batch_logits`: 65 prompt tokens against
about 22 completion tokens here), so its forward and backward cost about a third of TRL's, which forwards all
64 prompts in full. The rollout is about 1.2x TRL's generate (a group's prompt is prefilled once, rows leave
as they finish, no torch.cat per token). Before the shared prefix (1 thread, lighter load) the figure was
1.1-1.2: ours 3.6 s, TRL 4.2-4.3 s.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import time

import torch

N_GROUPS, GROUP_SIZE, MAX_NEW_TOKENS, LR, FAMILY = 8, 8, 48, 3e-5, "word_problem"
# The phases of a step: (file, function) of the code that runs each; the profile gives their cumulative seconds
PHASES = {
    "ours": {"rollout (agentic_lab.rollout)": ("rollout.py", "rollout"),
             "forward with grad (π_old = it, detached)": ("policy_gradient.py", "batch_logits"),
             "backward": ("", "<method 'run_backward'"), "optimizer step": ("torch/optim/", "step")},
    "TRL": {"generate (transformers)": ("generation/utils.py", "generate"),
            "reward function": ("trl_bridge.py", "task_reward"),
            "forward with grad": ("grpo_trainer.py", "_get_per_token_logps_and_entropies"),
            "backward": ("", "<method 'run_backward'"), "optimizer step": ("torch/optim/", "step")},
}


def profile_report(profiler: cProfile.Profile, phases: dict[str, tuple[str, str]]) -> str:
    """The phases' cumulative seconds, then the functions with the most own time."""
    stats, out = pstats.Stats(profiler), io.StringIO()
    lines = [f"  {'total':<36} {stats.total_tt:6.2f} s"]
    for phase, (file, function) in phases.items():
        seconds = max((ct for (path, _, name), (_, _, _, ct, _) in stats.stats.items()
                       if file in path and name.startswith(function)), default=0.0)
        lines.append(f"  {phase:<36} {seconds:6.2f} s")
    stats.stream = out
    stats.sort_stats("tottime").print_stats(10)
    return "\n".join(lines) + "\n" + out.getvalue()


def ours(steps: int, profile_step: int | None) -> tuple[list[float], str]:
    """Seconds per step of our loop. A step starts with its rollout; the reward function is first called when
    the rollout is done, so the time between two steps' first reward calls is one whole step."""
    from agentic_lab import load_model
    from agentic_lab.envs import TaskEnv
    from agentic_lab.rl import RLConfig, episode_reward, grpo_train

    model, tokenizer = load_model()
    config = RLConfig(n_groups=N_GROUPS, group_size=GROUP_SIZE, lr=LR, max_new_tokens=MAX_NEW_TOKENS,
                      temperature=1.0, loss_type="grpo", beta=0.0, num_iterations=1)
    marks, calls, profiler = [], [0], cProfile.Profile()

    def reward(trajectory):
        if calls[0] % (N_GROUPS * GROUP_SIZE) == 0:       # the first episode of a step: its rollout is done
            marks.append(time.perf_counter())
            step = len(marks) - 1
            if profile_step is not None and step == profile_step:
                profiler.enable()
            if profile_step is not None and step == profile_step + 1:
                profiler.disable()
        calls[0] += 1
        return episode_reward(trajectory)

    grpo_train(model, tokenizer, lambda: TaskEnv(FAMILY, split="train", max_turns=1), steps=steps + 1,
               config=config, reward_fn=reward, progress=False)
    report = profile_report(profiler, PHASES["ours"]) if profile_step is not None else ""
    return [b - a for a, b in zip(marks, marks[1:])], report


def trl(steps: int, profile_step: int | None) -> tuple[list[float], str]:
    """Seconds per step of TRL's GRPOTrainer, between consecutive `on_step_end` callbacks."""
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from agentic_lab import load_model
    from agentic_lab.trl_bridge import task_dataset, task_reward

    model, tokenizer = load_model()
    marks, profiler = [], cProfile.Profile()

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())
            if profile_step is not None and len(marks) == profile_step + 1:
                profiler.enable()
            if profile_step is not None and len(marks) == profile_step + 2:
                profiler.disable()

    with tempfile.TemporaryDirectory() as output_dir:
        args = GRPOConfig(output_dir=output_dir, per_device_train_batch_size=N_GROUPS * GROUP_SIZE,
                          num_generations=GROUP_SIZE, max_completion_length=MAX_NEW_TOKENS, temperature=1.0,
                          learning_rate=LR, loss_type="grpo", beta=0.0, num_iterations=1,
                          gradient_accumulation_steps=1, max_steps=steps + 1, logging_steps=1, report_to=[],
                          save_strategy="no", use_cpu=True, bf16=False, disable_tqdm=True, seed=0)
        trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=task_reward, args=args,
                              train_dataset=task_dataset(FAMILY, N_GROUPS * (steps + 2), split="train"),
                              callbacks=[StepTimer()])
        trainer.train()
    report = profile_report(profiler, PHASES["TRL"]) if profile_step is not None else ""
    return [b - a for a, b in zip(marks, marks[1:])], report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--warmup", type=int, default=2, help="steps left out of the mean")
    parser.add_argument("--steps", type=int, default=5, help="steps timed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cProfile one steady-state step of each")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}; {N_GROUPS} groups x {GROUP_SIZE} completions of {FAMILY}, "
          f"<= {MAX_NEW_TOKENS} new tokens, lr {LR}")
    profile_step = args.warmup if args.profile else None
    total = args.warmup + args.steps
    results = {}
    for name, run in (("ours", ours), ("TRL", trl)):
        seconds, report = run(total, profile_step)
        timed = seconds[args.warmup:]
        results[name] = statistics.mean(timed)
        print(f"{name:>4}: {results[name]:6.2f} s per step (steady state, mean of {len(timed)}; "
              f"min {min(timed):.2f}, max {max(timed):.2f}; warm-up {', '.join(f'{s:.2f}' for s in seconds[:args.warmup])})")
        if report:
            print(f"profile of {name}'s step {profile_step} (seconds of own time):\n{report}")
    print(f"RESULT grpo_step_speedup {results['TRL'] / results['ours']:.1f}")


if __name__ == "__main__":
    main()
