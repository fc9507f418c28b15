"""Notebook 11's memory manager with the cost of each operation paid to that operation: does per-turn credit let RL
find what episode-level credit did not, a manager that beats FIFO?

    python experiments/11_turn_credit.py [--seeds 0 1 2] [--steps 12] [--lengths 8 12 16] [--bank-size 3]
                                         [--asked names|jobs]

With the answers alone as the reward, every operation of a stream shares one advantage: a distractor written over a
kept fact at fact 3 costs an answer at the end, and the operations at facts 1 to 8 share the blame. With
`MemoryBankEnv(turn_rewards=True)` each operation is paid what it changed in the answers the bank would give if the
stream ended now (Φ, `MemoryBankEnv.answerable`, against the latest value of each asked field so far): storing a
kept fact +1/2, overwriting it with a distractor -1/2 at once, anything else 0. The payments add up to the episode's
own reward (Φ after the last fact is the answers), so the objective is the same; only the credit moves. Trained with
`credit="turn"` (each operation's payment against the other operations of its group, γ = 0), beside the notebook's
run (`credit="episode"` on the answers), both from data/memory-warm at the notebook's settings: 4 groups × 8 streams
of 8 facts, lr 2e-4, a fresh context each turn. Each policy then plays the notebook's held-out streams (100 a
length, T = 1, the warm start's sampling seed), paired stream by stream with the warm start, with FIFO and with each
other. Φ reads which names will be asked, as the `Keep:` line in the observation shows the manager: this is the
variant in which the manager is told what matters.

Reference run 1, commit 47ff6f6 (one seed, `--seeds 0`, the defaults otherwise; 463 s at one thread beside other
jobs; printed with wider columns than the script's now). Seed 0's episode-level run is the notebook's own and prints
its table (0.535 at 8 facts). Paying each operation its change in Φ did not raise the answers in 12 steps: turn
minus episode -0.020 ± 0.038 at 8 facts, -0.045 ± 0.043 at 12, +0.025 ± 0.033 at 16, and both stayed below FIFO at
every length. It raised UPDATE on changed facts (0.81 against 0.76) and skipped distractors even less (0.04 against
0.10): under Φ keeping a distractor costs nothing until it is written over a kept fact, so what is left to learn is
which slot holds a kept name, read against the `Keep:` line a character at a time.

              policy   L       answers     - warm start           - FIFO NOOP distr. UPDATE chg.     ADD new
          warm start   8  0.465 ± 0.030   +0.000 ± 0.000   -0.145 ± 0.038        0.34        0.44        0.56
          warm start  12  0.385 ± 0.032   +0.000 ± 0.000   -0.105 ± 0.042        0.38        0.51        0.38
          warm start  16  0.315 ± 0.031   +0.000 ± 0.000   -0.085 ± 0.034        0.37        0.61        0.33
      episode seed 0   8  0.535 ± 0.032   +0.070 ± 0.040   -0.075 ± 0.038        0.10        0.76        0.57
      episode seed 0  12  0.410 ± 0.034   +0.025 ± 0.043   -0.080 ± 0.033        0.16        0.74        0.42
      episode seed 0  16  0.300 ± 0.031   -0.015 ± 0.039   -0.100 ± 0.026        0.15        0.78        0.34
         turn seed 0   8  0.515 ± 0.033   +0.050 ± 0.041   -0.095 ± 0.039        0.04        0.81        0.61
         turn seed 0  12  0.365 ± 0.034   -0.020 ± 0.038   -0.125 ± 0.039        0.09        0.85        0.39
         turn seed 0  16  0.325 ± 0.028   +0.010 ± 0.036   -0.075 ± 0.034        0.10        0.81        0.34

                FIFO L = 8: 0.610  L = 12: 0.490  L = 16: 0.400

    turn minus episode, paired by stream (each seed), then the mean ± SE over seeds of the seeds' leads:
      L =  8: -0.020 ± 0.038   over seeds -0.020 ± 0.000
      L = 12: -0.045 ± 0.043   over seeds -0.045 ± 0.000
      L = 16: +0.025 ± 0.033   over seeds +0.025 ± 0.000
    463 s
Reference run 2, commit 3fc17f0 (`--seeds 1 2`, 456 s alone on 2 cores; the warm start's and FIFO's rows are run
1's to the digit). With run 1, turn minus episode by seed was -0.020, -0.065 and -0.025 at 8 facts, -0.045, -0.030
and -0.045 at 12, +0.025, +0.015 and -0.020 at 16, each about ± 0.04 paired by stream: per-turn credit did not help,
and at 8 and 12 facts every seed's lead was negative. Every policy of both arms stayed below FIFO at every length;
every turn-credit policy skipped 0.04 to 0.12 of the distractors. (The "over seeds" column pools only the seeds of
its own run.)

              policy   L       answers     - warm start           - FIFO NOOP distr. UPDATE chg.     ADD new
          warm start   8  0.465 ± 0.030   +0.000 ± 0.000   -0.145 ± 0.038        0.34        0.44        0.56
          warm start  12  0.385 ± 0.032   +0.000 ± 0.000   -0.105 ± 0.042        0.38        0.51        0.38
          warm start  16  0.315 ± 0.031   +0.000 ± 0.000   -0.085 ± 0.034        0.37        0.61        0.33
      episode seed 1   8  0.525 ± 0.033   +0.060 ± 0.045   -0.085 ± 0.037        0.25        0.56        0.52
      episode seed 1  12  0.350 ± 0.031   -0.035 ± 0.044   -0.140 ± 0.038        0.32        0.62        0.36
      episode seed 1  16  0.285 ± 0.029   -0.030 ± 0.041   -0.115 ± 0.034        0.28        0.71        0.34
         turn seed 1   8  0.460 ± 0.032   -0.005 ± 0.045   -0.150 ± 0.037        0.04        0.81        0.61
         turn seed 1  12  0.320 ± 0.031   -0.065 ± 0.041   -0.170 ± 0.038        0.09        0.84        0.39
         turn seed 1  16  0.300 ± 0.033   -0.015 ± 0.039   -0.100 ± 0.033        0.10        0.87        0.34
      episode seed 2   8  0.575 ± 0.031   +0.110 ± 0.041   -0.035 ± 0.036        0.17        0.72        0.56
      episode seed 2  12  0.475 ± 0.030   +0.090 ± 0.042   -0.015 ± 0.038        0.25        0.73        0.38
      episode seed 2  16  0.370 ± 0.031   +0.055 ± 0.040   -0.030 ± 0.033        0.22        0.74        0.33
         turn seed 2   8  0.550 ± 0.030   +0.085 ± 0.038   -0.060 ± 0.035        0.05        0.82        0.60
         turn seed 2  12  0.430 ± 0.033   +0.045 ± 0.039   -0.060 ± 0.031        0.11        0.85        0.40
         turn seed 2  16  0.350 ± 0.030   +0.035 ± 0.036   -0.050 ± 0.032        0.12        0.84        0.35

                FIFO L = 8: 0.610  L = 12: 0.490  L = 16: 0.400

    turn minus episode, paired by stream (each seed), then the mean ± SE over seeds of the seeds' leads:
      L =  8: -0.065 ± 0.042, -0.025 ± 0.039   over seeds -0.045 ± 0.020
      L = 12: -0.030 ± 0.037, -0.045 ± 0.039   over seeds -0.037 ± 0.007
      L = 16: +0.015 ± 0.037, -0.020 ± 0.035   over seeds -0.003 ± 0.017
    456 s

Reference run 3, this script on 9ad5a27 with `--bank-size` added (`--seeds 0 --bank-size 2`, 314 s at one thread
beside a one-thread job): a bank of two slots for the two asked names, so that once both are stored every distractor
kept costs one of them at that very turn (-1/2 under Φ). The warm start, FIFO and both arms all fell, and the picture
stayed the same: both arms below FIFO at every length (turn credit -0.055, -0.035, -0.045 ± about 0.026), turn minus
episode within one standard error (-0.015, +0.025, +0.020), and turn credit skipped fewer distractors still (0.05 to
0.09). Where the cost is credited is not what holds this manager back.

          policy   L       answers     - warm start           - FIFO NOOP distr. UPDATE chg.     ADD new
      warm start   8  0.355 ± 0.029   +0.000 ± 0.000   -0.100 ± 0.033        0.31        0.62        0.42
      warm start  12  0.295 ± 0.032   +0.000 ± 0.000   -0.040 ± 0.035        0.36        0.61        0.26
      warm start  16  0.220 ± 0.027   +0.000 ± 0.000   -0.075 ± 0.031        0.35        0.60        0.21
  episode seed 0   8  0.415 ± 0.029   +0.060 ± 0.035   -0.040 ± 0.027        0.21        0.78        0.42
  episode seed 0  12  0.275 ± 0.029   -0.020 ± 0.037   -0.060 ± 0.030        0.25        0.79        0.27
  episode seed 0  16  0.230 ± 0.029   +0.010 ± 0.034   -0.065 ± 0.028        0.24        0.74        0.25
     turn seed 0   8  0.400 ± 0.030   +0.045 ± 0.035   -0.055 ± 0.027        0.05        0.94        0.47
     turn seed 0  12  0.300 ± 0.032   +0.005 ± 0.036   -0.035 ± 0.027        0.08        0.92        0.28
     turn seed 0  16  0.250 ± 0.027   +0.030 ± 0.031   -0.045 ± 0.025        0.09        0.88        0.23

            FIFO L = 8: 0.455  L = 12: 0.335  L = 16: 0.295

turn minus episode, paired by stream (each seed), then the mean ± SE over seeds of the seeds' leads:
  L =  8: -0.015 ± 0.031   over seeds -0.015 ± 0.000
  L = 12: +0.025 ± 0.028   over seeds +0.025 ± 0.000
  L = 16: +0.020 ± 0.028   over seeds +0.020 ± 0.000
314 s

Reference run 4, this script at the commit that added `--asked` (on afec87c; `--asked jobs`, the defaults otherwise,
394 s alone on 2 cores; the NOOP new column is new since runs 1-3). `asked="jobs"` streams name no kept entity:
every question is a person's job and no distractor is a job, so what matters has to be learned from the answers, as
Memory-R1's manager learns it (`memory.MemoryBankEnv`); the warm start is data/memory-jobs-warm, memory-warm's recipe
on these streams, which greedy skips every distractor and at T = 1 about half. Every policy of both arms and all
three seeds answered more than FIFO at every length: +0.120 to +0.160 at 8 facts and +0.170 to +0.315 at 12 and 16
(each ± 0.03 to 0.04, paired by stream). With episode-level credit the gain over the warm start was +0.070 to +0.110
at 8 facts and +0.140 to +0.190 at 12 and 16 (each about ± 0.04). RL raised the share of distractors skipped from
0.54-0.60 to 0.77-0.84 (episode) and 0.67-0.78 (turn), and skipped almost no fact that would be asked (0.00-0.01).
Per-turn credit did no better than episode-level credit (-0.045 ± 0.015 over seeds at 16 facts).

          policy   L       answers     - warm start           - FIFO NOOP distr. UPDATE chg.     ADD new    NOOP new
      warm start   8  0.705 ± 0.029   +0.000 ± 0.000   +0.050 ± 0.034        0.60        0.71        0.81        0.01
      warm start  12  0.595 ± 0.031   +0.000 ± 0.000   +0.080 ± 0.034        0.55        0.90        0.69        0.00
      warm start  16  0.510 ± 0.033   +0.000 ± 0.000   +0.125 ± 0.034        0.54        0.89        0.58        0.01
  episode seed 0   8  0.815 ± 0.024   +0.110 ± 0.037   +0.160 ± 0.034        0.81        0.62        0.79        0.01
  episode seed 0  12  0.770 ± 0.029   +0.175 ± 0.039   +0.255 ± 0.038        0.84        0.72        0.80        0.00
  episode seed 0  16  0.700 ± 0.033   +0.190 ± 0.043   +0.315 ± 0.039        0.83        0.72        0.77        0.01
     turn seed 0   8  0.795 ± 0.027   +0.090 ± 0.039   +0.140 ± 0.038        0.75        0.74        0.86        0.01
     turn seed 0  12  0.735 ± 0.029   +0.140 ± 0.042   +0.220 ± 0.040        0.75        0.84        0.67        0.00
     turn seed 0  16  0.670 ± 0.029   +0.160 ± 0.042   +0.285 ± 0.036        0.78        0.88        0.62        0.01
  episode seed 1   8  0.810 ± 0.027   +0.105 ± 0.042   +0.155 ± 0.038        0.83        0.61        0.77        0.00
  episode seed 1  12  0.735 ± 0.027   +0.140 ± 0.036   +0.220 ± 0.034        0.83        0.78        0.76        0.00
  episode seed 1  16  0.700 ± 0.027   +0.190 ± 0.041   +0.315 ± 0.038        0.84        0.74        0.71        0.01
     turn seed 1   8  0.805 ± 0.026   +0.100 ± 0.036   +0.150 ± 0.037        0.69        0.81        0.78        0.00
     turn seed 1  12  0.745 ± 0.027   +0.150 ± 0.041   +0.230 ± 0.038        0.75        0.91        0.64        0.00
     turn seed 1  16  0.670 ± 0.027   +0.160 ± 0.042   +0.285 ± 0.036        0.78        0.93        0.49        0.01
  episode seed 2   8  0.775 ± 0.030   +0.070 ± 0.042   +0.120 ± 0.039        0.77        0.69        0.81        0.01
  episode seed 2  12  0.735 ± 0.027   +0.140 ± 0.043   +0.220 ± 0.038        0.78        0.79        0.76        0.00
  episode seed 2  16  0.680 ± 0.027   +0.170 ± 0.040   +0.295 ± 0.033        0.79        0.80        0.66        0.01
     turn seed 2   8  0.795 ± 0.027   +0.090 ± 0.037   +0.140 ± 0.038        0.67        0.83        0.77        0.00
     turn seed 2  12  0.685 ± 0.027   +0.090 ± 0.045   +0.170 ± 0.042        0.71        0.93        0.56        0.00
     turn seed 2  16  0.605 ± 0.029   +0.095 ± 0.044   +0.220 ± 0.034        0.74        0.94        0.48        0.01

            FIFO L = 8: 0.655  L = 12: 0.515  L = 16: 0.385

turn minus episode, paired by stream (each seed), then the mean ± SE over seeds of the seeds' leads:
  L =  8: -0.020 ± 0.033, -0.005 ± 0.036, +0.020 ± 0.042   over seeds -0.002 ± 0.012
  L = 12: -0.035 ± 0.038, +0.010 ± 0.037, -0.050 ± 0.036   over seeds -0.025 ± 0.018
  L = 16: -0.030 ± 0.044, -0.030 ± 0.037, -0.075 ± 0.041   over seeds -0.045 ± 0.015
394 s
"""
import argparse
import statistics
import time

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, memory, rl
from agentic_lab.eval import paired_gain

KINDS = {"distractor_noop": "NOOP distr.", "contradiction_update": "UPDATE chg.", "new_add": "ADD new",
         "new_noop": "NOOP new"}
ARMS = {"episode": ({}, "episode"), "turn": ({"turn_rewards": True}, "turn")}  # env options, credit


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--lengths", type=int, nargs="+", default=[8, 12, 16])
    parser.add_argument("--arms", nargs="+", default=list(ARMS))
    parser.add_argument("--bank-size", type=int, default=memory.BANK_SIZE)
    parser.add_argument("--asked", choices=("names", "jobs"), default="names")
    args = parser.parse_args()
    start = time.time()
    warm_start = memory.WARM_START if args.asked == "names" else memory.JOBS_WARM_START
    warm, tokenizer = load_model(warm_start)
    streams = {n: memory.held_out_streams(n, 100, args.bank_size, args.asked) for n in args.lengths}
    fifo = {n: memory.play(memory.fifo_manager, tasks) for n, tasks in streams.items()}
    results = {("warm start", None): memory.play_lengths(warm, tokenizer, streams)}
    for seed in args.seeds:
        for arm in args.arms:
            options, credit = ARMS[arm]
            policy = load_model(warm_start)[0]
            config = rl.RLConfig(n_groups=4, group_size=8, lr=2e-4, max_new_tokens=memory.MAX_NEW_TOKENS,
                                 keep_history=False, credit=credit)
            make_env = lambda: gym.make("agentic_lab/MemoryBank-v0", stream_length=memory.TRAIN_LENGTH,  # noqa: E731
                                        bank_size=args.bank_size, asked=args.asked, **options)
            rl.grpo_train(policy, tokenizer, make_env, steps=args.steps, config=config, seed=seed, progress=False)
            results[arm, seed] = memory.play_lengths(policy, tokenizer, streams)
            print(f"seed {seed} {arm} trained and played ({time.time() - start:.0f} s)", flush=True)
    print(f"\n{'policy':>16s} {'L':>3s} {'answers':>13s} {'- warm start':>16s} {'- FIFO':>16s}"
          + "".join(f"{label:>12s}" for label in KINDS.values()))
    for (arm, seed), result in results.items():
        for n in args.lengths:
            answers, report = result[n]
            over_warm = paired_gain(results["warm start", None][n][0], answers)
            over_fifo = paired_gain(fifo[n], answers)
            name = arm if seed is None else f"{arm} seed {seed}"
            print(f"{name:>16s} {n:3d} {statistics.mean(answers):6.3f} ± {statistics.stdev(answers) / 10:.3f} "
                  f"{over_warm[0]:+8.3f} ± {over_warm[1]:.3f} {over_fifo[0]:+8.3f} ± {over_fifo[1]:.3f}"
                  + "".join(f"{report[k]:12.2f}" for k in KINDS))
    print(f"\n{'FIFO':>16s} " + "  ".join(f"L = {n}: {statistics.mean(fifo[n]):.3f}" for n in args.lengths))
    if set(args.arms) >= {"episode", "turn"}:
        print("\nturn minus episode, paired by stream (each seed), then the mean ± SE over seeds of the seeds' leads:")
        for n in args.lengths:
            leads = [paired_gain(results["episode", s][n][0], results["turn", s][n][0]) for s in args.seeds]
            over = statistics.mean(lead for lead, _ in leads)
            spread = statistics.stdev(lead for lead, _ in leads) / len(leads) ** 0.5 if len(leads) > 1 else 0.0
            print(f"  L = {n:2d}: " + ", ".join(f"{lead:+.3f} ± {se:.3f}" for lead, se in leads)
                  + f"   over seeds {over:+.3f} ± {spread:.3f}")
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
