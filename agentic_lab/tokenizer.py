"""The tiny model's tokenizer: one token per character, plus special tokens for the agent's actions.

Why characters: the tasks are arithmetic, grid maps and short names, where a learner wants to see
every digit the model writes, and token-level colouring in the trajectory viewer reads as text.
The tokenizer is built with the `tokenizers` library and wrapped as a transformers fast tokenizer,
so `save_pretrained` / `AutoTokenizer.from_pretrained` and every TRL trainer accept it.

A conversation renders like this (the chat template below is the single source of this format):

    <|system|>Tools:\ncalc(expr): Evaluate an arithmetic expression.<|end|>
    <|user|>What is 347*28?<|end|>
    <|assistant|><tool_call>{"name": "calc", "arguments": {"expr": "347*28"}}</tool_call><|end|>
    <|observation|>9716<|end|>
    <|assistant|><answer>9716</answer><|end|>

The template is *prefix-preserving*: rendering the first k messages gives a prefix of rendering all of
them, so a multi-turn rollout can append tokens and never re-tokenise what the model wrote.
The `{% generation %}` block marks what the assistant produced, which gives the supervised loss mask.
"""
from __future__ import annotations

from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast

# Role headers and the end-of-message token (also the end-of-sequence token).
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"]
END, PAD, UNK = "<|end|>", "<|pad|>", "<|unk|>"
# The agent's actions. Memory operations (notebook 11) and plans (notebook 07) are reserved now so
# that later notebooks fine-tune the shipped checkpoint instead of resizing its embeddings.
ACTION_TOKENS = [
    "<think>", "</think>",
    "<tool_call>", "</tool_call>",
    "<answer>", "</answer>",
    "<plan>", "</plan>",
    "<mem_add>", "<mem_update>", "<mem_delete>", "<mem_noop>", "</mem>",
]
SPECIAL_TOKENS = [PAD, END, UNK] + ROLE_TOKENS + ACTION_TOKENS
CHARACTERS = ["\n"] + [chr(c) for c in range(32, 127)]  # newline + printable ASCII
VOCAB_SIZE = 128  # len(SPECIAL_TOKENS) + len(CHARACTERS) = 116, rounded up; the rest are reserved
RESERVED_TOKENS = [f"<|reserved_{i}|>" for i in range(VOCAB_SIZE - len(SPECIAL_TOKENS) - len(CHARACTERS))]

# No whitespace-control dashes: every character outside {% %} / {{ }} is literal output.
CHAT_TEMPLATE = (
    "{% set system = messages[0].content if messages and messages[0].role == 'system' else none %}"
    "{% if system is not none or tools %}<|system|>"
    "{% if system is not none %}{{ system }}{% endif %}"
    "{% if tools %}{% if system is not none %}{{ '\\n' }}{% endif %}Tools:"
    "{% for tool in tools %}{% set f = tool.function if tool.function is defined else tool %}"
    "{{ '\\n' + f.name + '(' + (f.parameters.properties | list | join(', ')) + '): ' + f.description }}"
    "{% endfor %}{% endif %}<|end|>{% endif %}"
    "{% for m in messages %}"
    "{% if m.role == 'user' %}<|user|>{{ m.content }}<|end|>"
    "{% elif m.role == 'tool' %}<|observation|>{{ m.content }}<|end|>"
    "{% elif m.role == 'assistant' %}<|assistant|>{% generation %}"
    "{% if m.reasoning_content %}<think>{{ m.reasoning_content }}</think>{% endif %}"
    "{% if m.content %}{{ m.content }}{% endif %}"
    "{% for call in m.tool_calls or [] %}{% set fn = call.function if call.function is defined else call %}"
    '<tool_call>{"name": {{ fn.name | tojson }}, "arguments": '
    "{% if fn.arguments is string %}{{ fn.arguments }}{% else %}{{ fn.arguments | tojson }}{% endif %}"
    "}</tool_call>{% endfor %}<|end|>{% endgeneration %}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

# How to read an assistant message back into a structured one (`tokenizer.parse_response`), the inverse of
# the template above; TRL's GRPOTrainer uses it to find tool calls in multi-turn training.
RESPONSE_TEMPLATE = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|assistant|>",
    "fields": {
        "reasoning_content": {"open": "<think>", "close_pattern": r"</think>\s*", "content": "text"},
        "tool_calls": {"open": "<tool_call>", "close_pattern": r"</tool_call>\s*", "repeats": True,
                       "content": "json", "transform": {"type": "function", "function": "{content}"}},
        "content": {"close_pattern": r"<\|end\|>\s*", "content": "text"},
    },
}


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Character-level fast tokenizer with the chat template and all special tokens."""
    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS + CHARACTERS + RESERVED_TOKENS)}
    assert len(vocab) == VOCAB_SIZE
    # BPE with no merges is exactly "one token per known character"; unknown characters map to <|unk|>.
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK))
    core.decoder = decoders.Fuse()  # join characters back without spaces
    core.add_special_tokens(SPECIAL_TOKENS + RESERVED_TOKENS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=None,
        eos_token=END,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",  # generation appends on the right, so batches are padded on the left
        model_max_length=1024,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ROLE_TOKENS + ACTION_TOKENS})
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.response_template = RESPONSE_TEMPLATE
    return tokenizer
