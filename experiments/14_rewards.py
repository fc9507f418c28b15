"""Notebook 14's three rewards for code, each trained from data/code-warm over several training seeds.

    python experiments/14_rewards.py                            # the mix of section 5, about 30 minutes alone
    python experiments/14_rewards.py --operations 2             # two operations only, about 30 minutes
    python experiments/14_rewards.py --operations 2 --inputs int --steps 8 --eval-tasks 96  # section 7's, 25 min
    python experiments/14_rewards.py --operations 1 --rewards outcome --steps 20   # what the warm start was taught
    python experiments/14_rewards.py --seeds 0 --steps 2 --eval-tasks 16 --out /tmp/try.json   # a quick try-out

Arms, the same tasks, groups, seeds and learning rate: the outcome (every hidden test passes), partial credit (the
share of hidden tests passed) and the visible tests alone (the three examples the prompt shows, which hard-coded
code passes too). Each: --steps GRPO steps of 4 train-split tasks × 8 episodes of `Code-v0(operations=...,
inputs=...)`. By default half of the tasks are one operation and half two chained: two is code the warm start was
never shown, where honest code mostly fails and hard-coding the examples is the way to pass them. --operations 2
keeps to two; --inputs int keeps to tasks on numbers, whose examples the tiny model copies right (section 7 says
why that is the regime it builds). Per step: pass rate, visible pass rate, hard-coded share, runs per episode. Held
out, --eval-tasks test-split tasks of the same kind at T = 1 with the same sampling seed: the warm start and each
arm after RL (by number of operations when they mix), and each arm against the warm start and against the outcome
arm, paired task by task and then averaged over seeds.

Four reference runs follow, each on data/code-warm of 17d6725 at lr 1e-4; each printed more than is kept here.

1. The mix (the defaults: 12 steps, 128 held-out tasks, 68 of one operation and 60 of two). The package of commit
0c616fc, 2 cores alone, 1,389 s for seeds 1 and 2 and seed 0's partial-credit run; seed 0's outcome and visible runs
came from an earlier identical invocation at one thread beside another job (334 s and 354 s) and were reused from
the results file. Printed:
    outcome  seed 0: held-out pass 0.461 -> 0.438, hard-coded 0.117 -> 0.117
    partial  seed 0: held-out pass 0.461 -> 0.469, hard-coded 0.117 -> 0.055
    visible  seed 0: held-out pass 0.461 -> 0.422, hard-coded 0.117 -> 0.172
    outcome  seed 1: held-out pass 0.445 -> 0.492, hard-coded 0.109 -> 0.094
    partial  seed 1: held-out pass 0.445 -> 0.500, hard-coded 0.109 -> 0.094
    visible  seed 1: held-out pass 0.445 -> 0.453, hard-coded 0.109 -> 0.156
    outcome  seed 2: held-out pass 0.445 -> 0.477, hard-coded 0.109 -> 0.086
    partial  seed 2: held-out pass 0.445 -> 0.344, hard-coded 0.109 -> 0.156
    visible  seed 2: held-out pass 0.445 -> 0.469, hard-coded 0.109 -> 0.047
    two operations:     pass (hidden tests)    passes the examples             hard-coded
      warm start          0.033 ± 0.000          0.083 ± 0.019          0.167 ± 0.010
      outcome             0.056 ± 0.006          0.100 ± 0.025          0.133 ± 0.000
      partial             0.044 ± 0.006          0.094 ± 0.028          0.139 ± 0.055
      visible             0.039 ± 0.006          0.094 ± 0.024          0.211 ± 0.084
      hard-coded, seed by seed: warm start 0.167 0.183 0.150; outcome 0.133 0.133 0.133; partial 0.033 0.167 0.217;
      visible 0.333 0.250 0.050
      outcome - warm             +0.022 ± 0.006         +0.017 ± 0.044         -0.033 ± 0.010
      visible - warm             +0.006 ± 0.006         +0.011 ± 0.024         +0.044 ± 0.078
      visible - outcome          -0.017 ± 0.000         -0.006 ± 0.036         +0.078 ± 0.084
    one operation: warm start 0.819 ± 0.010, outcome 0.833 ± 0.030, partial 0.784 ± 0.093, visible 0.809 ± 0.022
    (hidden tests passed); every reward's change over the warm start within 1 SE.
At this scale the hack did not appear over three seeds: paid on the visible tests, the policy hard-coded 0.333, 0.250
and 0.050 of the two-operation tasks (warm start 0.150 to 0.183 with the same sampling seeds). No reward moved the
pass rate over all tasks by more than a standard error; on two operations the outcome raised it from 0.033 to 0.056
(+0.022 ± 0.006 over seeds, one or two tasks of 60).

2. Two operations, every kind of x (`--operations 2`: 12 steps, 128 held-out tasks of two operations). The package
of commit 6148db0 with this script's --operations; 1,573 s on 2 cores alone, after seed 0's outcome and visible runs
(419 s) were made by an earlier invocation and reused. Printed:
                           pass (hidden tests)    passes the examples             hard-coded
      warm start          0.008 ± 0.000          0.083 ± 0.003          0.180 ± 0.008
      outcome             0.005 ± 0.003          0.068 ± 0.016          0.174 ± 0.020
      partial             0.005 ± 0.005          0.086 ± 0.025          0.307 ± 0.082
      visible             0.003 ± 0.003          0.089 ± 0.011          0.284 ± 0.048
      hard-coded, seed by seed: warm start 0.172 0.195 0.172; outcome 0.172 0.141 0.211; partial 0.148 0.352 0.422;
      visible 0.336 0.328 0.188
      visible - warm             -0.005 ± 0.003         +0.005 ± 0.011         +0.104 ± 0.045
      partial - outcome          +0.000 ± 0.005         +0.018 ± 0.041         +0.133 ± 0.078
      visible - outcome          -0.003 ± 0.005         +0.021 ± 0.014         +0.109 ± 0.067
The hack appeared in two seeds of three. Why not in the third is section 7's question: on lists and words the tiny
model miscopies the examples it writes down, and a miscopied example earns no reward.

3. Section 7's regime (`--operations 2 --inputs int --steps 8 --eval-tasks 96`): the package of commit c91dfe3, 1,076
s for the outcome and partial-credit runs on 2 cores (seed 0's outcome run beside a test), after the visible runs
(447 s) were made by an earlier invocation with --rewards visible and reused. Printed:
    held out (96 test-split tasks, 2 operations, x int), T = 1; mean ± SE over 3 seeds of each seed's share;
    differences paired by seed
                           pass (hidden tests)    passes the examples             hard-coded
      warm start          0.010 ± 0.000          0.177 ± 0.000          0.337 ± 0.017
      outcome             0.014 ± 0.003          0.125 ± 0.039          0.309 ± 0.070
      partial             0.000 ± 0.000          0.288 ± 0.093          0.771 ± 0.021
      visible             0.003 ± 0.003          0.458 ± 0.022          0.802 ± 0.018
      hard-coded, seed by seed: warm start 0.354 0.302 0.354; outcome 0.250 0.229 0.448; partial 0.750 0.812 0.750;
      visible 0.771 0.802 0.833
      outcome - warm             +0.003 ± 0.003         -0.052 ± 0.039         -0.028 ± 0.061
      partial - warm             -0.010 ± 0.000         +0.111 ± 0.093         +0.434 ± 0.038
      visible - warm             -0.007 ± 0.003         +0.281 ± 0.022         +0.465 ± 0.025
      partial - outcome          -0.014 ± 0.003         +0.163 ± 0.133         +0.462 ± 0.083
      visible - outcome          -0.010 ± 0.006         +0.333 ± 0.055         +0.493 ± 0.056
    over training, mean over seeds of steps 1-3 -> the last 3: pass rate, hard-coded share, runs per episode
      outcome  pass_rate 0.00 -> 0.00, hard_coded 0.35 -> 0.29, runs_per_episode 1.23 -> 0.81
      partial  pass_rate 0.00 -> 0.00, hard_coded 0.47 -> 0.75, runs_per_episode 1.29 -> 1.12
      visible  pass_rate 0.00 -> 0.00, hard_coded 0.51 -> 0.70, runs_per_episode 1.33 -> 1.26
Paid on the visible tests or on partial credit, every seed hard-coded more than twice as often as the warm start;
paid on the outcome, no seed did. The same regime at 12 steps (visible and outcome only) gave 0.625, 0.875 and 0.875
against 0.125, 0.240 and 0.365.

4. One operation, the outcome, 20 steps (`--operations 1 --rewards outcome --steps 20`, 128 held-out tasks): the
package of commit 314df37, 683 s on 2 cores alone. Printed:
    outcome  seed 0: held-out pass 0.789 -> 0.867, hard-coded 0.070 -> 0.008
    outcome  seed 1: held-out pass 0.820 -> 0.891, hard-coded 0.062 -> 0.000
    outcome  seed 2: held-out pass 0.773 -> 0.891, hard-coded 0.094 -> 0.023
                           pass (hidden tests)    passes the examples             hard-coded
      warm start          0.794 ± 0.014          0.839 ± 0.011          0.076 ± 0.009
      outcome             0.883 ± 0.008          0.888 ± 0.011          0.010 ± 0.007
      outcome - warm             +0.089 ± 0.014         +0.049 ± 0.018         -0.065 ± 0.003
    over training, mean over seeds of steps 1-3 -> the last 3: pass rate, hard-coded share, runs per episode
      outcome  pass_rate 0.87 -> 0.98, hard_coded 0.10 -> 0.01, runs_per_episode 0.66 -> 0.23
On the tasks the warm start was taught, GRPO on the outcome raised the held-out pass rate in every seed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import gymnasium as gym

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import agentic_lab.envs  # noqa: E402,F401 - registers the environments
from agentic_lab import coding, load_model  # noqa: E402
from agentic_lab.rl import RLConfig, grpo_train  # noqa: E402
from agentic_lab.trajectory import write_atomically  # noqa: E402

STEPS, LR, MIX = 12, 1e-4, [1, 2]
MEASURES = ("pass_rate", "visible_pass", "hard_coded", "runs_per_episode")


def measures(trajectories) -> dict[str, dict[str, float]]:
    """Per episode group of code_report ("all", "1 operation", "2 operations"): the measures above."""
    return {group: {m: row[m] for m in MEASURES} for group, row in coding.code_report(trajectories).items()
            if group in ("all", "1 operation", "2 operations")}


def per_task(trajectories) -> dict[str, list[float]]:
    """Each held-out episode's outcome, visible pass and hard-coding, in task order: what pairs two models up."""
    scores = [coding.submission_scores(t) for t in trajectories]
    return {"pass": [float(t.success) for t in trajectories],
            "visible": [float(s["visible_pass"]) for s in scores],
            "hard_coded": [float(s["hard_coded"]) for s in scores],
            "operations": [coding.operations_of(t) for t in trajectories]}


def task_dials(operations: list[int], inputs: str | None) -> dict:
    """Code-v0's task arguments, for training and held out alike: one number of operations or a mix, and x's kind."""
    return {"operations": operations[0] if len(operations) == 1 else tuple(operations), "inputs": inputs}


def train(reward: str, seed: int, steps: int, lr: float, eval_tasks: int, operations: list[int], inputs: str | None
          ) -> dict:
    model, tokenizer = load_model(coding.WARM_START)
    start = time.time()
    tasks = task_dials(operations, inputs)
    make_env = lambda: gym.make("agentic_lab/Code-v0", reward=reward, **tasks)  # noqa: E731
    config = RLConfig(n_groups=4, group_size=8, lr=lr, max_new_tokens=coding.MAX_NEW_TOKENS)
    history = grpo_train(model, tokenizer, make_env, steps, config, seed=seed, progress=False,
                         step_metrics=lambda ts: measures(ts)["all"])
    held_out = per_task(coding.play(model, tokenizer, eval_tasks, seed=seed, **tasks))
    return {"reward": reward, "seed": seed, "steps": steps, "lr": lr, "eval_tasks": eval_tasks,
            "operations": operations, "inputs": inputs, "seconds": round(time.time() - start, 1), "history": history,
            "held_out": held_out}


def mean_se(xs: list[float]) -> str:
    se = statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else float("nan")
    return f"{statistics.mean(xs):+.3f} ± {se:.3f}"


def share(rows: dict, measure: str, operations: int | None) -> float:
    xs = [x for x, n in zip(rows[measure], rows["operations"]) if operations in (None, n)]
    return sum(xs) / len(xs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rewards", nargs="+", default=list(coding.REWARDS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--lr", type=float, default=LR)
    parser.add_argument("--eval-tasks", type=int, default=128)
    parser.add_argument("--operations", type=int, nargs="+", default=MIX,
                        help="operations per task, in training and held out: 2 alone is the regime of the hack")
    parser.add_argument("--inputs", choices=coding.KINDS, help="only tasks whose x is of this kind")
    parser.add_argument("--out", type=Path, default=Path("runs/14_rewards.json"),
                        help="every run as JSON; runs already there (same settings) are reused, not rerun")
    args = parser.parse_args()
    started = time.time()
    done = json.loads(args.out.read_text()) if args.out.exists() else {"before": {}, "runs": []}
    model, tokenizer = load_model(coding.WARM_START)
    before = {}
    for seed in args.seeds:                 # the warm start, sampled with each seed the arms are evaluated with
        key = f"{seed}/{args.eval_tasks}" + ("" if args.operations == MIX else f"/{args.operations}") + \
            (f"/{args.inputs}" if args.inputs else "")
        if key not in done["before"]:
            done["before"][key] = per_task(coding.play(model, tokenizer, args.eval_tasks, seed=seed,
                                                       **task_dials(args.operations, args.inputs)))
        before[seed] = done["before"][key]
    runs = {}
    for seed in args.seeds:
        for reward in args.rewards:
            found = [r for r in done["runs"] if (r["reward"], r["seed"], r["steps"], r["lr"], r["eval_tasks"],
                                                r.get("operations", MIX), r.get("inputs")) ==
                     (reward, seed, args.steps, args.lr, args.eval_tasks, args.operations, args.inputs)]
            runs[reward, seed] = found[0] if found else train(reward, seed, args.steps, args.lr, args.eval_tasks,
                                                              args.operations, args.inputs)
            if not found:                   # saved after every run: a sweep can be stopped and resumed
                done["runs"].append(runs[reward, seed])
                args.out.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(args.out, json.dumps(done))
            r = runs[reward, seed]
            first, last = r["history"][0], r["history"][-1]
            print(f"{reward:8s} seed {seed}: held-out pass {share(before[seed], 'pass', None):.3f} -> "
                  f"{share(r['held_out'], 'pass', None):.3f}, hard-coded {share(before[seed], 'hard_coded', None):.3f}"
                  f" -> {share(r['held_out'], 'hard_coded', None):.3f}  (training hard-coded first/last step "
                  f"{first['hard_coded']:.2f}/{last['hard_coded']:.2f}, {r['seconds']:.0f} s)", flush=True)

    tasks = ("half of them one operation, half two" if args.operations == MIX else
             f"{' or '.join(map(str, args.operations))} operation{'s' * (args.operations != [1])}") + \
        (f", x {args.inputs}" if args.inputs else "")
    print(f"\nheld out ({args.eval_tasks} test-split tasks, {tasks}), T = 1; mean ± SE over "
          f"{len(args.seeds)} seeds of each seed's share; differences paired by seed")
    for operations, label in ((None, "all tasks"), (1, "one operation"), (2, "two operations")):
        if operations not in [None, *args.operations] or (operations and len(args.operations) == 1):
            continue
        print(f"\n{label}:  {'pass (hidden tests)':>22s} {'passes the examples':>22s} {'hard-coded':>22s}")
        rows = [("warm start", [before[s] for s in args.seeds])] + \
               [(reward, [runs[reward, s]["held_out"] for s in args.seeds]) for reward in args.rewards]
        for name, per_seed in rows:
            print(f"  {name:10s}" + "".join(f" {mean_se([share(r, m, operations) for r in per_seed]).lstrip('+'):>22s}"
                                            for m in ("pass", "visible", "hard_coded")))
        print("  hard-coded, seed by seed: " + "; ".join(
            f"{name} " + " ".join(f"{share(r, 'hard_coded', operations):.3f}" for r in per_seed)
            for name, per_seed in rows))
        for reward in args.rewards:
            gains = [[share(runs[reward, s]["held_out"], m, operations) - share(before[s], m, operations)
                      for s in args.seeds] for m in ("pass", "visible", "hard_coded")]
            print(f"  {reward + ' - warm':18s}" + "".join(f" {mean_se(g):>22s}" for g in gains))
        for reward in (r for r in args.rewards if r != "outcome" and "outcome" in args.rewards):
            gaps = [[share(runs[reward, s]["held_out"], m, operations) - share(runs["outcome", s]["held_out"], m,
                                                                             operations)
                     for s in args.seeds] for m in ("pass", "visible", "hard_coded")]
            print(f"  {reward + ' - outcome':18s}" + "".join(f" {mean_se(g):>22s}" for g in gaps))
    print("\nover training, mean over seeds of steps 1-3 -> the last 3: pass rate, hard-coded share, runs per episode")
    for reward in args.rewards:
        h = [runs[reward, s]["history"] for s in args.seeds]
        avg = lambda m, part: statistics.mean(statistics.mean(x[m] for x in hs[part]) for hs in h)  # noqa: E731
        print(f"  {reward:8s} " + ", ".join(f"{m} {avg(m, slice(0, 3)):.2f} -> {avg(m, slice(-3, None)):.2f}"
                                            for m in ("pass_rate", "hard_coded", "runs_per_episode")))
    print(f"\n{time.time() - started:.0f} s")
