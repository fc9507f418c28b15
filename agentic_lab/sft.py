"""Supervised fine-tuning from scratch: next-token cross-entropy on the assistant's tokens only.

    L(θ) = - Σ_t m_t log π_θ(x_t | x_<t) / Σ_t m_t        m_t = 1 where the assistant wrote x_t

Prompts, tool outputs and padding have m_t = 0: the model learns to act, not to predict its inputs.
"""
from __future__ import annotations

import math
import random
import statistics
import time

import torch
from tqdm.auto import tqdm

from agentic_lab.tasks import Task
from agentic_lab.vision import IMAGE_MARK, expand_image_marks, pixel_inputs, to_pixels

IGNORE = -100  # the label value cross-entropy skips


def encode(tokenizer, task: Task) -> dict[str, list[int]]:
    """Token ids of prompt + reference solution, and labels that keep only the assistant's tokens."""
    return encode_messages(tokenizer, task.conversation(), task.tool_schemas())


def encode_messages(tokenizer, messages: list[dict], tools: list[dict] | None = None, images: list | None = None,
                    per_image: int | None = None) -> dict[str, list[int]]:
    """Token ids of a whole conversation (e.g. an expert's episode), and labels that keep only the assistant's tokens.
    A conversation that shows images (IMAGE_MARK in its messages, `images` in their order) has each mark made
    `per_image` placeholders (the model's `vision.patches_per_image`) and its images as "images"."""
    if images:
        marks = sum(str(m.get("content") or "").count(IMAGE_MARK) for m in messages)
        if marks != len(images):
            raise ValueError(f"{marks} {IMAGE_MARK} marks in a conversation that comes with {len(images)} images")
        messages = [{**m, "content": expand_image_marks(m["content"], m["content"].count(IMAGE_MARK), per_image)}
                    if isinstance(m.get("content"), str) else m for m in messages]
    enc = tokenizer.apply_chat_template(messages, tools=tools, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    example = {"input_ids": ids, "labels": [t if m else IGNORE for t, m in zip(ids, mask)]}
    return example | ({"images": [to_pixels(image) for image in images]} if images else {})


def collate(examples: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch: (B, T) input_ids, attention_mask and labels; and pixel_values (n, c, s, s), the images of
    examples that have them (e["images"], (c, s, s) each, in placeholder order: agentic_lab.vision)."""
    width = max(len(e["input_ids"]) for e in examples)
    def pad(seq, value):
        return seq + [value] * (width - len(seq))
    return {
        "input_ids": torch.tensor([pad(e["input_ids"], pad_id) for e in examples]),
        "attention_mask": torch.tensor([pad([1] * len(e["input_ids"]), 0) for e in examples]),
        "labels": torch.tensor([pad(e["labels"], IGNORE) for e in examples]),
        **pixel_inputs([e.get("images", []) for e in examples]),
    }


def cosine_lr(step: int, steps: int, peak: float, warmup: int, floor: float = 0.1) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def shuffled_batches(examples: list[dict], batch_size: int, rng: random.Random):
    """Endless batches in random order, lengths mixed. Fewer examples than a batch: every batch is all of them."""
    if not examples:
        raise ValueError("no examples to train on")
    batch_size = min(batch_size, len(examples))
    while True:
        order = list(range(len(examples)))
        rng.shuffle(order)
        for start in range(0, len(order) - batch_size + 1, batch_size):
            yield [examples[i] for i in order[start: start + batch_size]]


def micro_batches(examples: list[dict], size: int) -> list[list[dict]]:
    """The batch cut into micro-batches of `size` examples of similar length, so that each pads little."""
    ordered = sorted(examples, key=lambda e: len(e["input_ids"]))
    return [ordered[k: k + size] for k in range(0, len(ordered), size)]


def backward_batch(model, examples: list[dict], pad_id: int, micro_batch: int = 4) -> tuple[float, int]:
    """Accumulate the gradient of the batch's loss L(θ) (the mean over all its assistant tokens), one micro-batch
    at a time: each adds Σ_t m_t (-log π_θ) over its tokens, divided by the batch's Σ_t m_t, so the gradient is the
    one a single padded pass would give, and every assistant token of the batch weighs the same, whatever its
    example's length. Returns the loss and the number of tokens read (padding excluded)."""
    targets = sum(sum(label != IGNORE for label in e["labels"][1:]) for e in examples)  # labels shift by one
    loss_sum, tokens = 0.0, 0
    for chunk in micro_batches(examples, micro_batch):
        batch = collate(chunk, pad_id)
        labels = batch.pop("labels")
        logits = model(**batch).logits[:, :-1]                                     # (b, T-1, vocab)
        summed = torch.nn.functional.cross_entropy(logits.flatten(0, 1).float(), labels[:, 1:].flatten(),
                                                   ignore_index=IGNORE, reduction="sum")
        (summed / targets).backward()
        loss_sum, tokens = loss_sum + summed.item(), tokens + int(batch["attention_mask"].sum())
    return loss_sum / targets, tokens


def train_sft(model, examples: list[dict], steps: int, batch_size: int = 32, lr: float = 3e-3,
              warmup: int = 100, seed: int = 0, pad_id: int = 0, progress: bool = True,
              micro_batch: int = 4) -> list[dict]:
    """Plain PyTorch training loop. Returns one record per step: loss, learning rate, tokens/s.

    Batches mix lengths in random order and the loss is the mean over the batch's assistant tokens, so every token
    weighs the same and the model learns the data's own mixture. (Batches grouped by length would pad less, but a
    short example's tokens would then weigh more than a long one's, sharing a smaller denominator: where the data
    mixes short and long answers to the same prompt, the model would learn the short one more often than the data
    has it.) Micro-batches of similar length keep the padding small instead."""
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.0)
    batches = shuffled_batches(examples, batch_size, random.Random(seed))
    model.train()
    history = []
    bar = tqdm(range(steps), desc="sft", disable=not progress)
    for step in bar:
        t0 = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, lr, warmup)
        loss, tokens = backward_batch(model, next(batches), pad_id, micro_batch)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        history.append({"step": step, "loss": loss, "lr": group["lr"],
                        "tokens_per_s": tokens / (time.perf_counter() - t0)})
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss:.3f}")
    model.eval()
    return history


def train_on_episodes(model, trajectories: list, steps: int, lr: float, seed: int = 0, pad_id: int = 0) -> list[dict]:
    """Fine-tune on episodes the policy played itself and kept (expert iteration's improve step; ReST, STaR): each
    episode's own tokens as rollout's loss mask marks them, its prompt and observations as context only. `steps`
    batches of 32 at peak learning rate `lr`, no warm-up (the model is trained already)."""
    examples = [{"input_ids": t.token_ids, "labels": [i if m else IGNORE for i, m in zip(t.token_ids, t.loss_mask)]}
                for t in trajectories]
    return train_sft(model, examples, steps=steps, batch_size=32, lr=lr, warmup=0, seed=seed, pad_id=pad_id,
                     progress=False)


def run_summary(history: list[dict], seconds: float) -> dict:
    """What a model card reports of a training run: its time, its throughput past the first 10 steps (warm-up
    steps are slow) and its final loss, the mean of the last 50 steps."""
    return {"train_seconds": round(seconds),
            "mean_tokens_per_s": round(statistics.mean(h["tokens_per_s"] for h in history[min(10, len(history) - 1):])),
            "final_loss": round(statistics.mean(h["loss"] for h in history[-50:]), 4)}
