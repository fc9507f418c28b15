"""Supervised fine-tuning: the batch's loss is the mean over all its assistant tokens, however it is cut up."""
import random

import pytest
import torch
from transformers import LlamaForCausalLM

from agentic_lab.models import tiny_config
from agentic_lab.sft import backward_batch, collate, encode, micro_batches, shuffled_batches
from agentic_lab.tasks import FAMILIES, sample_mixture
from agentic_lab.tokenizer import build_tokenizer


def test_micro_batches_give_the_gradient_of_one_padded_pass_over_the_whole_batch():
    """Every assistant token weighs the same, whichever micro-batch (and so whichever padding) it falls in:
    a long episode's tokens are not diluted and a short answer's are not inflated."""
    tokenizer = build_tokenizer()
    examples = [encode(tokenizer, t) for t in sample_mixture({f: 1 for f in FAMILIES}, 12, seed=0)]
    random.Random(0).shuffle(examples)
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_config())
    model(**collate(examples, tokenizer.pad_token_id)).loss.backward()   # Hugging Face's own loss, one pass
    reference = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    loss, tokens = backward_batch(model, examples, tokenizer.pad_token_id, micro_batch=5)
    for p, g in zip(model.parameters(), reference):
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-6)
    with torch.no_grad():
        assert abs(loss - model(**collate(examples, tokenizer.pad_token_id)).loss.item()) < 1e-4
    assert tokens == sum(len(e["input_ids"]) for e in examples)


def test_micro_batches_keep_every_example_once_and_group_similar_lengths():
    examples = [{"input_ids": [0] * n} for n in (9, 3, 7, 1, 5)]
    chunks = micro_batches(examples, 2)
    assert [[len(e["input_ids"]) for e in c] for c in chunks] == [[1, 3], [5, 7], [9]]


def test_fewer_examples_than_a_batch_make_batches_of_all_of_them_and_none_is_a_clear_error():
    """A STaR round that keeps fewer right answers than a batch once looped for ever looking for a full batch."""
    batches = shuffled_batches([{"i": i} for i in range(5)], 32, random.Random(0))
    assert [sorted(e["i"] for e in next(batches)) for _ in range(3)] == [list(range(5))] * 3
    with pytest.raises(ValueError, match="no examples"):
        next(shuffled_batches([], 32, random.Random(0)))
