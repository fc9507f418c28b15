"""load_model: the tiny model offline, local Hugging Face folders, and clear errors for everything else."""
import os
import shutil
import subprocess
import sys
import time

import pytest
import torch
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from agentic_lab import ModelLoadError, load_model
from agentic_lab.models import TINY_MODEL_DIR
from agentic_lab.eval import play_tasks
from agentic_lab.tasks import sample_tasks
from agentic_lab.tokenizer import build_tokenizer


def test_tiny_model_loads_offline_in_under_a_second():
    load_model()  # warm the imports and the file cache, as in a notebook's second cell
    start = time.perf_counter()
    model, tokenizer = load_model()
    assert time.perf_counter() - start < 1.0
    assert tokenizer.padding_side == "left" and not model.training
    assert model.config.vocab_size == len(tokenizer)


def test_a_local_model_loads_without_a_progress_bar_and_leaves_the_bars_as_they_were(capfd):
    """A notebook's first output is its own, not transformers' "Loading weights 100% 38/38"."""
    from transformers.utils import logging as hf_logging
    load_model()
    assert "Loading weights" not in capfd.readouterr().err
    assert hf_logging.is_progress_bar_enabled()


def test_shipped_checkpoint_is_small():
    size = sum(f.stat().st_size for f in TINY_MODEL_DIR.iterdir())
    assert size < 20e6


def _save_tiny_hf_model(folder, architecture):
    """A real Qwen2- or Llama-format model with a real chat template, as `save_pretrained` writes it."""
    tokenizer = build_tokenizer()
    kwargs = dict(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=2, num_key_value_heads=2, eos_token_id=tokenizer.eos_token_id,
                  pad_token_id=tokenizer.pad_token_id)
    config_class, model_class = {"qwen2": (Qwen2Config, Qwen2ForCausalLM),
                                 "llama": (LlamaConfig, LlamaForCausalLM)}[architecture]
    torch.manual_seed(0)
    model = model_class(config_class(**kwargs))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model


@pytest.mark.parametrize("architecture", ["qwen2", "llama"])
def test_local_hugging_face_folder_goes_through_the_same_api(tmp_path, architecture):
    saved = _save_tiny_hf_model(tmp_path, architecture)
    model, tokenizer = load_model(tmp_path)
    assert type(model) is type(saved)
    for a, b in zip(model.parameters(), saved.parameters()):
        assert torch.equal(a, b)
    trajectories = play_tasks(model, tokenizer, sample_tasks("calculator", 3, seed=0), max_turns=2)
    assert all(len(t.turns) >= 1 for t in trajectories)  # an untrained model plays (badly) without crashing


def test_unknown_model_without_network_gives_one_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache.*hf download"):
        load_model("nobody/no-such-model-anywhere")


def test_unknown_model_with_unreachable_hub_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    start = time.perf_counter()
    with pytest.raises(ModelLoadError, match="cannot be reached"):
        load_model("nobody/no-such-model-anywhere")
    assert time.perf_counter() - start < 10


def test_corrupt_checkpoint_folder_gives_one_clear_error(tmp_path):
    folder = tmp_path / "damaged"
    shutil.copytree(TINY_MODEL_DIR, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="damaged or incomplete"):
        load_model(folder)


def test_folder_that_is_not_a_model_gives_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path)
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_model(tmp_path / "notes.txt")


def test_tokenizer_from_a_hugging_face_folder_keeps_its_chat_template(tmp_path):
    _save_tiny_hf_model(tmp_path, "qwen2")
    assert AutoTokenizer.from_pretrained(tmp_path).chat_template == build_tokenizer().chat_template


def test_hub_id_found_in_the_hugging_face_cache_loads_offline(tmp_path):
    """The real Hub-id path, offline: a model laid out in a Hugging Face cache as `hf download` leaves it."""
    commit = "0" * 40
    snapshot = tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "snapshots" / commit
    _save_tiny_hf_model(snapshot, "qwen2")
    (tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "refs").mkdir()
    (tmp_path / "hub" / "models--tiny-org--tiny-qwen" / "refs" / "main").write_text(commit)
    code = ("from agentic_lab import load_model; m, t = load_model('tiny-org/tiny-qwen'); "
            "print(type(m).__name__, t.padding_side)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["Qwen2ForCausalLM", "left"]
