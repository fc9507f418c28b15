"""Grouped-query attention at the tiny model's shape: how much faster does a turn decode with fewer key/value heads?

    python benchmarks/kv_heads.py [--rows 64] [--new-tokens 48] [--repeats 5] [--threads 1]

Decoding is memory-bound on the cached keys and values: each new token reads the whole K/V of its row, 2 · L · T ·
h_kv · d_head floats for L layers and context T. With h_kv key/value heads shared by the 6 query heads (transformers'
Llama, `num_key_value_heads`), that read shrinks by 6 / h_kv while the query side stays. Baseline, measured in the
same run: the shipped shape, 6 key/value heads. For each shape, `rollout.generate_turn` (the engine every notebook
samples with) writes `--new-tokens` tokens for `--rows` contexts of T tokens, T = 200 (a short episode) and 800 (a
long one near the 1,024 positions); randomly initialised weights (speed does not depend on them) and no stop token, so
every shape does the same work. The shapes take turns, best of `--repeats`; prefill is timed alone and taken out.
Last line: decoding at 2 key/value heads over 6, at T = 800.
"""
from __future__ import annotations

import argparse
import time

import torch
from transformers import LlamaForCausalLM

from agentic_lab.models import count_parameters, tiny_config
from agentic_lab.rollout import generate_turn

KV_HEADS, CONTEXTS = (6, 3, 2), (200, 800)


def model_with(kv_heads: int) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = tiny_config()
    config.num_key_value_heads = kv_heads
    return LlamaForCausalLM(config).eval()


def seconds(model, contexts: list[list[int]], new_tokens: int) -> float:
    start = time.perf_counter()
    generate_turn(model, contexts, None, 0, [-1], new_tokens, 1.0, torch.Generator().manual_seed(0))  # -1: never stops
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    models = {kv: model_with(kv) for kv in KV_HEADS}
    print(f"torch threads {torch.get_num_threads()}; {args.rows} rows, {args.new_tokens} new tokens each")
    for kv, model in models.items():
        print(f"  {kv} key/value heads: {count_parameters(model):,} parameters")
    decode_ms: dict[tuple[int, int], float] = {}
    for width in CONTEXTS:
        contexts = [torch.randint(3, 100, (width,), generator=torch.Generator().manual_seed(r)).tolist()
                    for r in range(args.rows)]
        total = {kv: float("inf") for kv in KV_HEADS}
        prefill = dict(total)
        for _ in range(args.repeats):  # the shapes take turns: a slow moment of the machine hits them all
            for kv, model in models.items():
                total[kv] = min(total[kv], seconds(model, contexts, args.new_tokens))
                prefill[kv] = min(prefill[kv], seconds(model, contexts, 1))
        print(f"T = {width}:")
        for kv in KV_HEADS:
            decode_ms[kv, width] = (total[kv] - prefill[kv]) / (args.new_tokens - 1) * 1000
            print(f"  {kv} key/value heads: prefill {prefill[kv]:.2f} s, decode {decode_ms[kv, width]:.1f} ms per "
                  f"step of {args.rows} rows ({decode_ms[6, width] / decode_ms[kv, width]:.2f}x the 6-head shape)")
    print(f"RESULT kv2_decode_speedup_at_800 {decode_ms[6, 800] / decode_ms[2, 800]:.2f}")


if __name__ == "__main__":
    main()
