"""Notebook 11's manager when it is not told what will be asked: does RL on the answers alone teach it what to keep,
and does it then beat FIFO past the training length?

    python experiments/11_asked_jobs.py [--seeds 0 1 2] [--steps 12] [--arms episode turn]

With the `Keep:` line (the notebook's setting) the warm start skips a fact about a kept name as often as a distractor
(its NOOPs do not depend on the line), and RL from it stayed below FIFO (experiments/11_turn_credit.py). Here the
streams are `asked="jobs"` (`memory.MemoryBankEnv`): no `Keep:` line, every question a person's job and no
distractor a job, so a fact's second word says whether it can ever be asked: what Memory-R1's manager has to learn
from the answers, that some kinds of fact matter and others never do. FIFO that skips all but jobs scores the oracle's
1.0. The warm start is data/memory-jobs-warm (`python data/build_memory_model.py --asked jobs`): the same recipe as
data/memory-warm, half FIFO and half oracle, so at T = 1 it skips about half the distractors. Each arm trains at the
notebook's settings (12 GRPO steps of 4 groups × 8 streams of 8 facts, lr 2e-4, a fresh context each turn) with the
answers as the reward, paid at the end (`episode`) or each operation its change in the answers (`turn`,
`turn_rewards=True`); then each policy plays 100 held-out streams of 8, 12 and 16 facts at T = 1 (the same sampling
seed), paired stream by stream with the warm start and with FIFO.

Reference run, this script as first committed (on 9fa8538; the defaults, 387 s alone on 2 cores). Every policy of
both arms and all three seeds answered more than FIFO at every length, by +0.120 to +0.160 at the training length
and +0.170 to +0.315 at 12 and 16 facts (each ± 0.03 to 0.04, paired by stream); with episode-level credit the gain
over the warm start was +0.070 to +0.110 at 8 facts and +0.140 to +0.190 at 12 and 16 (each about ± 0.04). RL
raised the share of distractors skipped from 0.54-0.60 to 0.77-0.84 (episode) and 0.67-0.78 (turn) and skipped
almost no fact that would be asked (0.00-0.01). Per-turn credit did no better than episode-level here. Greedy, the
warm start already skips every distractor (its model card): what RL changed is what it samples at T = 1.

              policy   L       answers     - warm start           - FIFO NOOP distr.    NOOP new UPDATE chg.
          warm start   8  0.705 ± 0.029   +0.000 ± 0.000   +0.050 ± 0.034        0.60        0.01        0.71
          warm start  12  0.595 ± 0.031   +0.000 ± 0.000   +0.080 ± 0.034        0.55        0.00        0.90
          warm start  16  0.510 ± 0.033   +0.000 ± 0.000   +0.125 ± 0.034        0.54        0.01        0.89
      episode seed 0   8  0.815 ± 0.024   +0.110 ± 0.037   +0.160 ± 0.034        0.81        0.01        0.62
      episode seed 0  12  0.770 ± 0.029   +0.175 ± 0.039   +0.255 ± 0.038        0.84        0.00        0.72
      episode seed 0  16  0.700 ± 0.033   +0.190 ± 0.043   +0.315 ± 0.039        0.83        0.01        0.72
         turn seed 0   8  0.795 ± 0.027   +0.090 ± 0.039   +0.140 ± 0.038        0.75        0.01        0.74
         turn seed 0  12  0.735 ± 0.029   +0.140 ± 0.042   +0.220 ± 0.040        0.75        0.00        0.84
         turn seed 0  16  0.670 ± 0.029   +0.160 ± 0.042   +0.285 ± 0.036        0.78        0.01        0.88
      episode seed 1   8  0.810 ± 0.027   +0.105 ± 0.042   +0.155 ± 0.038        0.83        0.00        0.61
      episode seed 1  12  0.735 ± 0.027   +0.140 ± 0.036   +0.220 ± 0.034        0.83        0.00        0.78
      episode seed 1  16  0.700 ± 0.027   +0.190 ± 0.041   +0.315 ± 0.038        0.84        0.01        0.74
         turn seed 1   8  0.805 ± 0.026   +0.100 ± 0.036   +0.150 ± 0.037        0.69        0.00        0.81
         turn seed 1  12  0.745 ± 0.027   +0.150 ± 0.041   +0.230 ± 0.038        0.75        0.00        0.91
         turn seed 1  16  0.670 ± 0.027   +0.160 ± 0.042   +0.285 ± 0.036        0.78        0.01        0.93
      episode seed 2   8  0.775 ± 0.030   +0.070 ± 0.042   +0.120 ± 0.039        0.77        0.01        0.69
      episode seed 2  12  0.735 ± 0.027   +0.140 ± 0.043   +0.220 ± 0.038        0.78        0.00        0.79
      episode seed 2  16  0.680 ± 0.027   +0.170 ± 0.040   +0.295 ± 0.033        0.79        0.01        0.80
         turn seed 2   8  0.795 ± 0.027   +0.090 ± 0.037   +0.140 ± 0.038        0.67        0.00        0.83
         turn seed 2  12  0.685 ± 0.027   +0.090 ± 0.045   +0.170 ± 0.042        0.71        0.00        0.93
         turn seed 2  16  0.605 ± 0.029   +0.095 ± 0.044   +0.220 ± 0.034        0.74        0.01        0.94

                FIFO L = 8: 0.655  L = 12: 0.515  L = 16: 0.385
    387 s

    real	6m33.285s
    user	12m23.769s
    sys	0m18.185s
"""
import argparse
import statistics
import time

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, memory, rl
from agentic_lab.eval import paired_gain

WARM_START = memory.WARM_START.parent / "memory-jobs-warm"
KINDS = {"distractor_noop": "NOOP distr.", "new_noop": "NOOP new", "contradiction_update": "UPDATE chg."}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--arms", nargs="+", default=["episode", "turn"], choices=["episode", "turn"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[8, 12, 16])
    args = parser.parse_args()
    start = time.time()
    warm, tokenizer = load_model(WARM_START)
    streams = {n: memory.held_out_streams(n, 100, asked="jobs") for n in args.lengths}
    fifo = {n: memory.play(memory.fifo_manager, tasks) for n, tasks in streams.items()}
    results = {("warm start", None): memory.play_lengths(warm, tokenizer, streams)}
    for seed in args.seeds:
        for arm in args.arms:
            policy = load_model(WARM_START)[0]
            config = rl.RLConfig(n_groups=4, group_size=8, lr=2e-4, max_new_tokens=memory.MAX_NEW_TOKENS,
                                 keep_history=False, credit=arm)
            make_env = lambda: gym.make("agentic_lab/MemoryBank-v0", stream_length=memory.TRAIN_LENGTH,  # noqa: E731
                                        bank_size=memory.BANK_SIZE, asked="jobs", turn_rewards=arm == "turn")
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
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
