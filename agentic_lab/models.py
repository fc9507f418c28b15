"""Models: the shipped tiny model, and one `load_model` for it and for any Hugging Face model.

    model, tokenizer = load_model()                                # the tiny model in data/, offline
    model, tokenizer = load_model("Qwen/Qwen2.5-0.5B-Instruct")    # cached or downloadable Hub model
    model, tokenizer = load_model("path/to/folder")                # a saved Hugging Face model

Whatever goes wrong, the caller gets one `ModelLoadError` saying what to do, not a traceback from
deep inside a library.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, PreTrainedModel
from transformers.utils import logging as hf_logging

from agentic_lab import vision  # noqa: F401 - registers the tiny VLM with the Auto classes, for load_model
from agentic_lab.tokenizer import VOCAB_SIZE

REPO_ROOT = Path(__file__).resolve().parent.parent
TINY_MODEL_DIR = REPO_ROOT / "data" / "tiny-agent"


def tiny_config() -> LlamaConfig:
    """A Llama-style decoder small enough to train on a laptop CPU: 1.6M parameters."""
    return LlamaConfig(
        vocab_size=VOCAB_SIZE,      # characters + special tokens (agentic_lab.tokenizer)
        hidden_size=192,
        intermediate_size=512,      # SwiGLU MLP: 3 matrices of 192x512
        num_hidden_layers=4,
        num_attention_heads=6,      # head dim 32
        num_key_value_heads=2,      # grouped-query attention: a decoded token reads a third of the K/V
                                    # (benchmarks/kv_heads.py: 1.31x faster turns at 800 tokens of context)
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        pad_token_id=0, eos_token_id=1, bos_token_id=None,
    )


class ModelLoadError(RuntimeError):
    """`load_model` could not load what it was asked for; the message says what to do."""


def load_model(name_or_path: str | os.PathLike | None = None, dtype: torch.dtype = torch.float32,
               auto_class=AutoModelForCausalLM, **model_kwargs):
    """Load a causal LM and its tokenizer: the tiny model by default, else a Hub id or a local folder.

    The tokenizer pads on the left (for batched generation) and always has a pad token. Another
    `auto_class` loads the same weights under another head, e.g. a reward model:
    `load_model(auto_class=AutoModelForSequenceClassification, num_labels=1)`."""
    if name_or_path is None:
        if not (TINY_MODEL_DIR / "config.json").exists():
            raise ModelLoadError(f"The tiny model is missing from {TINY_MODEL_DIR}. "
                                 "Rebuild it with `make model` (about 80 minutes on 2 cores).")
        name_or_path = TINY_MODEL_DIR
    path = Path(name_or_path).expanduser()
    if path.exists():
        model, tokenizer = _load_folder(path, dtype, auto_class, model_kwargs)
    else:
        model, tokenizer = _load_hub(str(name_or_path), dtype, auto_class, model_kwargs)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.config.pad_token_id = tokenizer.pad_token_id  # a sequence-classification head finds the last token by it
    model.eval()
    return model, tokenizer


def _load_folder(path: Path, dtype: torch.dtype, auto_class, model_kwargs: dict):
    if not path.is_dir() or not (path / "config.json").exists():
        raise ModelLoadError(f"{path} is not a Hugging Face model folder (no config.json in it). Pass a folder "
                             "written by `save_pretrained`, or a Hub id such as 'Qwen/Qwen2.5-0.5B-Instruct'.")
    try:
        with _no_progress_bars():
            return _from_pretrained(str(path), dtype, True, auto_class, model_kwargs)
    except Exception as e:  # noqa: BLE001 - turn any library error into one clear message
        hint = "`make model` rebuilds the tiny model." if path.resolve() == TINY_MODEL_DIR else \
            "Save it again with `model.save_pretrained(folder)` and `tokenizer.save_pretrained(folder)`."
        raise ModelLoadError(f"The model folder {path} is damaged or incomplete: {_first_line(e)}. {hint}") from None


@contextmanager
def _no_progress_bars():
    """A local folder loads in a blink: no "Loading weights" bar above a notebook cell's own output."""
    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def _load_hub(name: str, dtype: torch.dtype, auto_class, model_kwargs: dict):
    try:  # the local Hugging Face cache first: no network needed
        return _from_pretrained(name, dtype, True, auto_class, model_kwargs)
    except Exception:  # noqa: BLE001 - not cached (or cached incompletely): try the Hub below
        pass
    offline = os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
    if offline or not _hub_reachable():
        why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face Hub cannot be reached from here"
        raise ModelLoadError(
            f"Cannot load {name!r}: it is not a local folder, it is not in the Hugging Face cache, and {why}. "
            f"On a machine with internet run `hf download {name}` (it fills the cache at "
            f"~/.cache/huggingface), or pass the path of a folder that holds the model.")
    try:
        return _from_pretrained(name, dtype, False, auto_class, model_kwargs)
    except Exception as e:  # noqa: BLE001
        raise ModelLoadError(f"Cannot load {name!r} from the Hugging Face Hub: {_first_line(e)}. Check the "
                             "spelling of the model id, or pass a local folder.") from None


def _from_pretrained(name: str, dtype: torch.dtype, local_files_only: bool, auto_class, model_kwargs: dict):
    tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_files_only)
    model = auto_class.from_pretrained(name, dtype=dtype, local_files_only=local_files_only, **model_kwargs)
    if not isinstance(model, PreTrainedModel):
        raise ModelLoadError(f"{name!r} is not a model that {auto_class.__name__} can load")
    return model, tokenizer


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP connect to the Hub, so that an offline machine fails in seconds, not after retries."""
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:300]


def save_atomically(model, tokenizer, out_dir: Path, files: dict[str, str]) -> None:
    """Save a checkpoint (and extra text `files`, e.g. its model card) to `out_dir`, replacing any previous one only once
    the new one is complete: an interrupted build leaves the old checkpoint in place."""
    tmp, old = out_dir.with_name(out_dir.name + ".tmp"), out_dir.with_name(out_dir.name + ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    for name, text in files.items():
        (tmp / name).write_text(text)
    if out_dir.exists():
        out_dir.rename(old)
    tmp.rename(out_dir)
    shutil.rmtree(old, ignore_errors=True)


def save_build(model, tokenizer, out_dir: Path, stats: dict, losses: list[float], model_card: str) -> None:
    """A built checkpoint with what tells how it was built: `build_stats.json`, its loss curve and its model card,
    all replaced at once (`save_atomically`)."""
    save_atomically(model, tokenizer, out_dir, {"build_stats.json": json.dumps(stats, indent=2) + "\n",
                                                "training_loss.json": json.dumps(losses) + "\n",
                                                "README.md": model_card})


def fingerprint(data: bytes) -> str:
    """A short sha256 of what a checkpoint was built from (its base weights, a sample of its training episodes), so a
    test can tell that a build script is still the recipe of the shipped files."""
    return hashlib.sha256(data).hexdigest()[:16]


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
