"""Source models: a Hugging Face directory's config and the location of every tensor in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools.errors import BadInput
from tools.merge.picklefile import read_pickle_index
from tools.merge.tensorfile import TensorRef, read_header

LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "num_layers")
LAYER_RE = re.compile(r"^(?P<prefix>(?:.*\.)?(?:layers|h))\.(?P<index>\d+)\.(?P<rest>.+)$")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "vocab.txt",
    "added_tokens.json",
    "chat_template.jinja",
    "chat_template.json",
)


@dataclass(frozen=True)
class SourceModel:
    """One opened source: nothing but headers is read until a tensor is asked for."""

    name: str
    path: Path
    config: dict
    tensors: dict[str, TensorRef]
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def num_layers(self) -> int:
        if len(self.parts) > 1:
            listed = ", ".join(f"{p} ({n} layers)" for p, n in self.parts.items())
            raise BadInput(f"model {self.name} ({self.path}): has several stacks of layers ({listed}); use the models form")
        return config_layer_count(self.config, self.path)

    def tensor(self, name: str) -> TensorRef:
        try:
            return self.tensors[name]
        except KeyError:
            raise BadInput(f"model {self.name} ({self.path}): missing tensor {name}") from None

    def has_tokenizer(self) -> bool:
        return any((self.path / f).is_file() for f in TOKENIZER_FILES)


def open_source(name: str, path: Path) -> SourceModel:
    if not path.is_dir():
        raise BadInput(f"model {name}: directory {path} does not exist")
    config = _read_config(path)
    tensors = _tensor_index(path)
    return SourceModel(name, path, config, tensors, _layer_parts(name, path, config, tensors))


def _read_config(path: Path) -> dict:
    file = path / "config.json"
    if not file.is_file():
        raise BadInput(f"{file}: missing (a model directory needs its config.json)")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BadInput(f"{file}: not valid JSON ({_one_line(exc)})") from None
    if not isinstance(config, dict):
        raise BadInput(f"{file}: holds {json.dumps(config)[:40]}, not a JSON object of model settings")
    return config


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def _tensor_index(path: Path) -> dict[str, TensorRef]:
    """Every tensor of the model: safetensors (single or sharded), else PyTorch `.bin` checkpoints,
    read without running their pickle (picklefile.py)."""
    index = path / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(_weight_map(index).values()))
    else:
        files = sorted(p.name for p in path.glob("*.safetensors"))
    reader = read_header
    if not files:
        files, index, reader = _pickle_files(path), path / "pytorch_model.bin.index.json", read_pickle_index
    if not files:
        raise BadInput(f"{path}: no model weights (.safetensors or pytorch_model*.bin files)")
    refs: dict[str, TensorRef] = {}
    for file in files:
        if not (path / file).is_file():
            raise BadInput(f"{index}: names shard {file}, which does not exist")
        refs.update(reader(path / file))
    return refs


def _pickle_files(path: Path) -> list[str]:
    index = path / "pytorch_model.bin.index.json"
    if index.is_file():
        return sorted(set(_weight_map(index).values()))
    return sorted(p.name for p in path.glob("pytorch_model*.bin"))


def _weight_map(index: Path) -> dict[str, str]:
    try:
        weight_map = json.loads(index.read_text(encoding="utf-8"))["weight_map"]
    except ValueError as exc:
        raise BadInput(f"{index}: not valid JSON ({exc})") from None
    except (KeyError, TypeError):
        raise BadInput(f"{index}: no weight_map (tensor name -> shard file)") from None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise BadInput(f"{index}: weight_map must map tensor names to shard file names")
    return weight_map


def config_layer_count(config: dict, where: Path | str) -> int:
    for key in LAYER_COUNT_KEYS:
        if key not in config:
            continue
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:  # a bool is an int to Python: `true` is no count
            raise BadInput(f"{where}/config.json: {key} is {json.dumps(value)}, not a number of layers")
        return value
    raise BadInput(f"{where}/config.json: no layer count (expected one of {', '.join(LAYER_COUNT_KEYS)})")


def split_layer(name: str) -> tuple[str, int] | None:
    """`model.layers.3.mlp.up_proj.weight` -> (`model.layers.{}.mlp.up_proj.weight`, 3); None outside layers."""
    match = LAYER_RE.match(name)
    if match is None:
        return None
    return f"{match['prefix']}.{{}}.{match['rest']}", int(match["index"])


def layer_templates(source: SourceModel) -> list[str]:
    """The per-layer tensor name templates, in file order of layer 0's tensors."""
    seen: dict[str, None] = {}
    for name in source.tensors:
        split = split_layer(name)
        if split is not None:
            seen.setdefault(split[0], None)
    return list(seen)


def _layer_parts(name: str, path: Path, config: dict, tensors: dict[str, TensorRef]) -> dict[str, int]:
    """Layer-name prefix -> layer count. One stack: the count is config.json's (checked against the
    tensors). Several stacks (a vision-language model): each must hold layers 0..n-1."""
    indices: dict[str, set[int]] = {}
    for tensor in tensors:
        match = LAYER_RE.match(tensor)
        if match is not None:
            indices.setdefault(match["prefix"], set()).add(int(match["index"]))
    if len(indices) <= 1:
        found = next(iter(indices.values()), set())
        declared = config_layer_count(config, path)
        if not found and declared:
            raise BadInput(f"model {name} ({path}): config.json declares {declared} layers, the tensors hold none")
        if found and (
            declared != len(found) or found != set(range(len(found)))
        ):  # never set(range(declared)): a damaged count can be 10**12
            raise BadInput(
                f"model {name} ({path}): config.json declares {declared} layers, tensors hold layers {min(found)}..{max(found)} ({len(found)} distinct)"
            )
        return {prefix: declared for prefix in indices}
    for prefix, found in indices.items():
        if found != set(range(len(found))):
            raise BadInput(f"model {name} ({path}): layers under {prefix} are not numbered 0..{len(found) - 1} (found {sorted(found)[:8]})")
    return {prefix: len(found) for prefix, found in indices.items()}
