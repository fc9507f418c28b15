"""Notebook 10's masked-against-unmasked comparison over several training seeds, with the loss normalisation held
equal, and the useless retrievers over seeds.

    python experiments/10_masking_seeds.py [--seeds 3] [--steps 10] [--retriever-steps 20]

The notebook trains once per arm (seed 0: the tasks and the sampling of every step), so its curves and its held-out
exact match are one draw. Here every arm trains at the notebook's settings (10 GRPO steps of 4 groups × 8, lr 2e-4,
max 96 new tokens, from data/searchagent-warm) with seeds 0 .. --seeds - 1; seed 0 is the notebook's run.

1. Masked against unmasked, under two normalisations of the loss. The notebook's loss ("grpo") divides each
   episode's loss by the tokens it trains on: masked, the agent's own (≈ 113 in an episode that searched);
   unmasked, those and the retrieved ones (≈ 142 more). So the unmasked arm also weighs the agent's own tokens about
   half as much, a second difference beside the mask. Under "dr_grpo" (Dr. GRPO) every episode's loss is divided
   by the same constant (groups × group size × max new tokens), whatever it trains on: the unmasked arm then adds
   the retrieved tokens' gradient and changes nothing else. For each run: the means over the last three steps of
   the KL to the warm start (on the agent's tokens), the gradient norm, the entropy and the searches per question;
   the held-out exact match on the notebook's 128 questions (sampled at T = 1 with the notebook's sampling seed)
   and its gain over the warm start, paired by question. Then, per measure and normalisation, the paired difference
   unmasked - masked (same seed) as mean ± standard error over seeds.
2. The useless retrievers: the masked arm for --retriever-steps steps under BM25, a random retriever and an empty
   one; searches per question over the first and the last three steps, and their change, over seeds.
"""
import argparse
import statistics
import time

import gymnasium as gym

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model, rl, search
from agentic_lab.eval import paired_gain
from agentic_lab.rollout import rollout

ENV_ID = "agentic_lab/SearchAgent-v0"
KEYS = ("kl_ref", "grad_norm", "entropy", "tool_calls")
TEST_SEEDS = list(range(10_000, 10_128))       # notebook 10's held-out questions, played with sampling seed 1


def held_out(policy, tokenizer) -> list[float]:
    """Exact match (0 or 1) on each held-out question, as notebook 10's `play` samples them."""
    envs = [gym.make(ENV_ID, split="test") for _ in TEST_SEEDS]
    return [t.success for t in rollout(policy, tokenizer, envs, TEST_SEEDS, temperature=1.0, seed=1)]


def mean_se(values: list[float]) -> str:
    return f"{statistics.mean(values):+.3f} ± {statistics.stdev(values) / len(values) ** 0.5:.3f}"


def train(seed: int, steps: int, retriever: str = "bm25", **options):
    policy, tokenizer = load_model(search.WARM_START)
    config = rl.RLConfig(n_groups=4, group_size=8, lr=2e-4, max_new_tokens=96, track_kl=True, **options)
    history = rl.grpo_train(policy, tokenizer, lambda: gym.make(ENV_ID, retriever=retriever), steps=steps, seed=seed,
                            progress=False, config=config)
    return policy, tokenizer, history


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--retriever-steps", type=int, default=20)
    args = parser.parse_args()
    start = time.time()
    warm, tokenizer = load_model(search.WARM_START)
    warm_correct = held_out(warm, tokenizer)
    print(f"warm start, held-out exact match {statistics.mean(warm_correct):.3f} on {len(TEST_SEEDS)} questions\n")

    arms = [(loss, masked) for loss in ("grpo", "dr_grpo") for masked in (True, False)]
    runs = {arm: [] for arm in arms}                   # per arm, one dict per seed
    print(f"{'loss':8s} {'arm':9s} {'seed':>4s}" + "".join(f"{key:>11s}" for key in KEYS)
          + f"{'exact match':>13s} {'gain (paired)':>17s}   (last 3 steps; held out)")
    for seed in range(args.seeds):
        for loss, masked in arms:
            policy, tokenizer, history = train(seed, args.steps, loss_type=loss, mask_retrieved=masked)
            correct = held_out(policy, tokenizer)
            gain, se = paired_gain(warm_correct, correct)
            run = {key: statistics.mean(h[key] for h in history[-3:]) for key in KEYS}
            runs[loss, masked].append(run | {"exact_match": statistics.mean(correct), "gain": gain, "correct": correct})
            print(f"{loss:8s} {'masked' if masked else 'unmasked':9s} {seed:4d}"
                  + "".join(f"{run[key]:11.3f}" for key in KEYS)
                  + f"{statistics.mean(correct):13.3f} {gain:+9.3f} ± {se:.3f}", flush=True)

    print(f"\nover {args.seeds} seeds, mean ± standard error over seeds")
    for loss in ("grpo", "dr_grpo"):
        masked, unmasked = runs[loss, True], runs[loss, False]
        print(f"loss {loss}")
        for key in KEYS + ("exact_match", "gain"):
            print(f"  {key:12s} masked {mean_se([r[key] for r in masked])}   unmasked "
                  f"{mean_se([r[key] for r in unmasked])}   unmasked - masked "
                  f"{mean_se([u[key] - m[key] for u, m in zip(unmasked, masked)])}")
        for seed, (m, u) in enumerate(zip(masked, unmasked)):
            gap, se = paired_gain(m["correct"], u["correct"])
            print(f"  seed {seed}: held out, unmasked - masked {gap:+.3f} ± {se:.3f} (paired by question)")

    print(f"\nsearches per question, masked, {args.retriever_steps} steps: first 3 -> last 3 steps")
    for retriever in ("bm25", "random", "empty"):
        changes = []
        for seed in range(args.seeds):
            calls = [h["tool_calls"] for h in train(seed, args.retriever_steps, retriever)[2]]
            first, last = statistics.mean(calls[:3]), statistics.mean(calls[-3:])
            changes.append(last - first)
            print(f"  {retriever:6s} seed {seed}: {first:.2f} -> {last:.2f}", flush=True)
        print(f"  {retriever:6s} change over seeds {mean_se(changes)}")
    print(f"\n{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
