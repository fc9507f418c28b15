"""Notebook 15's RL at full size, from data/math-warm on fraction sums (agentic_lab/Fractions-v0), over seeds.

    python experiments/15_math_rl.py                      # both parts, 3 seeds
    python experiments/15_math_rl.py --seeds 1 --steps 2 --questions 16 --part reward   # a quick try-out

Part 1, the reward. GRPO on training questions, rewarded by the SymPy verifier (any equal form is right) or by
string match (only the key's form, the reduced fraction, is right). Both arms are then played on the same held-out
questions (test split, pairs="seen": questions never trained on, with denominators training has), one sample at
T = 1 each: right by the verifier, right by string match, and the share of right answers written in the key's form.
Each arm's gain is paired by question with the warm start; the arms are paired with each other, seed by seed.

Part 2, TTRL: GRPO on unlabelled test questions, rewarded by agreement with the majority of each group's answers
(`math_tasks.ttrl_rewards`; the key is read only to measure). Test-time training: it trains on the questions it is
measured on. Twice: on the held-out questions of part 1 (denominators 2 to 9), where the warm start's majority is
usually right, and on denominators 10 to 13, whose products are past the times table the warm start learned: its
answers still agree with each other, on wrong values. Each step's groups print how often they voted a label, the
majority's share of its group, and how often the majority was the right answer.
"""
import argparse
import statistics
import time
from collections import Counter

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, math_tasks
from agentic_lab.eval import paired_gain
from agentic_lab.rl import RLConfig, grpo_train

ENV_ID = "agentic_lab/Fractions-v0"
SEEN = {"pairs": "seen"}                        # the held-out questions of part 1, and TTRL's first regime
HARD = {"denominators": (10, 13)}               # products past the times table the warm start learned


def config(lr: float) -> RLConfig:
    return RLConfig(n_groups=8, group_size=8, lr=lr, max_new_tokens=math_tasks.ANSWER_TOKENS)


def measure(policy, tokenizer, questions: int, **params) -> dict[str, list[float]]:
    """Per held-out question (`math_tasks.play_fraction_sums`, one answer at T = 1): right by the verifier, and right
    by string match."""
    played = math_tasks.play_fraction_sums(policy, tokenizer, questions, **params)
    return {"right": [float(t.success) for t in played], "string": [float(math_tasks.string_matches(t))
                                                                     for t in played],
            "answers": [t.final_answer for t in played]}


def key_form(run: dict[str, list[float]]) -> float:
    """The share of right answers written as the key writes them (string match's right among the verifier's)."""
    return sum(run["string"]) / max(sum(run["right"]), 1)


def mean_se(values: list[float]) -> str:
    return f"{statistics.mean(values):+.3f} ± {statistics.stdev(values) / len(values) ** 0.5:.3f}"


def line(name: str, run: dict[str, list[float]], before: dict[str, list[float]] | None = None) -> str:
    text = (f"{name:34s} right {statistics.mean(run['right']):.3f}  string match {statistics.mean(run['string']):.3f}"
            f"  key's form {key_form(run):.2f}")
    if before is not None:
        gain, se = paired_gain(before["right"], run["right"])
        text += f"  vs warm start {gain:+.3f} ± {se:.3f}"
    return text


def reward_part(args, warm: dict) -> None:
    print(f"\nPart 1: GRPO rewarded by the verifier or by string match, {args.steps} steps of 8 x 8, lr {args.lr}")
    gains = {"sympy": [], "string": []}
    for seed in args.seeds:
        runs = {}
        for reward in ("sympy", "string"):
            policy, tokenizer = load_model(math_tasks.ANSWER_WARM_START)
            began = time.time()
            history = grpo_train(policy, tokenizer, lambda: gym.make(ENV_ID, reward=reward), args.steps,
                                 config(args.lr), seed=seed, progress=False)
            runs[reward] = measure(policy, tokenizer, args.questions, **SEEN)
            paid, right = [h["reward"] for h in history], [h["success"] for h in history]
            print(f"  seed {seed} {reward:6s} training reward {statistics.mean(paid[:3]):.2f} -> "
                  f"{statistics.mean(paid[-3:]):.2f}, right {statistics.mean(right[:3]):.2f} -> "
                  f"{statistics.mean(right[-3:]):.2f} (first 3 -> last 3 steps; "
                  f"{time.time() - began:.0f} s)", flush=True)
            print("  " + line(f"seed {seed}, {reward} reward", runs[reward], warm), flush=True)
            gains[reward].append(paired_gain(warm["right"], runs[reward]["right"])[0])
        gap, se = paired_gain(runs["string"]["right"], runs["sympy"]["right"])
        print(f"  seed {seed}: right, sympy reward - string reward {gap:+.3f} ± {se:.3f} (paired by question)")
    if len(args.seeds) > 1:
        print(f"over seeds {args.seeds}: gain over the warm start, sympy reward {mean_se(gains['sympy'])}, "
              f"string reward {mean_se(gains['string'])}, "
              f"sympy - string {mean_se([a - b for a, b in zip(gains['sympy'], gains['string'])])}")


def ttrl_part(args, warm: dict) -> None:
    print(f"\nPart 2: TTRL on unlabelled test questions, {args.steps} steps of 8 x 8, lr {args.lr}")
    costs = []
    for name, params in (("denominators 2-9", SEEN), ("denominators 10-13", HARD)):
        warm_model, tokenizer = load_model(math_tasks.ANSWER_WARM_START)
        before = measure(warm_model, tokenizer, args.questions, **params)
        print("  " + line(f"warm start, {name}", before))
        gains = []
        for seed in args.seeds:
            policy, tokenizer = load_model(math_tasks.ANSWER_WARM_START)
            began = time.time()
            history = grpo_train(policy, tokenizer, lambda: gym.make(ENV_ID, split="test", **params), args.steps,
                                 config(args.lr), seed=seed, progress=False, group_reward_fn=math_tasks.ttrl_rewards,
                                 step_metrics=math_tasks.vote_metrics(8))
            after = measure(policy, tokenizer, args.questions, **params)
            gains.append(paired_gain(before["right"], after["right"])[0])
            print(f"  seed {seed}, first 3 -> last 3 steps: " + ", ".join(
                f"{key.replace('_', ' ')} {statistics.mean(h[key] for h in history[:3]):.2f} -> "
                f"{statistics.mean(h[key] for h in history[-3:]):.2f}"
                for key in ("labelled", "agreement", "majority_right", "success")) + f" ({time.time() - began:.0f} s)")
            print("  " + line(f"seed {seed}, TTRL, {name}", after, before), flush=True)
            answer_text, count = Counter(after["answers"]).most_common(1)[0]
            print(f"  seed {seed}: its most common answer, {answer_text!r}, to {count / args.questions:.0%} of the "
                  "questions")
            if params is HARD:                 # what agreeing on a mistake did to the sums it could do
                seen = measure(policy, tokenizer, args.questions, **SEEN)
                costs.append(paired_gain(warm["right"], seen["right"])[0])
                print("  " + line(f"seed {seed}, on denominators 2-9", seen, warm), flush=True)
        if len(args.seeds) > 1:
            print(f"  {name}: TTRL's gain over seeds {args.seeds} {mean_se(gains)}")
    if len(args.seeds) > 1:
        print(f"  TTRL on denominators 10-13, measured on 2-9: change over seeds {mean_se(costs)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--questions", type=int, default=200, help="held-out questions measured")
    parser.add_argument("--part", choices=["reward", "ttrl", "both"], default="both")
    args = parser.parse_args()
    start = time.time()
    warm_model, tokenizer = load_model(math_tasks.ANSWER_WARM_START)
    warm = measure(warm_model, tokenizer, args.questions, **SEEN)
    print(f"held out: {args.questions} fraction sums never trained on (denominators training has), one answer at T = 1")
    print(line("warm start", warm))
    if args.part in ("reward", "both"):
        reward_part(args, warm)
    if args.part in ("ttrl", "both"):
        ttrl_part(args, warm)
    print(f"\n{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
