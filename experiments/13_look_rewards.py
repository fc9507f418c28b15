"""Notebook 13's four rewards for looking, each trained from data/look-warm: the notebook trains two of them.

    python experiments/13_look_rewards.py              # about 6 minutes alone on 2 cores
    python experiments/13_look_rewards.py --steps 3 --scenes 16    # a quick try-out
    python experiments/13_look_rewards.py --arms outcome --train-vision    # RL moves the eyes too
    python experiments/13_look_rewards.py --arms deepeyes --seeds 0 1 2    # does a collapse recur, and why

Arms, same groups, seeds and learning rate (the notebook's settings): the outcome only; Pixel Reasoner's curiosity
reward (a group reward: a bonus for looking while the group's look rate is under H = 0.3, a penalty per visual
operation beyond one); DeepEyes' conditional bonus (0.8 acc + 0.2 format + 1.2 [acc and a tool]); the control, +0.2
per visual operation right or wrong. The patch projector and positions stay frozen (`vision.freeze_patch_projector`).
Each: --steps GRPO steps of 4 train-split scenes × 8 episodes. Per step (5-step means): accuracy, look rate, visual
operations per episode, and what a collapse would show first: the policy's entropy on its own tokens, its KL to
the warm start (k3, `track_kl`) and the share of broken messages (refused: malformed, or a tool call the scene
refuses). Held out, --scenes test-split scenes at T = 1 with the same sampling seed: the warm start with its tools
and in the one-glance game (no tool offered), each arm after RL, and the gains paired by scene. With several
--seeds, each arm trains once per seed (the seed of its tasks and samples) and prints each run.

Reference run, commit 5555add (data/look-warm rebuilt by issue 34 from the rebuilt base, held-out scenes with a worn
stroke pixel), the defaults, one thread beside another job, 863 s: one glance 0.307 ± 0.027, warm start 0.693 ±
0.027 looking 0.54 of the time and right 0.84 of the times it looked; accuracy, then over the warm start, look rate:
    outcome     0.810 ± 0.023  +0.117 ± 0.026  0.84   (look rate by step: 0.46 -> 0.87)
    curiosity   0.613 ± 0.028  -0.080 ± 0.032  0.38   (over outcome -0.197 ± 0.027; look rate by step 0.46 -> 0.85)
    deepeyes    0.667 ± 0.027  -0.027 ± 0.032  0.96   (over outcome -0.143 ± 0.028; accuracy by step 0.81 -> 0.82)
    tool bonus  0.797 ± 0.023  +0.103 ± 0.031  0.96   (over outcome -0.013 ± 0.028; no second call)

DeepEyes over three seeds, `--arms deepeyes --seeds 0 1 2`, commit e4e86e2, one thread beside another job, 342 s
(seed 0 is the run above; by step, 5-step means: training accuracy, KL to the warm start, share of broken messages):
    deepeyes 0  0.667 ± 0.027  -0.027 ± 0.032  looks 0.96, right 0.69 when it looked, first crop on the cell 0.99
                accuracy 0.81 0.69 0.76 0.59 0.85 0.86 0.88 0.82; KL 0.00 -> 0.03; broken 0.00 -> 0.03
    deepeyes 1  0.547 ± 0.029  -0.147 ± 0.039  looks 0.98, right 0.55 when it looked, first crop on the cell 1.00
                accuracy 0.49 0.43 0.45 0.54 0.49 0.49 0.58 0.48; KL 0.04 -> 0.08; broken 0.00 -> 0.04
    deepeyes 2  0.267 ± 0.026  -0.427 ± 0.030  looks 0.98, right 0.27 when it looked, first crop on the cell 0.99
                accuracy 0.61 0.65 0.45 0.53 0.15 0.30 0.25 0.28; KL 0.02 -> 0.15; broken 0.00 -> 0.02
    (entropy on the policy's tokens 0.03 -> 0.01 in every seed; the warm start is right 0.84 of the times it looks)

Earlier reference run, on the warm start built before issue 34 (2 cores, alone, 379 s; one glance 0.577 ± 0.029, warm start 0.733 ± 0.026 looking 0.54 of the time
and right 0.88 of the times it looked), accuracy, then over the warm start, look rate (calls per episode equal it):
    outcome     0.847 ± 0.021  +0.113 ± 0.024  0.80   (look rate by step: 0.44 -> 0.82)
    curiosity   0.860 ± 0.020  +0.127 ± 0.026  0.84   (over outcome +0.013 ± 0.019)
    deepeyes    0.140 ± 0.020  -0.593 ± 0.032  0.00   (accuracy by step: 0.92 over steps 25-29, then 0.29, 0.11)
    tool bonus  0.907 ± 0.017  +0.173 ± 0.026  0.97   (over outcome +0.060 ± 0.023; no second call)
--arms deepeyes prints its collapsed messages: ['22</answer>', '2": "x0"x0"y0": ...', '<answer>0": 4}x0 ...'].
--arms outcome --train-vision: 0.773 ± 0.024, +0.040 ± 0.027, looks 0.81, right 0.81 of the times it looked.
--lr 5e-5 --arms deepeyes,outcome: deepeyes 0.810 ± 0.023, +0.077 ± 0.024, looks 0.80; outcome 0.813 ± 0.022,
+0.080 ± 0.025, looks 0.67.
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import agentic_lab.envs  # noqa: E402,F401 - registers the environments
from agentic_lab import load_model, perception  # noqa: E402
from agentic_lab.eval import paired_gain  # noqa: E402
from agentic_lab.rl import RLConfig, grpo_train  # noqa: E402
from agentic_lab.rollout import rollout  # noqa: E402
from agentic_lab.vision import freeze_patch_projector  # noqa: E402

STEPS, LR = 40, 1e-4
REWARDS = {
    "outcome": dict(reward_fn=perception.outcome_reward),
    "curiosity": dict(group_reward_fn=perception.curiosity_rewards),
    "deepeyes": dict(reward_fn=perception.deepeyes_reward),
    "tool bonus": dict(reward_fn=perception.tool_bonus_reward),
}


def play(model, tokenizer, n: int, look: bool = True):
    seeds = [100_000 + k for k in range(n)]
    envs = [gym.make("agentic_lab/Look-v0", split="test", look=look) for _ in seeds]
    return rollout(model, tokenizer, envs, seeds, temperature=1.0, seed=0)


def line(name: str, episodes) -> str:
    r = perception.look_report(episodes)
    looked = "-" if r["accuracy_looked"] is None else f"{r['accuracy_looked']:.2f}"
    on_cell = "-" if r["right_cell"] is None else f"{r['right_cell']:.2f}"
    return (f"{name:>12s}: accuracy {r['accuracy']:.3f} ± {r['accuracy_se']:.3f}, looks {r['look_rate']:.2f}, "
            f"calls {r['calls']:.2f}, accuracy when it looked {looked}, first crop on the digit's cell {on_cell}")


def broken_share(episodes) -> float:
    """The share of a step's messages the environment refused (malformed text, or a tool call it could not carry
    out): what a policy losing its format writes."""
    turns = [turn for t in episodes for turn in t.turns]
    return sum(turn.action.kind == "invalid" or (turn.result or "").startswith("Error:") for turn in turns) / len(turns)


def every_5(values: list[float]) -> str:
    return " ".join(f"{sum(values[i:i + 5]) / len(values[i:i + 5]):.2f}" for i in range(0, len(values), 5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--scenes", type=int, default=300, help="held-out scenes")
    parser.add_argument("--arms", default=",".join(REWARDS), help="comma-separated, of: " + ", ".join(REWARDS))
    parser.add_argument("--train-vision", action="store_true", help="RL trains the patch projector and positions too")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one training run per seed and arm")
    args = parser.parse_args()
    start = time.time()
    warm, tokenizer = load_model(perception.LOOK_WARM_START)
    glance, before = play(warm, tokenizer, args.scenes, look=False), play(warm, tokenizer, args.scenes)
    print(line("one glance", glance))
    print(line("warm start", before), flush=True)
    config, after = RLConfig(n_groups=4, group_size=8, lr=args.lr, track_kl=True), {}
    measures = lambda episodes: perception.look_metrics(episodes, config.group_size) | {"broken": broken_share(episodes)}
    for seed in args.seeds:
        for name in args.arms.split(","):
            policy = copy.deepcopy(warm) if args.train_vision else freeze_patch_projector(copy.deepcopy(warm))
            history = grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/Look-v0"), args.steps,
                                 config, seed=seed, progress=False, step_metrics=measures, **REWARDS[name])
            after[name] = play(policy, tokenizer, args.scenes)
            print(line(name if len(args.seeds) == 1 else f"{name} {seed}", after[name]))
            for baseline, base in (("warm start", before), ("one glance", glance), ("outcome", after.get("outcome"))):
                if base is not None and name != baseline:
                    gain, se = paired_gain([t.success for t in base], [t.success for t in after[name]])
                    print(f"    over {baseline}: {gain:+.3f} ± {se:.3f}")
            for key in ("success", "look_rate", "calls", "entropy", "kl_ref", "broken"):
                print(f"    {key} by step (5-step means): {every_5([h[key] for h in history])}", flush=True)
            print("    its messages in the first held-out scene:", [turn.text[:80] for turn in after[name][0].turns])
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
