"""Checks of a model directory's files before anything loads them (no torch).

A damaged file must be a one-line BadInput naming it, never a traceback from a loader or a
resource bomb: config.json and the JSON tokenizer files must be JSON objects; a layer count must
be a plausible number; every safetensors header must be a JSON object whose tensors lie inside
the file. `clade eval` runs these before transformers opens the directory, and `clade run`'s
pre-flight (agents/preflight.py) runs them on the base and every source before the first job.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from tools.errors import BadInput

MAX_HEADER = 100 * 1024 * 1024
MAX_LAYERS = 100_000  # far above any real model; a corrupt count must not size a loop or a set
MAX_JSON_BYTES = 64 * 1024 * 1024
LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "num_layers")
JSON_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors.index.json")


def check_model_files(model_dir: Path) -> None:
    """BadInput naming the first damaged file of `model_dir` (a directory with a config.json)."""
    for name in JSON_FILES:
        if (model_dir / name).is_file():
            read_json_object(model_dir / name)
    config = read_json_object(model_dir / "config.json")
    layer_count(config, model_dir / "config.json")
    for shard in sorted(model_dir.glob("*.safetensors")):
        check_safetensors(shard)


def read_json_object(path: Path) -> dict:
    """The JSON object in `path`: BadInput when it is unreadable, huge, not UTF-8, not JSON or not an object."""
    if not path.is_file():
        raise BadInput(f"{path}: missing or not a regular file")
    if path.stat().st_size > MAX_JSON_BYTES:
        raise BadInput(f"{path}: {path.stat().st_size} bytes, too large for a JSON file of a model (damaged?)")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{path}: not valid JSON ({str(exc).splitlines()[0] if str(exc) else 'too deeply nested'})") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def layer_count(config: dict, where: Path) -> int | None:
    """The config's layer count (None when it names none); BadInput when it is no plausible count."""
    for key in LAYER_COUNT_KEYS:
        if key in config:
            value = config[key]
            if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_LAYERS:
                raise BadInput(f"{where}: {key} is {json.dumps(value)[:40]}, not a number of layers (1 to {MAX_LAYERS})")
            return value
    return None


def check_safetensors(path: Path) -> None:
    """BadInput when `path` is no well-formed safetensors file: a header that is not a JSON object, an entry
    without dtype/shape/offsets, or a tensor whose bytes lie past the end of the file."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise BadInput(f"{path}: not a safetensors file (shorter than 8 bytes)")
        (length,) = struct.unpack("<Q", raw)
        if length > min(MAX_HEADER, size - 8):
            raise BadInput(f"{path}: not a safetensors file (header size {length} does not fit in the file; truncated?)")
        try:
            header = json.loads(f.read(length))
        except (ValueError, RecursionError):
            raise BadInput(f"{path}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise BadInput(f"{path}: not a safetensors file (header is a JSON {type(header).__name__}, not an object)")
    data_size = size - 8 - length
    for name, info in header.items():
        if name != "__metadata__":
            _check_entry(path, name, info, data_size)


def _check_entry(path: Path, name: str, info, data_size: int) -> None:
    shape = info.get("shape") if isinstance(info, dict) else None
    offsets = info.get("data_offsets") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(info.get("dtype"), str) or not _ints(shape) or not _ints(offsets) or len(offsets) != 2:
        raise BadInput(f"{path}: tensor {name} has a malformed header entry (damaged file?)")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise BadInput(f"{path}: tensor {name} has data offsets {begin}..{end} (damaged file?)")
    if end > data_size:
        raise BadInput(f"{path}: tensor {name} ends at byte {end} of the data, past the file's {data_size} (truncated file?)")


def _ints(value) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
