"""A tiny vision-language model: the tiny decoder reading images through a patch projection (LLaVA's recipe).

    from agentic_lab.vision import TinyVLMForCausalLM, from_text_model
    vlm = from_text_model(text_model)            # the tiny model's weights, a new (untrained) patch projection
    out = vlm(input_ids, pixel_values=images)    # images: (n_images, channels, size, size), in placeholder order

An image enters the text as `patches_per_image` copies of one placeholder token; the model replaces their input
embeddings, in order, by the image's patches projected to the model's width plus a learned position per patch
(the decoder's RoPE sees only a 1-D run of placeholders). Everything else is the text model: same layers, same
KV cache, same generate. Registered with the Auto classes, so `load_model(folder)` loads a saved one.

How an image travels, from an environment to a gradient (what every engine piece does with one):

    environment   observation text with the mark "<image>" where an image goes; the image, a uint8 array
                  (size, size) or (size, size, channels), in info["images"], in the order of the marks
    rollout       each mark becomes `patches_per_image` placeholder tokens (`expand_image_marks`, what an HF
                  processor does with Qwen-VL's <|image_pad|>); a prefill passes the images whose placeholders
                  it feeds as pixel_values; the trajectory keeps each image with where its placeholders start
    update        each forward gets the images of the tokens it feeds (`images_in`), in placeholder order;
                  placeholders are observation tokens, out of the loss like any other
    viewer        each placeholder run is drawn as the image it stood for (`png_data_uri`)

A placeholder is an input only: its logit is held at -1e4, so no sampler (ours or `generate`) can write one,
which would need an image nobody has. The text model's logits are otherwise unchanged.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from agentic_lab.tokenizer import CHARACTERS, RESERVED_TOKENS, SPECIAL_TOKENS

# The image placeholder is the tokenizer's first reserved token (ids run special, characters, reserved), so the
# tokenizer, and every model already built on it, stays as it is.
IMAGE_TOKEN = RESERVED_TOKENS[0]
IMAGE_TOKEN_ID = len(SPECIAL_TOKENS) + len(CHARACTERS)
IMAGE_MARK = "<image>"      # where an environment's observation shows an image
BLOCKED_LOGIT = -1e4        # the placeholder's logit: exp(-1e4) is 0 in float32, and 0 · log 0 stays finite


class TinyVLMConfig(LlamaConfig):
    model_type = "tiny_vlm"

    def __init__(self, image_size: int = 32, patch_size: int = 8, channels: int = 1,
                 image_token_id: int = IMAGE_TOKEN_ID, **kwargs):
        self.image_size, self.patch_size, self.channels = image_size, patch_size, channels
        self.image_token_id = image_token_id
        super().__init__(**kwargs)

    @property
    def patches_per_image(self) -> int:
        return (self.image_size // self.patch_size) ** 2


class TinyVLMForCausalLM(LlamaForCausalLM):
    config_class = TinyVLMConfig

    def __init__(self, config: TinyVLMConfig):
        super().__init__(config)
        # LLaVA-1.5's projector: two layers with a GELU between
        self.patch_embed = nn.Sequential(nn.Linear(config.patch_size ** 2 * config.channels, config.hidden_size),
                                         nn.GELU(), nn.Linear(config.hidden_size, config.hidden_size))
        self.patch_position = nn.Parameter(torch.zeros(config.patches_per_image, config.hidden_size))
        self.post_init()
        # Positions start random (as GPT-2's), not zero: the decoder's RMSNorm divides out a patch embedding's scale,
        # so a uniform patch of brightness v, embedded as v·u, would read the same at every v; v·u + p_k does not.
        nn.init.normal_(self.patch_position, std=config.initializer_range)

    def patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(n, c, s, s) images -> (n * patches_per_image, hidden) embeddings, row-major patch order."""
        p, (n, c) = self.config.patch_size, pixel_values.shape[:2]
        grid = pixel_values.unfold(2, p, p).unfold(3, p, p)              # (n, c, s/p, s/p, p, p)
        flat = grid.permute(0, 2, 3, 1, 4, 5).reshape(n, -1, c * p * p)   # (n, patches, c·p·p)
        return (self.patch_embed(flat) + self.patch_position).reshape(-1, self.config.hidden_size)

    def forward(self, input_ids=None, pixel_values=None, inputs_embeds=None, labels=None, **kwargs):
        if inputs_embeds is None and input_ids is not None:
            inputs_embeds = self.get_input_embeddings()(input_ids)
            slots = input_ids == self.config.image_token_id              # (batch, seq)
            if pixel_values is not None:
                found, given = int(slots.sum()), len(pixel_values) * self.config.patches_per_image
                if found != given:
                    raise ValueError(f"{found} image placeholders for {len(pixel_values)} images ({given} patches)")
                patches = self.patches(pixel_values.to(inputs_embeds.dtype))
                inputs_embeds = inputs_embeds.masked_scatter(slots.unsqueeze(-1), patches)
            elif slots.any():
                raise ValueError("image placeholders without pixel_values")
        out = super().forward(input_ids=None, inputs_embeds=inputs_embeds, **kwargs)
        blocked = torch.tensor([self.config.image_token_id], device=out.logits.device)
        out.logits = out.logits.index_fill(-1, blocked, BLOCKED_LOGIT)        # an input only, never written
        if labels is not None:
            out.loss = self.loss_function(logits=out.logits, labels=labels, vocab_size=self.config.vocab_size)
        return out


AutoConfig.register("tiny_vlm", TinyVLMConfig)
AutoModelForCausalLM.register(TinyVLMConfig, TinyVLMForCausalLM)


def from_text_model(text_model: LlamaForCausalLM, image_size: int = 32, patch_size: int = 8, channels: int = 1,
                    image_token_id: int = IMAGE_TOKEN_ID) -> TinyVLMForCausalLM:
    """The text model's weights under a TinyVLM, with a freshly initialised patch projection and positions."""
    config = TinyVLMConfig(image_size=image_size, patch_size=patch_size, channels=channels,
                           image_token_id=image_token_id, **text_model.config.to_diff_dict())
    vlm = TinyVLMForCausalLM(config)
    missing, unexpected = vlm.load_state_dict(text_model.state_dict(), strict=False)
    if unexpected or any(not (name.startswith("patch_embed.") or name == "patch_position") for name in missing):
        raise ValueError(f"not a Llama-shaped text model: missing {missing}, unexpected {unexpected}")
    return vlm


def freeze_patch_projector(model: TinyVLMForCausalLM) -> TinyVLMForCausalLM:
    """Keep the eyes as they are: the patch projector and positions, all the tiny VLM has for a vision tower, get no
    gradient, so RL trains only the decoder (what EasyR1's and LLaMA-Factory's `freeze_vision_tower` does for a real
    vision tower). Notebook 13: trained, RL's noisy gradient on these few
    weights degraded reading a crop. For transformers' Qwen2.5-VL: `model.model.visual.requires_grad_(False)`."""
    model.patch_embed.requires_grad_(False)
    model.patch_position.requires_grad_(False)
    return model


def patches_per_image(model) -> int | None:
    """How many placeholder tokens stand for one image in `model`'s input; None for a model that reads no images."""
    return getattr(model.config, "patches_per_image", None)


def expand_image_marks(text: str, n_images: int, per_image: int | None) -> str:
    """`text` with each IMAGE_MARK replaced by `per_image` placeholder tokens; checks it has one mark per image.
    Text that only *says* "<image>" or the placeholder token, in an observation that shows no image (a model's tool
    name echoed in an error), is kept as text a little changed, so that it can never stand for a missing image."""
    text = text.replace(IMAGE_TOKEN, IMAGE_TOKEN.replace("|", " | "))   # written out, not a placeholder
    if n_images == 0:
        text = text.replace(IMAGE_MARK, IMAGE_MARK.replace(">", "?>"))
    marks = text.count(IMAGE_MARK)
    if marks != n_images:
        raise ValueError(f"{marks} {IMAGE_MARK} marks in an observation that comes with {n_images} images")
    if marks and per_image is None:
        raise ValueError("this environment shows images: play it with a model that reads them (agentic_lab.vision)")
    return text.replace(IMAGE_MARK, IMAGE_TOKEN * (per_image or 0))


def to_pixels(image) -> torch.Tensor:
    """A uint8 image, (size, size) or (size, size, channels), array or nested lists -> (channels, size, size) floats
    in [0, 1]."""
    x = torch.as_tensor(np.asarray(image, dtype=np.uint8), dtype=torch.float32) / 255
    return x[None] if x.dim() == 2 else x.permute(2, 0, 1)


def image_starts(ids: list[int], per_image: int) -> list[int]:
    """Where each image's run of placeholders starts in `ids` (the runs are per_image long, one after another)."""
    starts = [k for k, token in enumerate(ids) if token == IMAGE_TOKEN_ID]
    if len(starts) % per_image:
        raise ValueError(f"{len(starts)} placeholders is not a whole number of images of {per_image}")
    return starts[::per_image]


def images_in(images: list[tuple[int, torch.Tensor]], start: int, end: int) -> list[torch.Tensor]:
    """The images, (position of the first placeholder, pixels) in order, whose placeholders start in [start, end)."""
    return [pixels for at, pixels in images if start <= at < end]


def pixel_inputs(rows: list[list[torch.Tensor]]) -> dict:
    """The pixel_values keyword of a forward whose rows hold these images, in placeholder order: {} without any."""
    flat = [pixels for row in rows for pixels in row]
    return {"pixel_values": torch.stack(flat)} if flat else {}


def png_data_uri(image) -> str:
    """An image (uint8 array or nested lists) as a data: URI of a PNG, for the viewer."""
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
