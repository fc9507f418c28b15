"""Notebook 09's comparison at full size: episode-level GRPO, GiGPO and a turn-level critic, at each turn budget H,
over several training seeds, from the same warm start, on the same rollouts budget.

    python experiments/09_credit.py                       # lr 1e-4 for 30 steps
    python experiments/09_credit.py --lr 2e-4 --steps 20  # at notebook 09's learning rate
    python experiments/09_credit.py --lr 2e-4 --steps 12 --n-groups 4 --eval-worlds 100 --horizons 20 5 \
        --credits episode gigpo --seeds 0 1 2 3 4          # notebook 09's own run, seed 0, and four more seeds
    python experiments/09_credit.py --lr 2e-4 --steps 20 --horizons 20 --keep-top-spread 0.5   # RAGEN's filter there
    python experiments/09_credit.py --seeds 0 --steps 2 --out /tmp/try.json   # a quick try-out

Reference run, commit 9dd7912, from the rebuilt data/coinrooms-warm (issue 34), `--lr 2e-4 --steps 20` (the
notebook's learning rate), 5,161 s wall on 2 cores: about 28 minutes of it paused (H = 10 critic seed 0's 1,990 s) and
much of the rest beside a warm-start build or other jobs. Each run, held-out success at T = 1 on 200 worlds, the warm
start's first:
    H =  5  episode 0.960 0.915 0.975   gigpo 0.975 0.970 0.970   critic 0.965 0.935 0.930   (warm start 0.890)
    H = 10  episode 0.815 0.895 0.870   gigpo 0.835 0.900 0.735   critic 0.720 0.880 0.730   (warm start 0.820)
    H = 20  episode 0.580 0.230 0.545   gigpo 0.680 0.725 0.685   critic 0.505 0.370 0.470   (warm start 0.520)
and over seeds 0, 1, 2 (mean ± SE; the gain over episode-level credit paired by seed):
    H= 5 episode  0.890 -> 0.950 ± 0.018
    H= 5 gigpo    0.890 -> 0.972 ± 0.002   vs episode +0.022 ± 0.018
    H= 5 critic   0.890 -> 0.943 ± 0.011   vs episode -0.007 ± 0.020
    H=10 episode  0.820 -> 0.860 ± 0.024
    H=10 gigpo    0.820 -> 0.823 ± 0.048   vs episode -0.037 ± 0.049
    H=10 critic   0.820 -> 0.777 ± 0.052   vs episode -0.083 ± 0.037
    H=20 episode  0.520 -> 0.452 ± 0.111
    H=20 gigpo    0.520 -> 0.697 ± 0.014   vs episode +0.245 ± 0.126
    H=20 critic   0.520 -> 0.448 ± 0.040   vs episode -0.003 ± 0.072
At H = 20 every GiGPO seed ended 0.16 to 0.21 above the warm start, while episode-level credit collapsed in one seed
(0.23) and the critic gained in none. Measured earlier on 2 cores, from the warm start built before issue 34's base:
the defaults' 27 runs 3,199 s (one of them slowed by another job), the notebook's learning rate's 2,112 s, the
filter's 9 runs at H = 20 about 14 minutes; those runs are not repeated on the rebuilt warm start.

Reference run 2, commit 543e740 (runs that keep each world's outcome, so each seed's lead is paired by world):
notebook 09's own setting, `--lr 2e-4 --steps 12 --n-groups 4 --eval-worlds 100 --horizons 20 5 --credits episode
gigpo --seeds 0 1 2 3 4`, then `--credits episode gigpo critic --seeds 0 1 2` into the same file (so only the
critic's six runs were new), 908 s and 398 s on 2 cores (alone but for a minute's browser check), plus the first
run's 665 s beside a site build. Seed 0 is the notebook's run and prints its numbers to the digit. The warm start's
success below is measured with sampling seed 0; each run plays the same worlds with its own seed, so a run's gain
over it is not paired.
    H=20 episode  seed 0: held-out success 0.490 -> 0.500
    H=20 gigpo    seed 0: held-out success 0.490 -> 0.750  minus episode +0.250 ± 0.066 paired by world
    H=20 critic   seed 0: held-out success 0.490 -> 0.650  minus episode +0.150 ± 0.063 paired by world
    H=20 episode  seed 1: held-out success 0.490 -> 0.540
    H=20 gigpo    seed 1: held-out success 0.490 -> 0.600  minus episode +0.060 ± 0.066 paired by world
    H=20 critic   seed 1: held-out success 0.490 -> 0.580  minus episode +0.040 ± 0.060 paired by world
    H=20 episode  seed 2: held-out success 0.490 -> 0.580
    H=20 gigpo    seed 2: held-out success 0.490 -> 0.700  minus episode +0.120 ± 0.057 paired by world
    H=20 critic   seed 2: held-out success 0.490 -> 0.470  minus episode -0.110 ± 0.068 paired by world
    H=20 episode  seed 3: held-out success 0.490 -> 0.560
    H=20 gigpo    seed 3: held-out success 0.490 -> 0.540  minus episode -0.020 ± 0.064 paired by world
    H=20 episode  seed 4: held-out success 0.490 -> 0.540
    H=20 gigpo    seed 4: held-out success 0.490 -> 0.360  minus episode -0.180 ± 0.063 paired by world
    H= 5 episode  seed 0: held-out success 0.870 -> 0.880
    H= 5 gigpo    seed 0: held-out success 0.870 -> 0.960  minus episode +0.080 ± 0.031 paired by world
    H= 5 critic   seed 0: held-out success 0.870 -> 0.870  minus episode -0.010 ± 0.033 paired by world
    H= 5 episode  seed 1: held-out success 0.870 -> 0.900
    H= 5 gigpo    seed 1: held-out success 0.870 -> 0.940  minus episode +0.040 ± 0.037 paired by world
    H= 5 critic   seed 1: held-out success 0.870 -> 0.920  minus episode +0.020 ± 0.032 paired by world
    H= 5 episode  seed 2: held-out success 0.870 -> 0.910
    H= 5 gigpo    seed 2: held-out success 0.870 -> 0.990  minus episode +0.080 ± 0.031 paired by world
    H= 5 critic   seed 2: held-out success 0.870 -> 0.940  minus episode +0.030 ± 0.026 paired by world
    H= 5 episode  seed 3: held-out success 0.870 -> 0.910
    H= 5 gigpo    seed 3: held-out success 0.870 -> 0.860  minus episode -0.050 ± 0.026 paired by world
    H= 5 episode  seed 4: held-out success 0.870 -> 0.950
    H= 5 gigpo    seed 4: held-out success 0.870 -> 0.950  minus episode +0.000 ± 0.025 paired by world
and over seeds (mean ± SE; the gain over episode-level credit paired by seed), five seeds for episode and gigpo:
    H=20 episode  0.490 -> 0.544 ± 0.013
    H=20 gigpo    0.490 -> 0.590 ± 0.068   vs episode +0.046 ± 0.072
    H= 5 episode  0.870 -> 0.910 ± 0.011
    H= 5 gigpo    0.870 -> 0.940 ± 0.022   vs episode +0.030 ± 0.025
and three seeds for the critic (against the same seeds' episode-level runs):
    H=20 critic   0.490 -> 0.567 ± 0.052   vs episode +0.027 ± 0.075
    H= 5 critic   0.870 -> 0.910 ± 0.021   vs episode +0.013 ± 0.012
The critic's explained variance over its first and last 5 steps stayed between +0.01 and +0.07 in every run. At the
notebook's setting GiGPO's lead at H = 20 ranged from +0.250 (the notebook's seed) to -0.180 (seed 4, where GiGPO
fell to 0.360): the notebook's run is one draw of a lead that five seeds do not establish.
Runs of both settings live in one results file, told apart by their settings.

For every (H, credit, seed): GRPO-family training on CoinRooms-v0 at budget H (train split), then held-out success at
temperature 1 on the same test worlds as the warm start, paired world by world. Prints, per H: each credit's
success before and after ± the standard error over seeds, and each turn-level method's gain over episode-level
credit (the same seed's runs paired), the headline being whether that gain grows with H. Each critic run's line
also gives its value head's explained variance, 1 - Var[R - V] / Var[R] over the step's turns (the head's values
before that step's update, against its GAE targets), averaged over the first and over the last 5 steps: whether the
critic learnt to predict the returns at all. The reference run above predates that column.
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
from agentic_lab import load_model  # noqa: E402
from agentic_lab.eval import paired_gain  # noqa: E402
from agentic_lab.long_horizon import MAX_NEW_TOKENS, WARM_START, play  # noqa: E402
from agentic_lab.rl import RLConfig, grpo_train  # noqa: E402
from agentic_lab.trajectory import write_atomically  # noqa: E402

CREDITS = ("episode", "gigpo", "critic")


def config(credit: str, n_groups: int, lr: float, keep_top_spread: float) -> RLConfig:
    return RLConfig(n_groups=n_groups, group_size=8, lr=lr, max_new_tokens=MAX_NEW_TOKENS, credit=credit,
                    keep_top_spread=keep_top_spread)


def run(horizon: int, credit: str, seed: int, steps: int, n_groups: int, lr: float, eval_worlds: int,
        keep_top_spread: float) -> dict:
    model, tokenizer = load_model(WARM_START)
    start = time.time()
    history = grpo_train(model, tokenizer, lambda: gym.make("agentic_lab/CoinRooms-v0", horizon=horizon), steps,
                         config(credit, n_groups, lr, keep_top_spread), seed=seed, progress=False)
    after = [float(t.success) for t in play(model, tokenizer, horizon, eval_worlds, seed=seed)]
    return {**settings(horizon, credit, seed, steps, n_groups, lr, eval_worlds, keep_top_spread),
            "seconds": round(time.time() - start, 1), "success_after": sum(after) / len(after), "wins": after,
            "history": history}


SETTINGS = ("horizon", "credit", "seed", "steps", "n_groups", "lr", "eval_worlds", "keep_top_spread")


def settings(horizon: int, credit: str, seed: int, steps: int, n_groups: int, lr: float, eval_worlds: int,
             keep_top_spread: float = 1.0) -> dict:
    """What identifies a run: a results file keeps runs by these, so an interrupted sweep resumes where it stopped."""
    return dict(zip(SETTINGS, (horizon, credit, seed, steps, n_groups, lr, eval_worlds, keep_top_spread)))


def matches(run: dict, key: dict) -> bool:
    """Runs saved before the variance filter existed trained on every group."""
    return all(run.get(k, 1.0 if k == "keep_top_spread" else None) == v for k, v in key.items())


def spread(run: dict, steps: slice) -> float:
    """Mean within-group reward spread of the steps' first rollouts (before any filter)."""
    return statistics.mean(h["reward_spread"] for h in run["history"][steps])


def explained_variance(run: dict, steps: slice) -> float:
    """The critic's mean explained variance over the steps (recorded by grpo_train at every step of a critic run)."""
    return statistics.mean(h["explained_variance"] for h in run["history"][steps])


def mean_se(xs: list[float]) -> str:
    se = statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else float("nan")
    return f"{statistics.mean(xs):+.3f} ± {se:.3f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--horizons", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--credits", nargs="+", default=list(CREDITS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--n-groups", type=int, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-worlds", type=int, default=200)
    parser.add_argument("--keep-top-spread", type=float, default=1.0,
                        help="RAGEN's variance filter: train on this fraction of each step's groups, the most spread")
    parser.add_argument("--out", type=Path, default=Path("runs/09_credit.json"),
                        help="every run as JSON; runs already there (same settings) are reused, not rerun")
    args = parser.parse_args()
    model, tokenizer = load_model(WARM_START)
    before = {h: sum(t.success for t in play(model, tokenizer, h, args.eval_worlds)) / args.eval_worlds
              for h in args.horizons}
    done = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    runs = []
    for h in args.horizons:
        for seed in args.seeds:
            for credit in args.credits:
                key = settings(h, credit, seed, args.steps, args.n_groups, args.lr, args.eval_worlds,
                               args.keep_top_spread)
                found = [r for r in done if matches(r, key)]
                runs.append(found[0] if found else run(*key.values()))
                if not found:                        # saved after every run: a sweep can be stopped and resumed
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    write_atomically(args.out, json.dumps({"runs": done + [r for r in runs if r not in done]}))
                r = runs[-1]
                critic_fit = (f"; explained variance first/last 5 steps {explained_variance(r, slice(0, 5)):+.2f}/"
                              f"{explained_variance(r, slice(-5, None)):+.2f}" if credit == "critic" else "")
                episode = [e for e in runs if e["horizon"] == h and e["seed"] == seed and e["credit"] == "episode"]
                lead = ""
                if credit != "episode" and episode and "wins" in r and "wins" in episode[0]:  # same worlds and seed
                    lead = "  minus episode {:+.3f} ± {:.3f} paired by world".format(
                        *paired_gain(episode[0]["wins"], r["wins"]))
                print(f"H={h:2d} {credit:8s} seed {seed}: held-out success {before[h]:.3f} -> {r['success_after']:.3f}"
                      f"{lead}  (training success first/last step {r['history'][0]['success']:.2f}/"
                      f"{r['history'][-1]['success']:.2f}, {r['seconds']:.0f} s{critic_fit})", flush=True)
    print("\nheld-out success at T = 1, mean ± SE over seeds; gain over episode-level credit, seeds paired")
    for h in args.horizons:
        for credit in args.credits:
            after = [r["success_after"] for r in runs if r["horizon"] == h and r["credit"] == credit]
            line = f"H={h:2d} {credit:8s} {before[h]:.3f} -> {mean_se(after).lstrip('+')}"
            if credit != "episode" and "episode" in args.credits:
                base = [r["success_after"] for r in runs if r["horizon"] == h and r["credit"] == "episode"]
                line += f"   vs episode {mean_se([a - b for a, b in zip(after, base)])}"
            print(line)
    if args.keep_top_spread < 1:          # against the same runs without the filter, where the file has them
        print(f"\nRAGEN's filter (keep {args.keep_top_spread:g} of the groups) against none, same settings, seeds "
              "paired; within-group reward spread over the first and the last 5 steps, without -> with the filter")
        for h in args.horizons:
            for credit in args.credits:
                pairs = []
                for r in (r for r in runs if r["horizon"] == h and r["credit"] == credit):
                    unfiltered = {**{k: r[k] for k in SETTINGS}, "keep_top_spread": 1.0}
                    plain = [p for p in done if matches(p, unfiltered)]
                    if plain:
                        pairs.append((plain[0], r))
                if pairs:
                    without, with_ = [p["success_after"] for p, _ in pairs], [r["success_after"] for _, r in pairs]
                    difference = mean_se([b - a for a, b in zip(without, with_)])
                    print(f"H={h:2d} {credit:8s} {len(pairs)} seeds: without {mean_se(without).lstrip('+')}, with "
                          f"{mean_se(with_).lstrip('+')}, difference {difference};"
                          f" spread {statistics.mean(spread(p, slice(0, 5)) for p, _ in pairs):.2f}/"
                          f"{statistics.mean(spread(p, slice(-5, None)) for p, _ in pairs):.2f} -> "
                          f"{statistics.mean(spread(r, slice(0, 5)) for _, r in pairs):.2f}/"
                          f"{statistics.mean(spread(r, slice(-5, None)) for _, r in pairs):.2f}")
