"""A tiny vision-language model: the tiny decoder reading images through a patch projection (LLaVA's recipe).

    from agentic_lab.vision import TinyVLMForCausalLM, from_text_model
    vlm = from_text_model(text_model)            # the tiny model's weights, a new (untrained) patch projection
    out = vlm(input_ids, pixel_values=images)    # images: (n_images, channels, size, size), in placeholder order

An image enters the text as `patches_per_image` copies of one placeholder token; the model replaces their input
embeddings, in order, by the image's patches projected to the model's width plus a learned position per patch
(the decoder's RoPE sees only a 1-D run of placeholders). Everything else is the text model: same layers, same
KV cache, same generate. Registered with the Auto classes, so `load_model(folder)` loads a saved one.
"""
from __future__ import annotations

import torch
from torch import nn
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

from agentic_lab.tokenizer import CHARACTERS, RESERVED_TOKENS, SPECIAL_TOKENS

# The image placeholder is the tokenizer's first reserved token (ids run special, characters, reserved), so the
# tokenizer, and every model already built on it, stays as it is.
IMAGE_TOKEN = RESERVED_TOKENS[0]
IMAGE_TOKEN_ID = len(SPECIAL_TOKENS) + len(CHARACTERS)


class TinyVLMConfig(LlamaConfig):
    model_type = "tiny_vlm"

    def __init__(self, image_size: int = 32, patch_size: int = 8, channels: int = 1, image_token_id: int = IMAGE_TOKEN_ID,
                 **kwargs):
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
        self.patch_embed = nn.Linear(config.patch_size ** 2 * config.channels, config.hidden_size)
        self.patch_position = nn.Parameter(torch.zeros(config.patches_per_image, config.hidden_size))
        self.post_init()

    def patches(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """(n, c, s, s) images -> (n * patches_per_image, hidden) embeddings, row-major patch order."""
        p, (n, c) = self.config.patch_size, pixel_values.shape[:2]
        grid = pixel_values.unfold(2, p, p).unfold(3, p, p)              # (n, c, s/p, s/p, p, p)
        flat = grid.permute(0, 2, 3, 1, 4, 5).reshape(n, -1, c * p * p)   # (n, patches, c·p·p)
        return (self.patch_embed(flat) + self.patch_position).reshape(-1, self.config.hidden_size)

    def forward(self, input_ids=None, pixel_values=None, inputs_embeds=None, **kwargs):
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
        return super().forward(input_ids=None, inputs_embeds=inputs_embeds, **kwargs)


AutoConfig.register("tiny_vlm", TinyVLMConfig)
AutoModelForCausalLM.register(TinyVLMConfig, TinyVLMForCausalLM)


def from_text_model(text_model: LlamaForCausalLM, image_size: int = 32, patch_size: int = 8, channels: int = 1,
                    image_token_id: int = IMAGE_TOKEN_ID) -> TinyVLMForCausalLM:
    """The text model's weights under a TinyVLM, with a freshly initialised patch projection and positions."""
    config = TinyVLMConfig(image_size=image_size, patch_size=patch_size, channels=channels,
                           image_token_id=image_token_id, **text_model.config.to_diff_dict())
    vlm = TinyVLMForCausalLM(config)
    missing, unexpected = vlm.load_state_dict(text_model.state_dict(), strict=False)
    if unexpected or set(missing) - {"patch_embed.weight", "patch_embed.bias", "patch_position"}:
        raise ValueError(f"not a Llama-shaped text model: missing {missing}, unexpected {unexpected}")
    return vlm
