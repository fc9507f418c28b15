"""Notebook 11's MEM1 agent and the full-context agent trained with RL at 2 objectives, tested at 2, 4, 8 and 16: what
the notebook's five minutes cannot hold.

    python experiments/11_mem1_rl.py [--steps 24] [--lr 1e-4] [--n 100]     # 599 s measured, alone on 2 cores

Both start from data/mem1-warm (one model that has seen both ways of playing). Each is trained --steps GRPO steps
(4 groups × 8 episodes of 2 objectives, the reward the share of objectives right, seed 0), MEM1 with a fresh
context each turn and self-contained observations, the full-context agent with one growing context and bare
results; about 7 s a step on 2 cores. Before and after, each plays the same --n held-out tasks at 2, 4, 8 and 16
objectives (sampled at T = 1, the same seed), so before and after pair up task by task. Printed per agent and k:
the share of objectives right before and after ± se, the paired gain, the share of tasks all right, the peak
context (mean, largest) and the share of episodes cut off because the context was full."""
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
