"""Training throughput of the tiny model, as model-FLOPs utilisation (MFU) of this machine's measured peak.

    python benchmarks/train_throughput.py [--seconds 20] [--no-compile]

Baseline, measured in the same run: the practical peak of this CPU, the best FLOP/s of large square
float32 matmuls (and, for comparison, matmuls at the model's own shapes). Then the real SFT step of
`agentic_lab.sft` (same data, same loss, micro-batches of 4) in a few configurations: batch size, fused AdamW, bfloat16 autocast,
torch.compile (one dynamic-shape graph). Model FLOPs per token count the
6N rule (forward + backward through every weight) plus attention, 12·L·T·d (QKᵀ and AV, forward and
backward, for sequence length T, full square as in PaLM's accounting).
"""
from __future__ import annotations

import argparse
import random
import time

import torch
from transformers import LlamaForCausalLM

from agentic_lab.models import count_parameters, tiny_config
from agentic_lab.sft import backward_batch, encode, shuffled_batches
from agentic_lab.tasks import FAMILIES, sample_mixture
from agentic_lab.tokenizer import build_tokenizer


def matmul_flops(m: int, k: int, n: int, seconds: float = 1.0, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of an (m×k)·(k×n) matmul, best of repeated timings."""
    a, b = torch.randn(m, k, dtype=dtype), torch.randn(k, n, dtype=dtype)
    for _ in range(3):
        a @ b
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * m * k * n / (time.perf_counter() - t0))
    return best


def train_rate(batches, seconds: float, step_fn, warmup: int = 3) -> tuple[float, float, float]:
    """Real tokens/s and mean sequence length over timed steps (`step_fn(batch)` returns the tokens it read), and
    the seconds the `warmup` steps before them took."""
    start = time.perf_counter()
    for _ in range(warmup):
        step_fn(next(batches))
    warmup_seconds = time.perf_counter() - start
    tokens, lengths, t0 = 0, [], time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        batch = next(batches)
        tokens += step_fn(batch)
        lengths += [len(e["input_ids"]) for e in batch]
    return tokens / (time.perf_counter() - t0), sum(lengths) / len(lengths), warmup_seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="timed seconds per configuration")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile configuration")
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    peak = max(matmul_flops(n, n, n) for n in (512, 1024, 2048))
    print(f"peak (best square float32 matmul): {peak / 1e9:.1f} GFLOP/s")
    bf16_peak = max(matmul_flops(n, n, n, dtype=torch.bfloat16) for n in (512, 1024, 2048))
    print(f"  bfloat16 (AMX where the CPU has it): {bf16_peak / 1e9:.1f} GFLOP/s; MFU below is of the float32 peak")
    config = tiny_config()
    d, ff, v, rows = config.hidden_size, config.intermediate_size, config.vocab_size, 32 * 110
    for name, (m, k, n) in {"attention projection": (rows, d, d), "MLP up": (rows, d, ff),
                            "MLP down": (rows, ff, d), "LM head": (rows, d, v)}.items():
        print(f"  at model shape {name:20s} ({m}x{k})·({k}x{n}): {matmul_flops(m, k, n, 0.5) / 1e9:6.1f} GFLOP/s")

    tokenizer = build_tokenizer()
    examples = [encode(tokenizer, t) for t in sample_mixture({f: 1 for f in FAMILIES}, 20_000, seed=0)]
    n_params = count_parameters(LlamaForCausalLM(config))

    def measure(label: str, batch_size: int, compile_model: bool = False, fused: bool = False,
                bf16: bool = False) -> float:
        torch.manual_seed(0)
        model = LlamaForCausalLM(tiny_config()).train()
        # dynamic=True: one graph for every micro-batch length (there are dozens; a static graph per length
        # recompiled inside the timed steps, which is what measured 13.5% before)
        forward = torch.compile(model, dynamic=True) if compile_model else model
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused)

        def step(batch) -> int:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                _, tokens = backward_batch(forward, batch, tokenizer.pad_token_id)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return tokens

        batches = shuffled_batches(examples, batch_size, random.Random(0))
        # a compiled step keeps compiling over its first dozens of steps (new lengths, then a dynamic graph)
        warmup = 40 if compile_model else 3
        tokens_per_s, seq_len, warmup_seconds = train_rate(batches, args.seconds, step, warmup)
        flops_per_token = 6 * n_params + 12 * config.num_hidden_layers * seq_len * config.hidden_size
        mfu = tokens_per_s * flops_per_token / peak
        print(f"{label:44s} {tokens_per_s:8,.0f} tokens/s  {tokens_per_s * flops_per_token / 1e9:6.1f} GFLOP/s"
              f"  MFU {mfu:.1%}  (warm-up {warmup_seconds:.0f} s)")
        return mfu

    results = {
        "plain loop, batch 32 (as data/build_tiny_model.py)": measure("plain loop, batch 32", 32),
        "batch 64": measure("plain loop, batch 64", 64),
        "batch 64, fused AdamW": measure("batch 64, fused AdamW", 64, fused=True),
        "batch 64, bfloat16 autocast": measure("batch 64, bfloat16 autocast", 64, bf16=True),
    }
    if not args.no_compile:
        try:
            results["torch.compile, batch 64"] = measure("torch.compile, batch 64, fused AdamW", 64, True, True)
        except Exception as e:  # noqa: BLE001 - a missing compiler toolchain should not end the benchmark
            print(f"torch.compile unavailable: {str(e).splitlines()[0][:120]}")
    best = max(results, key=results.get)
    print(f"best: {best}")
    print(f"RESULT train_mfu {results[best]:.3f}")


if __name__ == "__main__":
    main()
