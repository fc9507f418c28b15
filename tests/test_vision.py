"""The tiny VLM (agentic_lab.vision): text unchanged, images enter only at their placeholders, saved and loaded."""
import pytest
import torch

from agentic_lab import load_model
from agentic_lab.vision import IMAGE_TOKEN, IMAGE_TOKEN_ID, TinyVLMForCausalLM, from_text_model


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    text, tokenizer = load_model()
    vlm = from_text_model(text)
    with torch.no_grad():  # a projection that is not zero, so images change what the model computes
        vlm.patch_position.normal_(std=0.02)
    return text, vlm.eval(), tokenizer


def test_the_placeholder_is_a_reserved_token_of_the_tokenizer():
    _, tokenizer = load_model()
    assert tokenizer.convert_tokens_to_ids(IMAGE_TOKEN) == IMAGE_TOKEN_ID


def test_text_alone_gives_the_text_models_logits(models):
    text, vlm, tokenizer = models
    ids = torch.tensor([tokenizer("Find the digit.", add_special_tokens=False)["input_ids"]])
    assert torch.allclose(vlm(ids).logits, text(ids).logits, atol=1e-6)


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
