"""Loading a Hugging Face model directory for evaluation, with checks that name what is missing."""

from __future__ import annotations

from pathlib import Path

from tools.device import check_device
from tools.errors import BadInput
from tools.evaluate.modelcheck import check_model_files

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
    check_model_files(model_dir)
    check_device(device)
    logging.disable_progress_bar()
    tokenizer = load_tokenizer(model_dir)
    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()  # its load report would say what check_loaded says, in many lines
    try:
        model, info = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto", output_loading_info=True)
    except (OSError, ValueError, TypeError, RuntimeError, KeyError, AttributeError) as exc:
        raise BadInput(f"{model_dir}: cannot load the model ({_first_line(exc)})") from None
    finally:
        logging.set_verbosity(verbosity)
    check_loaded(model_dir, info)
    return model.to(device).eval(), tokenizer


def check_loaded(model_dir: Path, info: dict) -> None:
    """Refuse a model transformers had to patch up: a tensor the config needs that the weights lack (it
    would be randomly initialised and scored), or weights the config has no place for (fewer layers)."""
    missing, unexpected = sorted(info.get("missing_keys") or ()), sorted(info.get("unexpected_keys") or ())
    mismatched = sorted(str(k[0]) if isinstance(k, tuple) else str(k) for k in info.get("mismatched_keys") or ())
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BadInput(f"{model_dir}: missing tensor {missing[0]}{more}; its config needs it and the weights lack it")
    if unexpected:
        more = f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else ""
        raise BadInput(
            f"{model_dir}: tensor {unexpected[0]}{more} has no place in the model its config.json describes "
            "(does config.json declare fewer layers than the weights hold?)"
        )
    if mismatched:
        raise BadInput(f"{model_dir}: tensor {mismatched[0]} has a shape its config.json does not expect")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
