from agentic_lab.tasks import sample_tasks
from agentic_lab.tokenizer import ACTION_TOKENS, ROLE_TOKENS, VOCAB_SIZE, build_tokenizer
from agentic_lab.tools import CALC
from transformers import AutoTokenizer

CALC_CONVERSATION = [
    {"role": "user", "content": "What is 2*3?"},
    {"role": "assistant", "content": "",
     "tool_calls": [{"type": "function", "function": {"name": "calc", "arguments": {"expr": "2*3"}}}]},
    {"role": "tool", "content": "6"},
    {"role": "assistant", "content": "<answer>6</answer>"},
]


def test_one_token_per_character_and_per_special_token():
    tok = build_tokenizer()
    assert len(tok) == VOCAB_SIZE
    for special in ROLE_TOKENS + ACTION_TOKENS + ["<|end|>"]:
        assert len(tok(special, add_special_tokens=False)["input_ids"]) == 1, special
    text = "What is 12+7?\nS.#G"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text) and tok.decode(ids) == text
    assert tok.convert_ids_to_tokens(tok("é", add_special_tokens=False)["input_ids"]) == ["<|unk|>"]


def test_chat_template_renders_tools_calls_and_observations():
    tok = build_tokenizer()
    text = tok.apply_chat_template(CALC_CONVERSATION, tools=[CALC.schema()], tokenize=False)
    assert text == (
        "<|system|>Tools:\ncalc(expr): Evaluate an arithmetic expression.<|end|>"
        "<|user|>What is 2*3?<|end|>"
        '<|assistant|><tool_call>{"name": "calc", "arguments": {"expr": "2*3"}}</tool_call><|end|>'
        "<|observation|>6<|end|>"
        "<|assistant|><answer>6</answer><|end|>")


def test_assistant_mask_marks_exactly_what_the_assistant_wrote():
    """Hand-checked, token by token: only the assistant's own messages (and their <|end|>) are trained on."""
    tok = build_tokenizer()
    enc = tok.apply_chat_template(CALC_CONVERSATION, return_dict=True, return_assistant_tokens_mask=True)
    segments = [  # (text, mask)
        ("<|user|>What is 2*3?<|end|><|assistant|>", 0),
        ('<tool_call>{"name": "calc", "arguments": {"expr": "2*3"}}</tool_call><|end|>', 1),
        ("<|observation|>6<|end|><|assistant|>", 0),
        ("<answer>6</answer><|end|>", 1),
    ]
    expected_ids, expected_mask = [], []
    for text, mask in segments:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        expected_ids += ids
        expected_mask += [mask] * len(ids)
    assert enc["input_ids"] == expected_ids
    assert enc["assistant_masks"] == expected_mask
    # <tool_call> + 46 JSON characters + </tool_call> + <|end|>, then <answer> 6 </answer> <|end|>
    assert sum(expected_mask) == (1 + 46 + 1 + 1) + (1 + 1 + 1 + 1)


def test_chat_template_is_prefix_preserving():
    tok = build_tokenizer()
    for task in sample_tasks("search_qa", 20, seed=1):
        conversation = task.conversation()
        full = tok.apply_chat_template(conversation, tools=task.tool_schemas(), tokenize=False)
        for k in range(1, len(conversation)):
            head = tok.apply_chat_template(conversation[:k], tools=task.tool_schemas(), tokenize=False)
            assert full.startswith(head)


def test_save_and_reload_with_from_pretrained(tmp_path):
    tok = build_tokenizer()
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again.padding_side == "left" and again.eos_token == "<|end|>" and again.pad_token == "<|pad|>"
    assert again.apply_chat_template(CALC_CONVERSATION, tools=[CALC.schema()]) == \
        tok.apply_chat_template(CALC_CONVERSATION, tools=[CALC.schema()])


def test_parse_response_inverts_the_chat_template_and_trl_accepts_it():
    from trl.chat_template_utils import is_chat_template_prefix_preserving, supports_tool_calling
    tok = build_tokenizer()
    assert is_chat_template_prefix_preserving(tok) and supports_tool_calling(tok)
    for message in [CALC_CONVERSATION[1] | {"content": None}, CALC_CONVERSATION[3],
                    {"role": "assistant", "reasoning_content": "2*3=6", "content": "<answer>6</answer>"}]:
        prefix = tok.apply_chat_template(CALC_CONVERSATION[:1], tokenize=False, add_generation_prompt=True)
        full = tok.apply_chat_template(CALC_CONVERSATION[:1] + [message], tokenize=False)
        parsed = tok.parse_response(full[len(prefix):], prefix=prefix)
        assert parsed == {k: v for k, v in message.items() if v is not None}
