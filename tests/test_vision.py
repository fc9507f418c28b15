"""The tiny VLM (agentic_lab.vision): text unchanged, images enter only at their placeholders, saved and loaded; and
the engine's image path: rollout, trajectory, update and SFT with a model that reads images."""
import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

import agentic_lab.envs  # noqa: F401 - registers the environments
from agentic_lab import load_model
from agentic_lab.perception import LookEnv, cell_box, demonstration, glance
from agentic_lab.policy_gradient import batch_logits, collate_trajectories, next_token_logprobs
from agentic_lab.rl import RLConfig, grpo_train
from agentic_lab.rollout import group_seeds, rollout
from agentic_lab.sft import collate, encode_messages
from agentic_lab.trajectory import load_trajectories, save_trajectories, split_contexts
from agentic_lab.vision import (BLOCKED_LOGIT, IMAGE_TOKEN, IMAGE_TOKEN_ID, TinyVLMForCausalLM, freeze_patch_projector,
                                from_text_model)


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    text, tokenizer = load_model()
    return text, from_text_model(text).eval(), tokenizer


def test_the_placeholder_is_a_reserved_token_of_the_tokenizer():
    _, tokenizer = load_model()
    assert tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) == IMAGE_TOKEN_ID


def test_text_alone_gives_the_text_models_logits_but_never_a_placeholder(models):
    text, vlm, tokenizer = models
    ids = torch.tensor([tokenizer("Find the digit.", add_special_tokens=False)["input_ids"]])
    ours, theirs = vlm(ids).logits, text(ids).logits
    others = [k for k in range(ours.shape[-1]) if k != IMAGE_TOKEN_ID]
    assert torch.allclose(ours[..., others], theirs[..., others], atol=1e-6)
    assert (ours[..., IMAGE_TOKEN_ID] == BLOCKED_LOGIT).all()          # an input only: no sampler can write one
    assert torch.log_softmax(ours, -1)[..., IMAGE_TOKEN_ID].exp().max() == 0


def test_an_image_changes_only_what_comes_after_its_placeholders(models):
    _, vlm, tokenizer = models
    words = tokenizer("look", add_special_tokens=False)["input_ids"]
    slots = [IMAGE_TOKEN_ID] * vlm.config.patches_per_image
    ids = torch.tensor([words + slots + words + slots + words])
    images = torch.rand(2, vlm.config.channels, vlm.config.image_size, vlm.config.image_size)
    changed = images.clone()
    changed[1, :, :8, :8] += 1.0  # the second image's first patch
    a, b = vlm(ids, pixel_values=images).logits[0], vlm(ids, pixel_values=changed).logits[0]
    second = 2 * len(words) + len(slots)  # where the second image's placeholders start
    assert torch.allclose(a[:second], b[:second]) and not torch.allclose(a[second:], b[second:])


def test_placeholders_and_images_must_agree(models):
    _, vlm, _ = models
    slots = torch.tensor([[IMAGE_TOKEN_ID] * vlm.config.patches_per_image])
    image = torch.rand(1, vlm.config.channels, vlm.config.image_size, vlm.config.image_size)
    with pytest.raises(ValueError, match="without pixel_values"):
        vlm(slots)
    with pytest.raises(ValueError, match="placeholders for 2 images"):
        vlm(slots, pixel_values=torch.cat([image, image]))


def test_a_saved_vlm_loads_back_through_load_model(models, tmp_path):
    _, vlm, tokenizer = models
    vlm.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    back, _ = load_model(tmp_path)
    ids = torch.tensor([[IMAGE_TOKEN_ID] * vlm.config.patches_per_image + [5, 6]])
    image = torch.rand(1, vlm.config.channels, vlm.config.image_size, vlm.config.image_size)
    assert isinstance(back, TinyVLMForCausalLM)
    assert torch.allclose(back(ids, pixel_values=image).logits, vlm(ids, pixel_values=image).logits, atol=1e-6)


# --- the engine's image path: rollout, trajectory, update and SFT with a model that reads images -----------------
class CropsFirst(LookEnv):
    """Look-v0 whatever the model writes: the first turn crops the digit's cell, the second answers "8", so an
    untrained model's episodes have two images and two turns."""

    def step(self, action):
        x0, y0, x1, y1 = cell_box(*self.position)
        scripted = (f'<tool_call>{{"name": "crop", "arguments": {{"x0": {x0}, "y0": {y0}, "x1": {x1}, "y1": {y1}}}}}'
                    '</tool_call>' if self.turns == 0 else "<answer>8</answer>")
        return super().step(scripted)


def play(vlm, tokenizer, temperature=1.0, **kwargs):
    envs = [CropsFirst() for _ in range(6)]
    return rollout(vlm, tokenizer, envs, group_seeds(2, 3), temperature=temperature, max_new_tokens=8, seed=1, **kwargs)


def test_a_rollout_keeps_each_image_where_its_placeholders_are(models):
    _, vlm, tokenizer = models
    trajectories = play(vlm, tokenizer)
    n = vlm.config.patches_per_image
    for t in trajectories:
        assert len(t.images) == 2
        assert all(t.token_ids[i["start"]:i["start"] + n] == [IMAGE_TOKEN_ID] * n for i in t.images)
        assert t.token_ids.count(IMAGE_TOKEN_ID) == 2 * n and sum(t.loss_mask[i["start"]] for i in t.images) == 0
        env = LookEnv()
        env.reset(seed=t.seed)
        assert t.images[0]["pixels"] == glance(env.scene).tolist()


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_kept_caches_give_the_same_episodes_with_images(models, temperature):
    _, vlm, tokenizer = models
    kept, fresh = (play(vlm, tokenizer, temperature, reuse_cache=reuse) for reuse in (True, False))
    assert [t.token_ids for t in kept] == [t.token_ids for t in fresh]
    assert np.allclose([lp for t in kept for lp in t.logprobs], [lp for t in fresh for lp in t.logprobs], atol=1e-4)


def test_the_update_sees_what_the_sampler_saw(models):
    """π_old from the trainer's forward (each group's prompt and first image forwarded once) equals the sampler's
    log-probs, and equals a plain forward of every row."""
    _, vlm, tokenizer = models
    trajectories = play(vlm, tokenizer)
    batch = collate_trajectories(trajectories, tokenizer.pad_token_id, group_size=3)
    assert int(batch["prefix_length"].min()) > 0
    with torch.no_grad():
        shared = next_token_logprobs(batch_logits(vlm, batch), batch["input_ids"])[0]
        plain = next_token_logprobs(batch_logits(vlm, {k: v for k, v in batch.items() if k != "prefix_length"}),
                                    batch["input_ids"])[0]
    written = batch["loss_mask"]
    assert ((shared - batch["sampler_logprobs"]).abs() * written).max() < 1e-4
    # Before a placeholder the log-prob is about −10,000 (its logit is held down), where one float32 step is 1e-3:
    # the tolerance there is relative.
    read = batch["attention_mask"][:, 1:].bool()
    torch.testing.assert_close(shared[read], plain[read], atol=1e-4, rtol=1e-5)


def test_a_group_shares_no_image_its_members_saw_differently(models):
    _, vlm, tokenizer = models
    a, b = play(vlm, tokenizer)[:2]
    b.images[1] = {**b.images[1], "pixels": np.zeros((32, 32), dtype=np.uint8).tolist()}   # same tokens, other pixels
    batch = collate_trajectories([a, b], tokenizer.pad_token_id, group_size=2)
    assert int(batch["prefix_length"][0]) <= b.images[1]["start"]


def test_trajectories_with_images_save_load_and_split(models, tmp_path):
    _, vlm, tokenizer = models
    trajectories = play(vlm, tokenizer)
    assert load_trajectories(save_trajectories(trajectories, tmp_path / "run.jsonl")) == trajectories
    fresh = play(vlm, tokenizer, keep_history=False)
    rows = [row for t in fresh for row in split_contexts(t)]
    assert all(len(row.images) == 1 and row.token_ids[row.images[0]["start"]] == IMAGE_TOKEN_ID for row in rows)
    batch = collate_trajectories(rows, tokenizer.pad_token_id)
    with torch.no_grad():
        logprobs = next_token_logprobs(batch_logits(vlm, batch), batch["input_ids"])[0]
    assert ((logprobs - batch["sampler_logprobs"]).abs() * batch["loss_mask"]).max() < 1e-4


def test_a_model_that_reads_no_images_is_told_so():
    text, tokenizer = load_model()
    with pytest.raises(ValueError, match="play it with a model that reads them"):
        rollout(text, tokenizer, [gym.make("agentic_lab/Look-v0")], [0])


def test_supervised_fine_tuning_reaches_the_patch_projection(models):
    _, vlm, tokenizer = models
    examples = [encode_messages(tokenizer, *demonstration(seed, look=seed % 2 == 0), vlm.config.patches_per_image)
                for seed in range(4)]
    assert [len(e["images"]) for e in examples] == [2, 1, 2, 1]
    batch = collate(examples, tokenizer.pad_token_id)
    assert batch["pixel_values"].shape == (6, 1, 32, 32)
    assert all(label == -100 for e in examples for token, label in zip(e["input_ids"], e["labels"])
               if token == IMAGE_TOKEN_ID)
    vlm.zero_grad()
    vlm(**batch).loss.backward()
    assert vlm.patch_embed[0].weight.grad.abs().sum() > 0
    vlm.zero_grad()


def test_a_frozen_vision_tower_keeps_its_weights_through_an_rl_step(models):
    _, vlm, tokenizer = models
    policy = freeze_patch_projector(copy.deepcopy(vlm))
    grpo_train(policy, tokenizer, lambda: gym.make("agentic_lab/Look-v0"), 1,
               RLConfig(n_groups=2, group_size=4, lr=1e-2, max_new_tokens=8),
               reward_fn=lambda t: float(len(t.turns)), progress=False)
    for name, before in vlm.state_dict().items():
        after = policy.state_dict()[name]
        assert torch.equal(before, after) == name.startswith(("patch_embed.", "patch_position")), name


def test_text_that_only_says_image_is_kept_as_text():
    """A tool named "<image>" is echoed in the error observation, which shows no image: the rollout must not look
    for one (it raised, ending the GRPO run), nor may a written-out placeholder token reach the model as one."""
    from agentic_lab.vision import IMAGE_MARK, expand_image_marks
    for echoed in ("Error: no tool '<image>' here.", f"Error: no tool '{IMAGE_TOKEN}' here."):
        text = expand_image_marks(echoed, 0, 4)
        assert IMAGE_MARK not in text and IMAGE_TOKEN not in text and text.startswith("Error: no tool")
    assert expand_image_marks(f"look: {IMAGE_MARK}", 1, 2) == f"look: {IMAGE_TOKEN * 2}"
    with pytest.raises(ValueError):
        expand_image_marks(f"{IMAGE_MARK} {IMAGE_MARK}", 1, 2)
