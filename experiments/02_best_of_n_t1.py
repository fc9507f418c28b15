"""Best-of-n at T = 1, the temperature PPO samples at (notebook 02, section 6 runs it at the labelling temperature).

The same proxy as notebook 02 (`proxy_reward(reference, tokenizer, n_tasks=300, seed=0)`), the same 64 held-out
prompts and answer seed; only the sampling temperature differs. Prints, per n: KL(π_BoN ‖ π), the proxy and gold of
the kept answer, gold minus gold at n = 1 paired per prompt (± its standard error), correct and well-formed.

    python experiments/02_best_of_n_t1.py            # about 1.5 min on 2 idle cores

Reference run, commit bc5e858 (data/tiny-agent as rebuilt by issue 34), one thread beside two other jobs, 97 s:
    best-of-n at T = 1.0: 64 held-out prompts, 64 answers each
    n =  1   KL 0.00   proxy -0.25   gold 0.631   gold - gold(n=1) +0.000 ± 0.000   correct 0.38   well-formed 1.00
    n =  2   KL 0.19   proxy -0.07   gold 0.655   gold - gold(n=1) +0.023 ± 0.018   correct 0.40   well-formed 1.00
    n =  4   KL 0.64   proxy +0.06   gold 0.603   gold - gold(n=1) -0.029 ± 0.031   correct 0.35   well-formed 1.00
    n =  8   KL 1.20   proxy +0.16   gold 0.535   gold - gold(n=1) -0.097 ± 0.039   correct 0.28   well-formed 1.00
    n = 16   KL 1.84   proxy +0.26   gold 0.449   gold - gold(n=1) -0.183 ± 0.041   correct 0.20   well-formed 0.99
    n = 32   KL 2.50   proxy +0.37   gold 0.390   gold - gold(n=1) -0.242 ± 0.044   correct 0.14   well-formed 0.98
    n = 64   KL 3.17   proxy +0.47   gold 0.349   gold - gold(n=1) -0.282 ± 0.048   correct 0.11   well-formed 0.97
"""
import argparse

import torch

from agentic_lab import load_model
from agentic_lab import reward_model as rm_lib
from agentic_lab.tasks import sample_tasks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--answers", type=int, default=64)
    args = parser.parse_args()
    torch.manual_seed(0)
    reference, tokenizer = load_model()
    proxy = rm_lib.proxy_reward(reference, tokenizer, n_tasks=300, seed=0)
    P, M = args.prompts, args.answers
    tasks = sample_tasks("word_problem", P, seed=3, split="test")
    answers = rm_lib.sample_responses(reference, tokenizer, tasks, n=M, temperature=args.temperature, seed=5)
    flat_tasks, flat_answers = [t for t in tasks for _ in range(M)], [a for group in answers for a in group]
    proxy_scores = proxy(flat_tasks, flat_answers).view(P, M)
    gold_scores = rm_lib.gold_scores(flat_tasks, flat_answers).view(P, M)
    parts = [rm_lib.gold_parts(t, a) for t, a in zip(flat_tasks, flat_answers)]
    correct = torch.tensor([float(x["correct"]) for x in parts]).view(P, M)
    well_formed = torch.tensor([float(x["well_formed"]) for x in parts]).view(P, M)
    print(f"best-of-n at T = {args.temperature}: {P} held-out prompts, {M} answers each")
    kept_1 = rm_lib.best_of_n(proxy_scores, gold_scores, 1)[1]
    for n in (n for n in (1, 2, 4, 8, 16, 32, 64) if n <= M):
        kept_proxy, kept_gold = rm_lib.best_of_n(proxy_scores, gold_scores, n)
        gap = kept_gold - kept_1
        print(f"n = {n:2d}   KL {rm_lib.best_of_n_kl(n):.2f}   proxy {kept_proxy.mean():+.2f}   "
              f"gold {kept_gold.mean():.3f}   gold - gold(n=1) {gap.mean():+.3f} ± {gap.std() / P ** 0.5:.3f}   "
              f"correct {rm_lib.best_of_n(proxy_scores, correct, n)[1].mean():.2f}   "
              f"well-formed {rm_lib.best_of_n(proxy_scores, well_formed, n)[1].mean():.2f}", flush=True)


if __name__ == "__main__":
    main()
