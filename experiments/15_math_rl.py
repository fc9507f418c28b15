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

Reference run, data/math-warm of commit 057ca06. Part 1 comes from a run of the defaults (496 s for both parts, one
thread, beside a warm-start build) with this script's first form, which measured with its own copy of
`math_tasks.play_fraction_sums` (a 4-step run printed the same to the digit with both forms). Its part 2 lacked the
most common answers and the measure on denominators 2-9, so part 2 was run again. Part 1's output:

    held out: 200 fraction sums never trained on (denominators training has), one answer at T = 1
    warm start                         right 0.535  string match 0.325  key's form 0.61

    Part 1: GRPO rewarded by the verifier or by string match, 30 steps of 8 x 8, lr 0.0001
      seed 0 sympy  training reward 0.81 -> 0.79, right 0.81 -> 0.79 (first 3 -> last 3 steps; 36 s)
      seed 0, sympy reward               right 0.710  string match 0.290  key's form 0.41  vs warm start +0.175 ± 0.038
      seed 0 string training reward 0.37 -> 0.55, right 0.76 -> 0.66 (first 3 -> last 3 steps; 61 s)
      seed 0, string reward              right 0.370  string match 0.285  key's form 0.77  vs warm start -0.165 ± 0.039
      seed 0: right, sympy reward - string reward +0.340 ± 0.040 (paired by question)
      seed 1 sympy  training reward 0.69 -> 0.81, right 0.69 -> 0.81 (first 3 -> last 3 steps; 28 s)
      seed 1, sympy reward               right 0.725  string match 0.285  key's form 0.39  vs warm start +0.190 ± 0.037
      seed 1 string training reward 0.38 -> 0.43, right 0.59 -> 0.56 (first 3 -> last 3 steps; 53 s)
      seed 1, string reward              right 0.460  string match 0.340  key's form 0.74  vs warm start -0.075 ± 0.039
      seed 1: right, sympy reward - string reward +0.265 ± 0.039 (paired by question)
      seed 2 sympy  training reward 0.76 -> 0.85, right 0.76 -> 0.85 (first 3 -> last 3 steps; 33 s)
      seed 2, sympy reward               right 0.740  string match 0.280  key's form 0.38  vs warm start +0.205 ± 0.036
      seed 2 string training reward 0.57 -> 0.57, right 0.75 -> 0.67 (first 3 -> last 3 steps; 38 s)
      seed 2, string reward              right 0.420  string match 0.340  key's form 0.81  vs warm start -0.115 ± 0.036
      seed 2: right, sympy reward - string reward +0.320 ± 0.040 (paired by question)
    over seeds [0, 1, 2]: gain over the warm start, sympy reward +0.190 ± 0.009, string reward -0.118 ± 0.026, sympy - string +0.308 ± 0.022

Part 2, `--part ttrl` at commit f0989da (two threads, nothing else running), after the same warm start lines:

    Part 2: TTRL on unlabelled test questions, 30 steps of 8 x 8, lr 0.0001
      warm start, denominators 2-9       right 0.535  string match 0.325  key's form 0.61
      seed 0, first 3 -> last 3 steps: labelled 0.88 -> 0.96, agreement 0.60 -> 0.84, majority right 0.75 -> 0.71, success 0.59 -> 0.70 (26 s)
      seed 0, TTRL, denominators 2-9     right 0.580  string match 0.230  key's form 0.40  vs warm start +0.045 ± 0.042
      seed 0: its most common answer, '11/12', to 4% of the questions
      seed 1, first 3 -> last 3 steps: labelled 1.00 -> 0.92, agreement 0.69 -> 0.78, majority right 0.79 -> 0.67, success 0.63 -> 0.61 (25 s)
      seed 1, TTRL, denominators 2-9     right 0.615  string match 0.190  key's form 0.31  vs warm start +0.080 ± 0.046
      seed 1: its most common answer, '17/18', to 4% of the questions
      seed 2, first 3 -> last 3 steps: labelled 1.00 -> 1.00, agreement 0.65 -> 0.84, majority right 0.83 -> 0.75, success 0.61 -> 0.65 (22 s)
      seed 2, TTRL, denominators 2-9     right 0.660  string match 0.265  key's form 0.40  vs warm start +0.125 ± 0.039
      seed 2: its most common answer, '5/6', to 4% of the questions
      denominators 2-9: TTRL's gain over seeds [0, 1, 2] +0.083 ± 0.023
      warm start, denominators 10-13     right 0.010  string match 0.000  key's form 0.00
      seed 0, first 3 -> last 3 steps: labelled 0.88 -> 1.00, agreement 0.41 -> 0.99, majority right 0.04 -> 0.12, success 0.02 -> 0.12 (32 s)
      seed 0, TTRL, denominators 10-13   right 0.035  string match 0.035  key's form 1.00  vs warm start +0.025 ± 0.011
      seed 0: its most common answer, '1', to 100% of the questions
      seed 0, on denominators 2-9        right 0.390  string match 0.210  key's form 0.54  vs warm start -0.145 ± 0.042
      seed 1, first 3 -> last 3 steps: labelled 0.79 -> 1.00, agreement 0.33 -> 1.00, majority right 0.04 -> 0.00, success 0.02 -> 0.00 (31 s)
      seed 1, TTRL, denominators 10-13   right 0.035  string match 0.035  key's form 1.00  vs warm start +0.025 ± 0.011
      seed 1: its most common answer, '1', to 94% of the questions
      seed 1, on denominators 2-9        right 0.180  string match 0.070  key's form 0.39  vs warm start -0.355 ± 0.043
      seed 2, first 3 -> last 3 steps: labelled 0.71 -> 1.00, agreement 0.28 -> 0.92, majority right 0.00 -> 0.04, success 0.00 -> 0.02 (38 s)
      seed 2, TTRL, denominators 10-13   right 0.035  string match 0.000  key's form 0.00  vs warm start +0.025 ± 0.011
      seed 2: its most common answer, '11/11', to 66% of the questions
      seed 2, on denominators 2-9        right 0.285  string match 0.160  key's form 0.56  vs warm start -0.250 ± 0.044
      denominators 10-13: TTRL's gain over seeds [0, 1, 2] +0.025 ± 0.000
      TTRL on denominators 10-13, measured on 2-9: change over seeds -0.250 ± 0.061

    180 s

Paid by the verifier, every seed gained (+0.175, +0.190, +0.205) and wrote the key's form less; paid by string
match, every seed lost (-0.165, -0.075, -0.115) and wrote it more. TTRL gained where the vote was usually right
(+0.045, +0.080, +0.125; +0.083 ± 0.023 over seeds); on denominators 10 to 13 every seed's groups came to agree
(0.92 to 1.00 of a group) on an answer equal to 1 ("1", "11/11"), and the same policies lost 0.145 to 0.355 on the
sums of part 1.
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
