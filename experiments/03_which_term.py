"""Which term of the loss makes notebook 03's gain on right-vs-wrong pairs? Prints the table the notebook quotes.

    python experiments/03_which_term.py             # both draws of training prompts, about 15-25 min on 2 cores
    python experiments/03_which_term.py --seeds 1   # the notebook's draw only

Notebook 03, section 7, trains ORPO (NLL on the right answer + an odds-ratio preference term) on the policy's own
right-vs-wrong pairs and gains held-out accuracy. This script trains four losses on the same pairs, in the same
order, and meets the same held-out reference answers. Its recipe is the one notebook 03 used when the table was
first quoted: 3,000 prompts (about 1,500 pairs) at lr 3e-5 for NLL and ORPO. The notebook now trains on 1,500 prompts
at lr 1e-4 to fit its 5 minutes, and says that the script's setting differs:

    dpo   the preference term alone (lr 1e-5, as section 4)
    rpo   DPO + the chosen answers' NLL (TRL's loss_type=["sigmoid", "sft"]) (lr 1e-5)
    nll   the NLL on the chosen (right) answers alone: rejection-sampling fine-tuning (lr 3e-5, as ORPO)
    orpo  NLL + odds ratio (lr 3e-5)

For each: the gold win-rate against the reference (± its standard error over prompts), the paired held-out
accuracy gain over the reference (± SE), and the paired accuracy difference from "nll" on the same prompts and
sampling seeds: what the preference term adds to the supervised one.

Reference run, commit 0fce3ff (data/tiny-agent as rebuilt by issue 34), both draws, one thread beside two other
jobs, 2,047 s:
    training prompts seed 1: 1856 right-vs-wrong pairs from 3000 prompts
    loss      lr         win-rate     accuracy gain    minus nll only  time
    dpo    1e-05  0.401 ± 0.010  -0.151 ± 0.017                    162 s
    rpo    1e-05  0.508 ± 0.008  +0.036 ± 0.015                    217 s
    nll    3e-05  0.543 ± 0.008  +0.100 ± 0.016                    134 s
    orpo   3e-05  0.546 ± 0.008  +0.105 ± 0.016    +0.005 ± 0.014  254 s
    dpo minus nll only: -0.251 ± 0.017
    training prompts seed 11: 1834 right-vs-wrong pairs from 3000 prompts
    loss      lr         win-rate     accuracy gain    minus nll only  time
    dpo    1e-05  0.415 ± 0.009  -0.139 ± 0.018                    350 s
    rpo    1e-05  0.502 ± 0.008  +0.019 ± 0.015                    358 s
    nll    3e-05  0.543 ± 0.008  +0.092 ± 0.015                    136 s
    orpo   3e-05  0.541 ± 0.008  +0.094 ± 0.015    +0.002 ± 0.014  268 s
    dpo minus nll only: -0.232 ± 0.018
"""
import argparse
import copy
import time

import torch

from agentic_lab import load_model, preference
from agentic_lab import reward_model as rm_lib
from agentic_lab.eval import paired_gain
from agentic_lab.tasks import sample_tasks

RUNS = {"dpo": 1e-5, "rpo": 1e-5, "nll": 3e-5, "orpo": 3e-5}   # loss: learning rate; beta 0.1, 2 epochs for all


def main(seeds: list[int]) -> None:
    torch.manual_seed(0)
    reference, tokenizer = load_model()
    eval_tasks = sample_tasks("word_problem", 400, seed=2, split="test")   # notebook 03's held-out prompts
    reference_answers = rm_lib.sample_responses(reference, tokenizer, eval_tasks, n=4, seed=0)
    reference_accuracy = rm_lib.correct_share(eval_tasks, reference_answers)
    print(f"reference held-out sampled accuracy {sum(reference_accuracy) / len(eval_tasks):.3f} "
          f"(400 prompts, 4 samples each)")
    for seed in seeds:
        tasks = sample_tasks("word_problem", 3000, seed=seed, split="train")   # seed 1 is the notebook's draw
        pairs = rm_lib.right_wrong_pairs(reference, tokenizer, tasks, n=4, seed=0)
        print(f"\ntraining prompts seed {seed}: {len(pairs)} right-vs-wrong pairs from {len(tasks)} prompts")
        print(f"{'loss':5s} {'lr':>6s}  {'win-rate':>15s}  {'accuracy gain':>16s}  {'minus nll only':>16s}  time")
        accuracy = {}
        for loss, lr in RUNS.items():
            began = time.time()
            policy = copy.deepcopy(reference)
            preference.preference_train(loss, policy, reference if loss in ("dpo", "rpo") else None, tokenizer,
                                        [p.task.messages() for p in pairs], [p.chosen for p in pairs],
                                        [p.rejected for p in pairs], epochs=2, lr=lr, beta=0.1, seed=0,
                                        progress=False)
            answers = rm_lib.sample_responses(policy, tokenizer, eval_tasks, n=4, seed=0)
            rate, rate_se = rm_lib.gold_win_rate(eval_tasks, answers, reference_answers)
            accuracy[loss] = rm_lib.correct_share(eval_tasks, answers)
            gain, gain_se = paired_gain(reference_accuracy, accuracy[loss])
            versus = ""
            if "nll" in accuracy and loss != "nll":
                diff, diff_se = paired_gain(accuracy["nll"], accuracy[loss])
                versus = f"{diff:+.3f} ± {diff_se:.3f}"
            print(f"{loss:5s} {lr:6.0e}  {rate:.3f} ± {rate_se:.3f}  {gain:+.3f} ± {gain_se:.3f}  {versus:>16s}  "
                  f"{time.time() - began:.0f} s", flush=True)
        for loss in ("dpo",):   # dpo ran before nll: its difference from nll, now that nll exists
            diff, diff_se = paired_gain(accuracy["nll"], accuracy[loss])
            print(f"dpo minus nll only: {diff:+.3f} ± {diff_se:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 11], help="draws of training prompts")
    main(parser.parse_args().seeds)
