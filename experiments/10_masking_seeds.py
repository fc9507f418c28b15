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
   by the same constant (groups × group size × max new tokens), whatever it trains on: the agent's own tokens then
   weigh the same in both arms, and the unmasked arm adds the retrieved tokens' gradient. (Every step clips the
   gradient to norm 1, so a large gradient on the retrieved tokens also shrinks the step on the agent's own: that
   is part of training on them.) For each run: the means over the last three steps of
   the KL to the warm start (on the agent's tokens), the gradient norm, the entropy and the searches per question;
   the held-out exact match on the notebook's 128 questions (sampled at T = 1 with the notebook's sampling seed)
   and its gain over the warm start, paired by question. Then, per measure and normalisation, the paired difference
   unmasked - masked (same seed) as mean ± standard error over seeds.
2. The useless retrievers: the masked arm for --retriever-steps steps under BM25, a random retriever and an empty
   one; searches per question over the first and the last three steps, and their change, over seeds.

Reference run, commit 2e0ea42 (data/searchagent-warm as rebuilt from issue 34's base), one thread beside two other
jobs, 2,236 s:
    warm start, held-out exact match 0.789 on 128 questions

    means over each run's last 3 steps; held-out exact match and its gain over the warm start
    loss     arm       seed     kl_ref  grad_norm    entropy tool_calls  exact match     gain (paired)
    grpo     masked       0      0.002      0.192      0.003      1.667        0.945    +0.156 ± 0.042
    grpo     unmasked     0      0.166      0.963      0.047      1.438        0.258    -0.531 ± 0.051
    dr_grpo  masked       0      0.001      0.048      0.007      1.635        0.945    +0.156 ± 0.038
    dr_grpo  unmasked     0      0.200      2.296      0.062      1.375        0.336    -0.453 ± 0.053
    grpo     masked       1      0.002      0.287      0.004      1.396        1.000    +0.211 ± 0.036
    grpo     unmasked     1      0.131      1.224      0.039      1.177        0.320    -0.469 ± 0.059
    dr_grpo  masked       1      0.004      0.051      0.003      1.396        1.000    +0.211 ± 0.036
    dr_grpo  unmasked     1      0.167      2.326      0.059      1.094        0.219    -0.570 ± 0.052
    grpo     masked       2      0.000      0.051      0.002      1.500        0.953    +0.164 ± 0.040
    grpo     unmasked     2      0.162      0.850      0.048      1.281        0.367    -0.422 ± 0.052
    dr_grpo  masked       2      0.003      0.108      0.007      1.427        0.945    +0.156 ± 0.039
    dr_grpo  unmasked     2      0.139      2.302      0.053      1.240        0.398    -0.391 ± 0.055

    over 3 seeds, mean ± standard error over seeds
    loss grpo
      kl_ref       masked +0.001 ± 0.001   unmasked +0.153 ± 0.011   unmasked - masked +0.152 ± 0.011
      grad_norm    masked +0.177 ± 0.069   unmasked +1.012 ± 0.111   unmasked - masked +0.836 ± 0.051
      entropy      masked +0.003 ± 0.000   unmasked +0.045 ± 0.003   unmasked - masked +0.042 ± 0.003
      tool_calls   masked +1.521 ± 0.079   unmasked +1.299 ± 0.076   unmasked - masked -0.222 ± 0.003
      exact_match  masked +0.966 ± 0.017   unmasked +0.315 ± 0.032   unmasked - masked -0.651 ± 0.033
      gain         masked +0.177 ± 0.017   unmasked -0.474 ± 0.032   unmasked - masked -0.651 ± 0.033
      seed 0: held out, unmasked - masked -0.688 ± 0.043 (paired by question)
      seed 1: held out, unmasked - masked -0.680 ± 0.041 (paired by question)
      seed 2: held out, unmasked - masked -0.586 ± 0.046 (paired by question)
    loss dr_grpo
      kl_ref       masked +0.003 ± 0.001   unmasked +0.169 ± 0.017   unmasked - masked +0.166 ± 0.018
      grad_norm    masked +0.069 ± 0.020   unmasked +2.308 ± 0.009   unmasked - masked +2.239 ± 0.024
      entropy      masked +0.006 ± 0.001   unmasked +0.058 ± 0.003   unmasked - masked +0.052 ± 0.003
      tool_calls   masked +1.486 ± 0.075   unmasked +1.236 ± 0.081   unmasked - masked -0.250 ± 0.033
      exact_match  masked +0.964 ± 0.018   unmasked +0.318 ± 0.053   unmasked - masked -0.646 ± 0.070
      gain         masked +0.174 ± 0.018   unmasked -0.471 ± 0.053   unmasked - masked -0.646 ± 0.070
      seed 0: held out, unmasked - masked -0.609 ± 0.043 (paired by question)
      seed 1: held out, unmasked - masked -0.781 ± 0.037 (paired by question)
      seed 2: held out, unmasked - masked -0.547 ± 0.047 (paired by question)

    searches per question, masked, 20 steps: first 3 -> last 3 steps
      bm25   seed 0: 1.22 -> 1.51
      bm25   seed 1: 1.22 -> 1.42
      bm25   seed 2: 1.23 -> 1.67
      bm25   change over seeds +0.309 ± 0.070
      random seed 0: 1.06 -> 0.41
      random seed 1: 0.95 -> 0.56
      random seed 2: 0.86 -> 0.60
      random change over seeds -0.434 ± 0.117
      empty  seed 0: 0.72 -> 0.48
      empty  seed 1: 0.79 -> 0.46
      empty  seed 2: 0.72 -> 0.45
      empty  change over seeds -0.281 ± 0.028

    2236 s
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
    print("means over each run's last 3 steps; held-out exact match and its gain over the warm start")
    print(f"{'loss':8s} {'arm':9s} {'seed':>4s}" + "".join(f"{key:>11s}" for key in KEYS)
          + f"{'exact match':>13s} {'gain (paired)':>17s}")
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
