"""Notebook 07's planning as search, and learning from the search: does the act-only agent, searching in a copy of
the world, reach goals past its training lengths that it misses acting greedily; and does training on what the
search found (expert iteration) make the same search budget reach further?

    python experiments/07_search.py [--seeds 0 1 2] [--rounds 2] [--grpo-seeds 0]

Planning as search (planning.imagined_successes): for each held-out world the policy imagines `--budget` episodes at
temperature 1 in a copy of the world and carries out one that reached G; with k of them imagined it reaches G with
chance pass@k. Measured on `--per-length` test-split worlds of each optimal plan length 8 to 12 (the warm starts saw
1 to 6), paired with the same worlds played greedily, no search.

Expert iteration (ExIt, the policy improvement of AlphaZero; ReST and STaR for language models): each round the
policy searches (`--budget` imagined episodes, T = 1) on `--worlds` training-split worlds of 7 to 10 moves, longer
than any demonstration; each world's shortest episode that reached G is kept, and the policy is fine-tuned on them
(`--sft-steps` batches of 32, peak lr `--lr`). RL with a 0/1 reward whose improvement step is the search itself.
Each seed trains its own copy of the act-only warm start on its own training worlds; every number is paired by
world with the warm start. For comparison, GRPO from the same warm start on training worlds of 7 to 9 moves, where
its samples reach G about half the time (notebook 07's settings otherwise: 8 groups of 8, lr 1e-4, 20 steps).
"""
import argparse
import copy
import statistics
import time

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, planning, rl
from agentic_lab.eval import paired_gain, pass_at_k
from agentic_lab.rollout import rollout
from agentic_lab.sft import IGNORE, train_sft

TEST_LENGTHS = (8, 9, 10, 11, 12)
EXIT_LENGTHS, GRPO_LENGTHS = (7, 10), (7, 9)
KS = (1, 4, 16)


def measure(model, tokenizer, plan_first: bool, per_length: int, budget: int) -> dict:
    """Per world, in play_by_length's order: greedy success (0/1) and search success at each k in KS."""
    greedy = [float(t.success) for t in planning.play_by_length(model, tokenizer, plan_first, TEST_LENGTHS,
                                                                per_length)]
    found = planning.imagined_successes(model, tokenizer, plan_first, TEST_LENGTHS, per_length, budget)
    return {"greedy": greedy, **{f"search@{k}": [pass_at_k(budget, c, k) for c in found] for k in KS if k <= budget}}


def print_rows(name: str, result: dict, per_length: int, warm: dict | None = None) -> None:
    for key, values in result.items():
        by_length = [statistics.mean(values[i:i + per_length]) for i in range(0, len(values), per_length)]
        cells = " ".join(f"{p:6.2f}" for p in by_length)
        g, se = paired_gain(result["greedy"], values)
        over = "" if key == "greedy" else f"   vs its greedy {g:+.3f} ± {se:.3f}"
        if warm is not None:
            g, se = paired_gain(warm[key], values)
            over += f"   vs warm {g:+.3f} ± {se:.3f}"
        print(f"{name:24s} {key:10s} {cells}   all {statistics.mean(values):.3f}{over}", flush=True)


def expert_iteration_round(model, tokenizer, first_seed: int, worlds: int, budget: int, steps: int,
                           lr: float) -> int:
    """Search on `worlds` training worlds, keep each one's shortest episode that reached G, fine-tune on them in
    place (the policy's own tokens only, as rollout's loss mask marks them). Returns how many worlds were solved."""
    seeds = [first_seed + k for k in range(worlds) for _ in range(budget)]
    envs = [gym.make("agentic_lab/PlanGrid-v0", lengths=EXIT_LENGTHS, split="train") for _ in seeds]
    episodes = rollout(model, tokenizer, envs, seeds, temperature=1.0, max_new_tokens=32, seed=first_seed)
    found = []
    for k in range(0, len(episodes), budget):
        routes = [t for t in episodes[k:k + budget] if t.success]
        if routes:
            found.append(min(routes, key=lambda t: len(t.turns)))
    examples = [{"input_ids": t.token_ids, "labels": [i if m else IGNORE for i, m in zip(t.token_ids, t.loss_mask)]}
                for t in found]
    train_sft(model, examples, steps=steps, batch_size=32, lr=lr, warmup=0, seed=first_seed,
              pad_id=tokenizer.pad_token_id, progress=False)
    return len(found)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--worlds", type=int, default=256)
    parser.add_argument("--sft-steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--grpo-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--budget", type=int, default=16)
    parser.add_argument("--per-length", type=int, default=24)
    args = parser.parse_args()
    start = time.time()
    print(f"held out, success by optimal plan length {TEST_LENGTHS}, {args.per_length} worlds each; search@k: k "
          f"imagined episodes from {args.budget} at T = 1; paired gains ± 1 SE over the {5 * args.per_length} worlds")
    warm = {}
    for arm, plan_first in (("plan-first", True), ("act-only", False)):
        model, tokenizer = load_model(planning.WARM_STARTS[arm])
        warm[arm] = measure(model, tokenizer, plan_first, args.per_length, args.budget)
        print_rows(f"{arm} warm start", warm[arm], args.per_length)
    warm_model, tokenizer = load_model(planning.WARM_STARTS["act-only"])
    for seed in args.seeds:
        model = copy.deepcopy(warm_model)
        for r in range(args.rounds):
            solved = expert_iteration_round(model, tokenizer, 1_000_000 * (1 + 10 * seed + r), args.worlds,
                                            args.budget, args.sft_steps, args.lr)
            print(f"seed {seed} round {r + 1}: search solved {solved} of {args.worlds} training worlds "
                  f"({time.time() - start:.0f} s)", flush=True)
            print_rows(f"ExIt seed {seed} round {r + 1}", measure(model, tokenizer, False, args.per_length,
                                                                  args.budget), args.per_length, warm["act-only"])
    config = rl.RLConfig(n_groups=8, group_size=8, lr=1e-4, max_new_tokens=32)
    make_env = lambda: gym.make("agentic_lab/PlanGrid-v0", lengths=GRPO_LENGTHS, max_turns=16)  # noqa: E731
    for seed in args.grpo_seeds:
        model = copy.deepcopy(warm_model)
        history = rl.grpo_train(model, tokenizer, make_env, steps=20, config=config, seed=seed, progress=False)
        first, last = (statistics.mean(h["success"] for h in part) for part in (history[:3], history[-3:]))
        print(f"GRPO seed {seed}: training success {first:.2f} in the first 3 steps -> {last:.2f} in the last 3 "
              f"({time.time() - start:.0f} s)", flush=True)
        print_rows(f"GRPO seed {seed}", measure(model, tokenizer, False, args.per_length, args.budget),
                   args.per_length, warm["act-only"])
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
