"""Notebook 11's MEM1 agent and the full-context agent trained with RL at 2 objectives, tested at 2, 4, 8 and 16: what
the notebook's five minutes cannot hold.

    python experiments/11_mem1_rl.py [--steps 24] [--lr 1e-4] [--n 100]     # 2,436 s, one thread beside two jobs

Both start from data/mem1-warm (one model that has seen both ways of playing). Each is trained --steps GRPO steps
(4 groups × 8 episodes of 2 objectives, the reward the share of objectives right, seed 0), MEM1 with a fresh
context each turn and self-contained observations, the full-context agent with one growing context and bare
results. Before and after, each plays the same --n held-out tasks at 2, 4, 8 and 16
objectives (sampled at T = 1, the same seed), so before and after pair up task by task. Printed per agent and k:
the share of objectives right before and after ± se, the paired gain, the share of tasks all right, the peak
context (mean, largest) and the share of episodes cut off because the context was full.

Reference run, commit 4b0110b (data/mem1-warm rebuilt by issue 34, both ways shown 1 to 3 objectives, every name held
out), the defaults, one thread beside two other jobs, 2,436 s. The warm start already answers 2 objectives right
almost every time, so the training reward sits near 1 and GRPO's groups have little to tell apart:

           agent  k        before         after   gain (paired)         all right   peak context       cut off
            MEM1  2  0.975 ± 0.013  0.970 ± 0.014   -0.005 ± 0.019  0.96 -> 0.95        329 ( 332) 0.00 -> 0.00
            MEM1  4  0.188 ± 0.020  0.145 ± 0.020   -0.043 ± 0.020  0.00 -> 0.00        347 ( 380) 0.00 -> 0.00
            MEM1  8  0.051 ± 0.007  0.024 ± 0.006   -0.028 ± 0.009  0.00 -> 0.00        384 ( 438) 0.00 -> 0.00
            MEM1 16  0.001 ± 0.001  0.000 ± 0.000   -0.001 ± 0.001  0.00 -> 0.00        461 ( 497) 0.00 -> 0.00
    MEM1: training reward by step [0.98, 1.0, 1.0, 0.95, 1.0, 0.97, 1.0, 0.98, 1.0, 1.0, 0.98, 0.96, 0.98, 0.98, 1.0, 1.0, 0.91, 0.94, 0.88, 0.98, 1.0, 1.0, 1.0, 1.0]
    full context  2  0.995 ± 0.005  0.970 ± 0.017   -0.025 ± 0.018  0.99 -> 0.97        460 ( 832) 0.00 -> 0.01
    full context  4  0.652 ± 0.015  0.610 ± 0.025   -0.043 ± 0.027  0.00 -> 0.00        602 ( 994) 0.01 -> 0.10
    full context  8  0.021 ± 0.007  0.015 ± 0.006   -0.006 ± 0.009  0.00 -> 0.00        836 (1005) 0.68 -> 0.85
    full context 16  0.000 ± 0.000  0.000 ± 0.000   +0.000 ± 0.000  0.00 -> 0.00        846 (1008) 0.94 -> 0.96
    full context: training reward by step [1.0, 0.94, 1.0, 0.95, 1.0, 0.96, 0.96, 0.98, 0.91, 1.0, 0.97, 1.0, 1.0, 1.0, 0.97, 0.92, 0.96, 0.9, 1.0, 0.98, 0.93, 0.96, 1.0, 0.92]
"""
import argparse
import copy
import statistics
import time

from agentic_lab import load_model, memory, rl
from agentic_lab.eval import paired_gain


def evaluate(model, tokenizer, n: int, mem1: bool) -> dict:
    """k -> (per-task share right, the state_report row)."""
    out = {}
    for k in memory.OBJECTIVES:
        episodes = memory.play_state(model, tokenizer, k, n, mem1)
        out[k] = ([memory.objectives_right(t) for t in episodes], memory.state_report(episodes)[str(k)])
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    start = time.time()
    warm, tokenizer = load_model(memory.MEM1_WARM_START)
    print(f"{'agent':>12s} {'k':>2s} {'before':>13s} {'after':>13s} {'gain (paired)':>15s} {'all right':>17s} "
          f"{'peak context':>14s} {'cut off':>13s}")
    for name, mem1 in (("MEM1", True), ("full context", False)):
        before = evaluate(warm, tokenizer, args.n, mem1)
        config = rl.RLConfig(n_groups=4, group_size=8, lr=args.lr, max_new_tokens=memory.STATE_MAX_NEW_TOKENS,
                             keep_history=not mem1)
        policy = copy.deepcopy(warm)
        history = rl.grpo_train(policy, tokenizer, lambda: memory.MemoryStateEnv(objectives=2, self_contained=mem1),
                                steps=args.steps, config=config, seed=0, progress=False)
        after = evaluate(policy, tokenizer, args.n, mem1)
        for k in memory.OBJECTIVES:
            (b, rb), (a, ra) = before[k], after[k]
            gain = paired_gain(b, a)
            se = lambda xs: statistics.stdev(xs) / len(xs) ** 0.5  # noqa: E731
            print(f"{name:>12s} {k:2d} {statistics.mean(b):6.3f} ± {se(b):.3f} {statistics.mean(a):6.3f} ± {se(a):.3f} "
                  f"{gain[0]:+8.3f} ± {gain[1]:.3f} {rb['success']:5.2f} -> {ra['success']:4.2f}      "
                  f"{ra['peak_context_mean']:5.0f} ({ra['peak_context_max']:4d}) {rb['context_full']:4.2f} -> "
                  f"{ra['context_full']:4.2f}", flush=True)
        print(f"{name}: training reward by step", [round(h["reward"], 2) for h in history], flush=True)
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
