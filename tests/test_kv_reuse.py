"""KV reuse across turns is exact: the trajectories are those of re-prefilling every history, for any causal LM.

Three models go through the same code: the shipped tiny model, and two randomly initialised Hugging Face
architectures saved to a temporary folder and loaded by path (no download): Llama (RoPE, grouped-query
attention) and GPT-2 (learned absolute positions, fused QKV). The random ones stop on any of a dozen
tokens, so messages end at different steps and rows leave the batch mid-turn.
"""
import gymnasium as gym
import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model
from agentic_lab.policy_gradient import batch_logits, collate_trajectories
from agentic_lab.rollout import rollout
from agentic_lab.tokenizer import VOCAB_SIZE, build_tokenizer
from agentic_lab.trajectory import mask_runs

RANDOM_CONFIGS = {
    "llama": lambda: LlamaForCausalLM(LlamaConfig(
        vocab_size=VOCAB_SIZE, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, pad_token_id=0, eos_token_id=1, bos_token_id=None)),
    "gpt2": lambda: GPT2LMHeadModel(GPT2Config(
        vocab_size=VOCAB_SIZE, n_embd=64, n_layer=2, n_head=4, n_positions=1024, pad_token_id=0, eos_token_id=1,
        bos_token_id=None)),
}


@pytest.fixture(scope="module")
def models(tiny, tmp_path_factory):
    loaded = {"tiny": tiny}
    for name, build in RANDOM_CONFIGS.items():
        torch.manual_seed(0)
        folder = tmp_path_factory.mktemp(name)
        build().save_pretrained(folder)
        build_tokenizer().save_pretrained(folder)
        model, tokenizer = load_model(folder)
        model.generation_config.eos_token_id = list(range(1, 13))  # stop tokens: <|end|>, roles, actions
        loaded[name] = (model, tokenizer)
    return loaded


def play(model, tokenizer, temperature: float, reuse_cache: bool, seed: int = 0):
    """Twelve episodes of three environments: prompts of different lengths, episodes of 1 to 5 turns."""
    envs = [gym.make("agentic_lab/KeyDoor-v0", max_turns=5) for _ in range(4)] + \
           [gym.make("agentic_lab/Calculator-v0") for _ in range(4)] + \
           [gym.make("agentic_lab/SearchQA-v0") for _ in range(4)]
    return rollout(model, tokenizer, envs, seeds=list(range(12)), temperature=temperature, max_new_tokens=24,
                   seed=seed, reuse_cache=reuse_cache)


@pytest.mark.parametrize("name", ["tiny", "llama", "gpt2"])
def test_reuse_gives_the_trajectories_of_reprefilling(models, name, one_thread):
    model, tokenizer = models[name]
    for temperature in (0.0, 1.0):
        reused, fresh = play(model, tokenizer, temperature, True), play(model, tokenizer, temperature, False)
        assert [t.token_ids for t in reused] == [t.token_ids for t in fresh]
        assert [t.loss_mask for t in reused] == [t.loss_mask for t in fresh]
        # Cached attention and a re-prefill add in different orders, so float32 rounding differs, and more on larger
        # log-probs (−4 differed by 1.2e-4 on one CPU): the gap is relative. A wrong position or mask moves tenths.
        gap = max(abs(a - b) / (1 + abs(b)) for r, f in zip(reused, fresh) for a, b in zip(r.logprobs, f.logprobs))
        assert gap < 1e-4, f"{name}, T={temperature}: log-probs differ by {gap} of (1 + |log-prob|)"
    # What the comparison covered: several turns, and messages of different lengths within a turn
    assert max(len(t.turns) for t in reused) >= 3
    first_messages = {next(b - a for value, a, b in mask_runs(t.loss_mask) if value == 1) for t in reused}
    assert len(first_messages) > 1


def test_a_later_turn_prefills_only_the_tokens_appended_since(models, one_thread):
    model, tokenizer = models["tiny"]
    widths = []
    forward = model.forward

    def recording_forward(*args, **kwargs):
        if kwargs["input_ids"].shape[1] > 1:     # a prefill (decoding feeds one token per row)
            widths.append(kwargs["input_ids"].shape[1])
        return forward(*args, **kwargs)

    model.forward = recording_forward
    try:
        trajectories = play(model, tokenizer, 1.0, True)
    finally:
        del model.forward
    runs = [[b - a for value, a, b in mask_runs(t.loss_mask) if value == 0] for t in trajectories]
    prompt, observation = max(r[0] for r in runs), max(n for r in runs for n in r[1:])
    assert len(widths) >= 3 and widths[0] == prompt
    # the last sampled token (not fed yet when its message stopped) and the observation after it
    assert all(width <= 1 + observation for width in widths[1:]), (widths, observation)


@pytest.mark.parametrize("name", ["tiny", "llama", "gpt2"])
def test_recorded_logprobs_are_those_of_one_forward_over_the_whole_episode(models, name, one_thread):
    """An independent check of everything the engine does with caches (a group's prompt prefilled once and
    copied, caches kept across turns, rows leaving mid-turn): the log-prob it recorded for each sampled token
    is the one a single forward over the finished episode gives."""
    model, tokenizer = models[name]
    seeds = [3] * 4 + [4] * 4                                     # two groups of four
    envs = [gym.make("agentic_lab/KeyDoor-v0", max_turns=4) for _ in seeds]
    trajectories = rollout(model, tokenizer, envs, seeds, temperature=1.0, max_new_tokens=24, seed=1)
    assert len({tuple(t.token_ids) for t in trajectories[:4]}) > 1   # the members did diverge
    for t in trajectories:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([t.token_ids])).logits[0, :-1]     # predicts tokens 1..T-1
        logp = torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(t.token_ids[1:])[:, None]).squeeze(1)
        sampled = torch.tensor(t.loss_mask[1:], dtype=torch.bool)
        gap = (logp[sampled] - torch.tensor(t.logprobs[1:])[sampled]).abs().max().item()
        assert gap < 1e-4, f"{name}: recorded log-probs differ from a full forward by {gap}"


def assert_batch_logits_equal_one_forward(model, batch: dict, name: str) -> None:
    """`batch_logits` against one plain forward over every row of `batch`: the same logits on every real token and
    the same gradients of a loss that reads every logit."""
    real = batch["attention_mask"].bool()
    weights = torch.randn(batch["input_ids"].shape + (VOCAB_SIZE,))
    results = []
    for logits_of in (lambda: model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits,
                      lambda: batch_logits(model, batch)):
        model.zero_grad()
        logits = logits_of()[..., :VOCAB_SIZE]
        (logits * weights * real[..., None]).sum().backward()
        results.append((logits.detach()[real], [p.grad.clone() for p in model.parameters()]))
    (plain, plain_grads), (ours, our_grads) = results
    assert (plain - ours).abs().max() < 1e-4, name
    for a, b in zip(plain_grads, our_grads):
        assert (a - b).abs().max() <= 1e-4 * (1 + a.abs().max()), name
    model.zero_grad()


@pytest.mark.parametrize("name", ["tiny", "llama", "gpt2"])
def test_a_groups_shared_prefix_forwarded_once_gives_the_logits_and_gradients_of_one_forward(models, name,
                                                                                             one_thread):
    """`batch_logits` on a grouped batch (each group's common prefix forwarded once, its keys and values repeated
    for the rows) against one plain forward over every row: same logits on every real token, same gradients.
    Two groups of four KeyDoor episodes (several turns, different lengths; one group's prompt is longer) and a
    group whose members share more than the prompt (greedy: identical first turns)."""
    model, tokenizer = models[name]
    sampled = rollout(model, tokenizer, [gym.make("agentic_lab/KeyDoor-v0", max_turns=4) for _ in range(8)],
                      [3] * 4 + [4] * 4, temperature=1.0, max_new_tokens=24, seed=1)
    greedy = rollout(model, tokenizer, [gym.make("agentic_lab/Calculator-v0") for _ in range(4)], [5] * 4,
                     temperature=0.0, max_new_tokens=24, seed=1)
    for trajectories in (sampled, sampled[:4] + greedy):
        batch = collate_trajectories(trajectories, tokenizer.pad_token_id, group_size=4)
        assert batch["prefix_length"].min() > 0
        assert_batch_logits_equal_one_forward(model, batch, name)


@pytest.mark.parametrize("name", ["tiny", "llama", "gpt2"])
def test_rows_forwarded_by_length_give_the_logits_and_gradients_of_one_forward(models, name, one_thread,
                                                                              monkeypatch):
    """`batch_logits` on rows that share no prefix (one row per turn, played with a fresh context each turn) sorts
    them by length and forwards a few at a time, each forward cut to its longest row: against one plain forward
    over every row, the same logits on every real token and the same gradients, the rows in the batch's order."""
    import agentic_lab.policy_gradient as policy_gradient
    from agentic_lab.rl import collate_rows
    model, tokenizer = models[name]
    episodes = rollout(model, tokenizer, [gym.make("agentic_lab/KeyDoor-v0", max_turns=4) for _ in range(4)],
                       [3, 4, 5, 6], temperature=1.0, max_new_tokens=24, seed=1, keep_history=False)
    batch, rows_per_episode = collate_rows(episodes, tokenizer.pad_token_id, group_size=4)
    lengths = batch["attention_mask"].sum(1)
    assert "prefix_length" not in batch and rows_per_episode.sum() > 4 and len(set(lengths.tolist())) > 2
    monkeypatch.setattr(policy_gradient, "ROWS_PER_FORWARD", 3)        # several forwards of several widths
    assert_batch_logits_equal_one_forward(model, batch, name)
