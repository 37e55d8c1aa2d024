"""Loading a Hugging Face model directory for evaluation, with checks that name what is missing."""

from __future__ import annotations

from pathlib import Path

from tools.device import check_device
from tools.errors import BadInput

WEIGHT_PATTERNS = ("*.safetensors", "pytorch_model*.bin")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def check_model_dir(model_dir: Path) -> None:
    if not model_dir.is_dir():
        raise BadInput(f"{model_dir}: no such model directory")
    if not (model_dir / "config.json").is_file():
        raise BadInput(f"{model_dir}: no config.json; expected a Hugging Face model directory")
    if not any(any(model_dir.glob(p)) for p in WEIGHT_PATTERNS):
        raise BadInput(f"{model_dir}: no weights (*.safetensors or pytorch_model*.bin)")
    if not any((model_dir / f).is_file() for f in TOKENIZER_FILES):
        raise BadInput(f"{model_dir}: no tokenizer files ({', '.join(TOKENIZER_FILES)}); copy the tokenizer of its source model")


def load_tokenizer(model_dir: Path):
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError, TypeError) as exc:
        raise BadInput(f"{model_dir}: cannot load the tokenizer ({_first_line(exc)})") from None


def load_model(model_dir: Path, device: str = "cpu"):
    """(model in eval mode on `device`, tokenizer) from a model directory, offline."""
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging

    check_model_dir(model_dir)
    check_device(device)
    logging.disable_progress_bar()
    tokenizer = load_tokenizer(model_dir)
    try:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto")
    except (OSError, ValueError, TypeError) as exc:
        raise BadInput(f"{model_dir}: cannot load the model ({_first_line(exc)})") from None
    return model.to(device).eval(), tokenizer


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
