"""Source models: a Hugging Face directory's config and the location of every tensor in it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from tools.errors import BadInput
from tools.merge.tensorfile import TensorRef, read_header

LAYER_COUNT_KEYS = ("num_hidden_layers", "n_layer", "num_layers")
LAYER_RE = re.compile(r"^(?P<prefix>(?:.*\.)?(?:layers|h))\.(?P<index>\d+)\.(?P<rest>.+)$")
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
    "vocab.json", "merges.txt", "vocab.txt", "added_tokens.json", "chat_template.jinja", "chat_template.json",
)


@dataclass(frozen=True)
class SourceModel:
    """One opened source: nothing but headers is read until a tensor is asked for."""

    name: str
    path: Path
    config: dict
    tensors: dict[str, TensorRef]

    @property
    def num_layers(self) -> int:
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
    source = SourceModel(name, path, config, _tensor_index(path))
    _check_layers(source)
    return source


def _read_config(path: Path) -> dict:
    file = path / "config.json"
    if not file.is_file():
        raise BadInput(f"{file}: missing (a model directory needs its config.json)")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BadInput(f"{file}: not valid JSON ({exc})") from None


def _tensor_index(path: Path) -> dict[str, TensorRef]:
    index = path / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(_weight_map(index).values()))
    else:
        files = sorted(p.name for p in path.glob("*.safetensors"))
    if not files:
        raise BadInput(f"{path}: no .safetensors weights (convert .bin checkpoints with transformers' save_pretrained(safe_serialization=True))")
    refs: dict[str, TensorRef] = {}
    for file in files:
        if not (path / file).is_file():
            raise BadInput(f"{index}: names shard {file}, which does not exist")
        refs.update(read_header(path / file))
    return refs


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


def _check_layers(source: SourceModel) -> None:
    indices = {split[1] for name in source.tensors if (split := split_layer(name)) is not None}
    declared = source.num_layers
    if indices and indices != set(range(declared)):
        raise BadInput(f"model {source.name} ({source.path}): config.json declares {declared} layers, tensors hold layers {min(indices)}..{max(indices)} ({len(indices)} distinct)")
