"""Can the tiny model copy a string it has never seen? Issue 34's measurement, before and after the base rebuild.

    python experiments/00_copy.py                           # data/tiny-agent; about 5 minutes on 2 cores
    python experiments/00_copy.py --model runs/candidate    # any checkpoint folder or model id
    python experiments/00_copy.py --strings 20 --tasks 20   # a quick try-out

Copying: `agentic_lab.eval.copy_accuracy`, greedy, --strings invented strings per cell (names made of the world's
syllables but not in it, or random letters and digits; L characters). The model is asked for a search call naming
the string: from the question (call), from the note the previous search returned (near), or from that note followed
by COPY_FILLER other people's notes (far). Each cell: the share copied exactly, and (in brackets) the mean share
of the string right before the first mistake. Then held-out success per task family, greedy and at T = 1, --tasks
tasks each, as the model card reports it.

Reference run, data/tiny-agent as built before issue 34 (length-grouped batches, no copy family), commit 84948b6
with the scoring that counts S as an answer too, 2 cores, alone, 143 s:
    copied exactly (right prefix), 100 strings per cell, greedy
    probe  string        L = 4        L = 8       L = 16       L = 32
    call   name    0.49 (0.77)  0.01 (0.24)  0.00 (0.08)  0.00 (0.01)
    call   chars   0.00 (0.00)  0.00 (0.00)  0.00 (0.00)  0.00 (0.00)
    near   name    0.32 (0.89)  0.08 (0.54)  0.00 (0.04)  0.00 (0.00)
    near   chars   0.00 (0.00)  0.00 (0.00)  0.00 (0.00)  0.00 (0.00)
    far    name    0.00 (0.00)  0.00 (0.00)  0.00 (0.00)  0.00 (0.00)
    far    chars   0.00 (0.00)  0.00 (0.00)  0.00 (0.00)  0.00 (0.00)
    held-out success, 200 tasks per family (± one standard error)
    arithmetic     greedy 0.57 ± 0.04   T = 1 0.41 ± 0.03
    calculator     greedy 0.45 ± 0.04   T = 1 0.46 ± 0.04
    word_problem   greedy 0.42 ± 0.03   T = 1 0.27 ± 0.03
    navigation     greedy 0.60 ± 0.03   T = 1 0.45 ± 0.04
    search_qa      greedy 0.50 ± 0.04   T = 1 0.46 ± 0.04
    copy           greedy 0.00 ± 0.00   T = 1 0.00 ± 0.00
The families are the model card's figures; copy is new, a tool (read) and a format the model never saw.
Re-run at 2ef0bc4, after the scorer began to count the first text argument of any tool call (a read call's key) as
copied, 2 cores, alone: the same copy table, cell for cell (the copy part, about 100 s; the families were not
re-run).

Reference run on data/tiny-agent as rebuilt by issue 34 (copy family, every token weighed the same, grouped-query
attention), commit bc5e858, one thread beside two other one-thread jobs, 275 s:
    copied exactly (right prefix), 100 strings per cell, greedy
    probe  string        L = 4        L = 8       L = 16       L = 32
    call   name    1.00 (1.00)  1.00 (1.00)  0.87 (0.97)  0.35 (0.50)
    call   chars   0.01 (0.01)  0.05 (0.05)  0.01 (0.01)  0.02 (0.02)
    near   name    0.62 (0.62)  0.80 (0.81)  0.53 (0.55)  0.55 (0.55)
    near   chars   0.14 (0.14)  0.04 (0.04)  0.09 (0.10)  0.02 (0.03)
    far    name    0.01 (0.01)  0.01 (0.01)  0.01 (0.02)  0.07 (0.08)
    far    chars   0.00 (0.01)  0.00 (0.00)  0.00 (0.00)  0.00 (0.00)
    held-out success, 200 tasks per family (± one standard error)
    arithmetic     greedy 0.56 ± 0.04   T = 1 0.33 ± 0.03
    calculator     greedy 0.47 ± 0.04   T = 1 0.59 ± 0.03
    word_problem   greedy 0.54 ± 0.04   T = 1 0.41 ± 0.03
    navigation     greedy 0.57 ± 0.03   T = 1 0.46 ± 0.04
    search_qa      greedy 0.47 ± 0.04   T = 1 0.46 ± 0.04
    copy           greedy 0.17 ± 0.03   T = 1 0.12 ± 0.02
The same figures as the model card's (its copy table is this table).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from agentic_lab import load_model  # noqa: E402
from agentic_lab.eval import COPY_LENGTHS, copy_accuracy, evaluate_families  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="checkpoint folder or model id (default: data/tiny-agent)")
    parser.add_argument("--strings", type=int, default=100, help="strings per probe, kind and length")
    parser.add_argument("--tasks", type=int, default=200, help="held-out tasks per family")
    args = parser.parse_args()
    start = time.time()
    model, tokenizer = load_model(args.model)

    copying = copy_accuracy(model, tokenizer, n=args.strings)
    print(f"copied exactly (right prefix), {args.strings} strings per cell, greedy")
    print(f"{'probe':6s} {'string':6s} " + " ".join(f"{f'L = {n}':>12s}" for n in COPY_LENGTHS))
    for probe, kinds in copying.items():
        for kind, cells in kinds.items():
            print(f"{probe:6s} {kind:6s} " + " ".join(f"{c['exact']:5.2f} ({c['prefix']:.2f})" for c in cells.values()))

    greedy = evaluate_families(model, tokenizer, n=args.tasks, temperature=0.0)
    sampled = evaluate_families(model, tokenizer, n=args.tasks, temperature=1.0)
    print(f"held-out success, {args.tasks} tasks per family (± one standard error)")
    for name in greedy:
        print(f"{name:14s} greedy {greedy[name]['success']:.2f} ± {greedy[name]['stderr']:.2f}   "
              f"T = 1 {sampled[name]['success']:.2f} ± {sampled[name]['stderr']:.2f}")
    print(f"{time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
