"""Notebook 09's comparison at full size: episode-level GRPO, GiGPO and a turn-level critic, at each turn budget H,
over several training seeds, from the same warm start, on the same rollouts budget.

    python experiments/09_credit.py                       # lr 1e-4 for 30 steps
    python experiments/09_credit.py --lr 2e-4 --steps 20  # at notebook 09's learning rate
    python experiments/09_credit.py --lr 2e-4 --steps 12 --n-groups 4 --eval-worlds 100 --horizons 20 5 \
        --credits episode gigpo --seeds 0 1 2 3 4          # notebook 09's settings at the usual slack, five seeds
    python experiments/09_credit.py --lr 2e-4 --steps 20 --horizons 20 --keep-top-spread 0.5   # RAGEN's filter there
    python experiments/09_credit.py --lr 2e-4 --steps 12 --n-groups 4 --eval-worlds 100 --horizons 16 --slack 10 \
        --seeds 0 1 2 3 4                                  # notebook 09's generous budget, five seeds
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
notebook 09's settings at the usual slack (its section 6 quotes these runs), `--lr 2e-4 --steps 12 --n-groups 4
--eval-worlds 100 --horizons 20 5 --credits episode gigpo --seeds 0 1 2 3 4`, then `--credits episode gigpo critic
--seeds 0 1 2` into the same file (so only the critic's six runs were new), 908 s and 398 s on 2 cores (alone but
for a minute's browser check), plus the first run's 665 s beside a site build. The warm start's success below is
measured with sampling seed 0; each run plays the same worlds with its own seed, so a run's gain over it is not
paired.
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
notebook's settings GiGPO's lead at H = 20 ranged from +0.250 (seed 0) to -0.180 (seed 4, where GiGPO fell to
0.360): any one run is one draw of a lead that five seeds do not establish.
Runs of every setting live in one results file, told apart by their settings.

Reference run 3, commit 508deb1: the regime built for GiGPO's step term (notebook 09's section 5), a generous budget
where most groups take the coin whole, `--lr 2e-4 --steps 12 --n-groups 4 --eval-worlds 100 --horizons 16 --slack 10
--credits episode gigpo critic --seeds 0 1 2 3 4`, 15 runs in 704 s of training and evaluation (11 minutes wall) alone
on 2 cores. Seed 0 is the notebook's run and prints its table to the digit. Wasted turns are the turns an episode
played beyond the fewest that take the coin, a failure counting all it played; each run plays the same 100 held-out
worlds with its own sampling seed, so its lead over episode-level credit (same seed) is paired by world and its
change from the warm start (sampling seed 0) is not.
    H=16 warm start: held-out success 0.930; wasted turns 1.44; route's move 0.846, out of a dead end 0.91 (54 turns in one)
    H=16 episode  seed 0: held-out success 0.930 -> 0.840  (training success first/last step 0.97/0.91, 50 s)
        wasted turns 1.44 -> 4.00; route's move 0.846 -> 0.704; out of a dead end 0.91 -> 0.65 (195 turns in one); groups all alike first/last step 0.75/0.50
    H=16 gigpo    seed 0: held-out success 0.930 -> 0.980  minus episode +0.140 ± 0.040 paired by world  (training success first/last step 0.97/1.00, 44 s)
        wasted turns 1.44 -> 0.43 minus episode -3.57 ± 0.37; route's move 0.846 -> 0.956; out of a dead end 0.91 -> 0.64 (25 turns in one); groups all alike first/last step 0.75/1.00
    H=16 critic   seed 0: held-out success 0.930 -> 0.990  minus episode +0.150 ± 0.036 paired by world  (training success first/last step 0.97/1.00, 49 s; explained variance first/last 5 steps +0.07/+0.08)
        wasted turns 1.44 -> 0.43 minus episode -3.57 ± 0.35; route's move 0.846 -> 0.952; out of a dead end 0.91 -> 0.74 (19 turns in one); groups all alike first/last step 0.75/1.00
    H=16 episode  seed 1: held-out success 0.930 -> 0.990  (training success first/last step 0.97/1.00, 41 s)
        wasted turns 1.44 -> 1.40; route's move 0.846 -> 0.882; out of a dead end 0.91 -> 0.68 (69 turns in one); groups all alike first/last step 0.75/0.50
    H=16 gigpo    seed 1: held-out success 0.930 -> 0.930  minus episode -0.060 ± 0.028 paired by world  (training success first/last step 0.97/1.00, 44 s)
        wasted turns 1.44 -> 0.95 minus episode -0.45 ± 0.31; route's move 0.846 -> 0.905; out of a dead end 0.91 -> 0.62 (58 turns in one); groups all alike first/last step 0.75/0.75
    H=16 critic   seed 1: held-out success 0.930 -> 0.960  minus episode -0.030 ± 0.022 paired by world  (training success first/last step 0.97/1.00, 53 s; explained variance first/last 5 steps +0.05/+0.02)
        wasted turns 1.44 -> 0.68 minus episode -0.72 ± 0.27; route's move 0.846 -> 0.920; out of a dead end 0.91 -> 1.00 (29 turns in one); groups all alike first/last step 0.75/0.75
    H=16 episode  seed 2: held-out success 0.930 -> 0.990  (training success first/last step 0.88/1.00, 46 s)
        wasted turns 1.44 -> 0.36; route's move 0.846 -> 0.960; out of a dead end 0.91 -> 1.00 (16 turns in one); groups all alike first/last step 0.25/1.00
    H=16 gigpo    seed 2: held-out success 0.930 -> 0.990  minus episode +0.000 ± 0.014 paired by world  (training success first/last step 0.88/1.00, 39 s)
        wasted turns 1.44 -> 0.33 minus episode -0.03 ± 0.14; route's move 0.846 -> 0.965; out of a dead end 0.91 -> 0.89 (19 turns in one); groups all alike first/last step 0.25/1.00
    H=16 critic   seed 2: held-out success 0.930 -> 0.980  minus episode -0.010 ± 0.010 paired by world  (training success first/last step 0.88/1.00, 48 s; explained variance first/last 5 steps +0.04/+0.07)
        wasted turns 1.44 -> 0.38 minus episode +0.02 ± 0.14; route's move 0.846 -> 0.958; out of a dead end 0.91 -> 0.94 (17 turns in one); groups all alike first/last step 0.25/1.00
    H=16 episode  seed 3: held-out success 0.930 -> 0.920  (training success first/last step 0.97/0.84, 50 s)
        wasted turns 1.44 -> 2.39; route's move 0.846 -> 0.807; out of a dead end 0.91 -> 0.58 (135 turns in one); groups all alike first/last step 0.75/0.25
    H=16 gigpo    seed 3: held-out success 0.930 -> 0.940  minus episode +0.020 ± 0.038 paired by world  (training success first/last step 0.97/0.88, 51 s)
        wasted turns 1.44 -> 0.97 minus episode -1.42 ± 0.40; route's move 0.846 -> 0.891; out of a dead end 0.91 -> 0.86 (44 turns in one); groups all alike first/last step 0.75/0.50
    H=16 critic   seed 3: held-out success 0.930 -> 0.920  minus episode +0.000 ± 0.038 paired by world  (training success first/last step 0.97/0.84, 52 s; explained variance first/last 5 steps +0.03/+0.08)
        wasted turns 1.44 -> 1.35 minus episode -1.04 ± 0.42; route's move 0.846 -> 0.857; out of a dead end 0.91 -> 0.81 (74 turns in one); groups all alike first/last step 0.75/0.25
    H=16 episode  seed 4: held-out success 0.930 -> 0.860  (training success first/last step 0.94/0.72, 48 s)
        wasted turns 1.44 -> 3.93; route's move 0.846 -> 0.728; out of a dead end 0.91 -> 0.52 (229 turns in one); groups all alike first/last step 0.50/0.00
    H=16 gigpo    seed 4: held-out success 0.930 -> 0.980  minus episode +0.120 ± 0.036 paired by world  (training success first/last step 0.94/0.97, 36 s)
        wasted turns 1.44 -> 0.38 minus episode -3.55 ± 0.35; route's move 0.846 -> 0.959; out of a dead end 0.91 -> 0.81 (21 turns in one); groups all alike first/last step 0.50/0.75
    H=16 critic   seed 4: held-out success 0.930 -> 0.950  minus episode +0.090 ± 0.035 paired by world  (training success first/last step 0.94/1.00, 51 s; explained variance first/last 5 steps +0.01/+0.05)
        wasted turns 1.44 -> 0.68 minus episode -3.25 ± 0.35; route's move 0.846 -> 0.917; out of a dead end 0.91 -> 0.68 (38 turns in one); groups all alike first/last step 0.50/0.75
    held-out success at T = 1, mean ± SE over seeds; gain over episode-level credit, seeds paired
    H=16 episode  0.930 -> 0.920 ± 0.031
    H=16 gigpo    0.930 -> 0.964 ± 0.012   vs episode +0.044 ± 0.038
    H=16 critic   0.930 -> 0.960 ± 0.012   vs episode +0.040 ± 0.034
    H=16 episode  wasted turns 1.44 -> 2.416 ± 0.709
    H=16 gigpo    wasted turns 1.44 -> 0.612 ± 0.143   vs episode -1.804 ± 0.752
    H=16 critic   wasted turns 1.44 -> 0.704 ± 0.173   vs episode -1.712 ± 0.716
GiGPO's policies wasted fewer turns than the warm start in all five seeds; episode-level credit's wasted more in
three (0, 3 and 4), where its policy also spent 135 to 229 turns in dead ends against the warm start's 54.

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
from agentic_lab.long_horizon import (MAX_NEW_TOKENS, WARM_START, play, wasted_turns,  # noqa: E402
                                      where_turns_went)
from agentic_lab.rl import RLConfig, grpo_train  # noqa: E402
from agentic_lab.trajectory import write_atomically  # noqa: E402

CREDITS = ("episode", "gigpo", "critic")


def config(credit: str, n_groups: int, lr: float, keep_top_spread: float) -> RLConfig:
    return RLConfig(n_groups=n_groups, group_size=8, lr=lr, max_new_tokens=MAX_NEW_TOKENS, credit=credit,
                    keep_top_spread=keep_top_spread)


def run(horizon: int, credit: str, seed: int, steps: int, n_groups: int, lr: float, eval_worlds: int,
        keep_top_spread: float, slack: int | None) -> dict:
    model, tokenizer = load_model(WARM_START)
    start = time.time()
    history = grpo_train(model, tokenizer,
                         lambda: gym.make("agentic_lab/CoinRooms-v0", horizon=horizon, slack=slack), steps,
                         config(credit, n_groups, lr, keep_top_spread), seed=seed, progress=False)
    episodes = play(model, tokenizer, horizon, eval_worlds, seed=seed, slack=slack)
    after = [float(t.success) for t in episodes]
    return {**settings(horizon, credit, seed, steps, n_groups, lr, eval_worlds, keep_top_spread, slack),
            "seconds": round(time.time() - start, 1), "success_after": sum(after) / len(after), "wins": after,
            "waste": wasted_turns(episodes), **where_turns_went(episodes), "history": history}


SETTINGS = ("horizon", "credit", "seed", "steps", "n_groups", "lr", "eval_worlds", "keep_top_spread", "slack")


def settings(horizon: int, credit: str, seed: int, steps: int, n_groups: int, lr: float, eval_worlds: int,
             keep_top_spread: float = 1.0, slack: int | None = None) -> dict:
    """What identifies a run: a results file keeps runs by these, so an interrupted sweep resumes where it stopped."""
    return dict(zip(SETTINGS, (horizon, credit, seed, steps, n_groups, lr, eval_worlds, keep_top_spread, slack)))


def matches(run: dict, key: dict) -> bool:
    """Runs saved before the variance filter existed trained on every group, and before `--slack` had H // 4."""
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
    parser.add_argument("--slack", type=int, default=None,
                        help="turns to spare, so routes of H - 1 - slack moves (default H // 4); a large slack is "
                             "the regime where whole groups take the coin and only their wasted turns differ")
    parser.add_argument("--out", type=Path, default=Path("runs/09_credit.json"),
                        help="every run as JSON; runs already there (same settings) are reused, not rerun")
    args = parser.parse_args()
    model, tokenizer = load_model(WARM_START)
    warm = {h: play(model, tokenizer, h, args.eval_worlds, slack=args.slack) for h in args.horizons}
    before = {h: sum(t.success for t in episodes) / args.eval_worlds for h, episodes in warm.items()}
    waste_before = {h: statistics.mean(wasted_turns(episodes)) for h, episodes in warm.items()}
    turns_before = {h: where_turns_went(episodes) for h, episodes in warm.items()}
    if args.slack is not None:
        for h, went in turns_before.items():
            print(f"H={h:2d} warm start: held-out success {before[h]:.3f}; wasted turns {waste_before[h]:.2f}; route's "
                  f"move {went['on_route']:.3f}, out of a dead end {went['out_of_dead_end']:.2f} "
                  f"({went['dead_end_turns']} turns in one)")
    done = json.loads(args.out.read_text())["runs"] if args.out.exists() else []
    runs = []
    for h in args.horizons:
        for seed in args.seeds:
            for credit in args.credits:
                key = settings(h, credit, seed, args.steps, args.n_groups, args.lr, args.eval_worlds,
                               args.keep_top_spread, args.slack)
                found = [r for r in done if matches(r, key)]
                runs.append(found[0] if found else run(*key.values()))
                if not found:                        # saved after every run: a sweep can be stopped and resumed
                    args.out.parent.mkdir(parents=True, exist_ok=True)
                    write_atomically(args.out, json.dumps({"runs": done + [r for r in runs if r not in done]}))
                r = runs[-1]
                critic_fit = (f"; explained variance first/last 5 steps {explained_variance(r, slice(0, 5)):+.2f}/"
                              f"{explained_variance(r, slice(-5, None)):+.2f}" if credit == "critic" else "")
                episode = [e for e in runs if e["horizon"] == h and e["seed"] == seed and e["credit"] == "episode"]
                lead, waste = "", ""
                if credit != "episode" and episode and "wins" in r and "wins" in episode[0]:  # same worlds and seed
                    lead = "  minus episode {:+.3f} ± {:.3f} paired by world".format(
                        *paired_gain(episode[0]["wins"], r["wins"]))
                if "waste" in r:         # where it went: a second line
                    waste = f"\n    wasted turns {waste_before[h]:.2f} -> {statistics.mean(r['waste']):.2f}"
                    if lead:
                        waste += " minus episode {:+.2f} ± {:.2f}".format(
                            *paired_gain(episode[0]["waste"], r["waste"]))
                    waste += (f"; route's move {turns_before[h]['on_route']:.3f} -> {r['on_route']:.3f}; out of a "
                              f"dead end {turns_before[h]['out_of_dead_end']:.2f} -> {r['out_of_dead_end']:.2f} "
                              f"({r['dead_end_turns']} turns in one); groups all alike first/last step "
                              f"{r['history'][0]['zero_spread']:.2f}/{r['history'][-1]['zero_spread']:.2f}")
                print(f"H={h:2d} {credit:8s} seed {seed}: held-out success {before[h]:.3f} -> {r['success_after']:.3f}"
                      f"{lead}  (training success first/last step {r['history'][0]['success']:.2f}/"
                      f"{r['history'][-1]['success']:.2f}, {r['seconds']:.0f} s{critic_fit}){waste}", flush=True)
    print("\nheld-out success at T = 1, mean ± SE over seeds; gain over episode-level credit, seeds paired")
    for h in args.horizons:
        for credit in args.credits:
            after = [r["success_after"] for r in runs if r["horizon"] == h and r["credit"] == credit]
            line = f"H={h:2d} {credit:8s} {before[h]:.3f} -> {mean_se(after).lstrip('+')}"
            if credit != "episode" and "episode" in args.credits:
                base = [r["success_after"] for r in runs if r["horizon"] == h and r["credit"] == "episode"]
                line += f"   vs episode {mean_se([a - b for a, b in zip(after, base)])}"
            print(line)
        if args.slack is not None:    # the regime's measure: the turns each run's held-out episodes wasted
            for credit in args.credits:
                waste = [statistics.mean(r["waste"]) for r in runs if r["horizon"] == h and r["credit"] == credit]
                line = f"H={h:2d} {credit:8s} wasted turns {waste_before[h]:.2f} -> {mean_se(waste).lstrip('+')}"
                if credit != "episode" and "episode" in args.credits:
                    base = [statistics.mean(r["waste"]) for r in runs if r["horizon"] == h and r["credit"] == "episode"]
                    line += f"   vs episode {mean_se([a - b for a, b in zip(waste, base)])}"
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
