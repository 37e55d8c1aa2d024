"""LoRA adapters as merge sources: `model+adapter` references (mergekit's syntax) and PEFT adapter
directories given alone (their adapter_config.json names the base model: a workspace name or a
local path; nothing is downloaded).

The source is the base model with each adapted weight replaced by PEFT's merge of it,
W + s·B·A (transposed for fan_in_fan_out layers and for embeddings), s = lora_alpha / r, or
lora_alpha / √r with use_rslora; r and alpha follow rank_pattern / alpha_pattern per module.
The sum is computed in float32 when a tensor is read and cast to W's dtype; nothing is written
to disk. Weights saved whole by the adapter (modules_to_save) replace the base's. Refused, each
naming the adapter: other PEFT types than LORA, DoRA, trained biases, and weights the base lacks.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import torch

from tools.errors import BadInput
from tools.merge.picklefile import read_pickle_index
from tools.merge.sources import SourceModel
from tools.merge.tensorfile import TensorRef, read_header, read_tensor

PREFIX = "base_model.model."


@dataclass(frozen=True)
class LoraRef:
    """A base weight with a LoRA update, merged when read (same interface as TensorRef)."""

    base: TensorRef
    a: TensorRef
    b: TensorRef
    scale: float
    kind: Literal["linear", "transposed"]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.base.shape

    @property
    def dtype(self) -> str:
        return self.base.dtype

    @property
    def torch_dtype(self) -> torch.dtype:
        return self.base.torch_dtype

    @property
    def file(self) -> Path:
        return self.a.file

    @property
    def nbytes(self) -> int:
        return self.base.nbytes + self.a.nbytes + self.b.nbytes

    def read(self) -> torch.Tensor:
        weight = read_tensor(self.base)
        delta = read_tensor(self.b).float() @ read_tensor(self.a).float()
        if self.kind == "transposed":
            delta = delta.T
        return (weight.float() + delta * self.scale).to(weight.dtype)


def is_adapter_dir(path: Path) -> bool:
    return (path / "adapter_config.json").is_file() and not (path / "config.json").is_file()


def adapter_base(path: Path) -> str:
    """The base model an adapter directory names (base_model_name_or_path)."""
    base = _config(path).get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise BadInput(f"{path / 'adapter_config.json'}: no base_model_name_or_path; name the base explicitly as BASE+{path}")
    return base


def with_adapter(source: SourceModel, adapter: Path) -> SourceModel:
    config = _config(adapter)
    _check_supported(adapter, config)
    weights = _adapter_weights(adapter)
    tensors = dict(source.tensors)
    lora = {}
    for key, ref in weights.items():
        name = key.removeprefix(PREFIX)
        match = re.fullmatch(r"(?P<module>.+)\.lora_(?P<which>A|B|embedding_A|embedding_B)(\.weight)?", name)
        if match is None:
            if name not in source.tensors:
                raise BadInput(f"{adapter}: holds {key}, which is neither a LoRA matrix nor a weight of model {source.name}")
            tensors[name] = ref  # modules_to_save: the adapter's copy replaces the base's
            continue
        lora.setdefault(match["module"], {})[match["which"].removeprefix("embedding_")] = (ref, match["which"].startswith("embedding"))
    for module, pair in lora.items():
        tensors[module + ".weight"] = _merged(source, adapter, config, module, pair)
    return replace(source, tensors=tensors)


def _merged(source: SourceModel, adapter: Path, config: dict, module: str, pair: dict) -> LoraRef:
    if set(pair) != {"A", "B"}:
        raise BadInput(f"{adapter}: module {module} has lora_{'A' if 'A' in pair else 'B'} without its partner")
    target = module + ".weight"
    if target not in source.tensors:
        raise BadInput(f"{adapter}: adapts {target}, which model {source.name} ({source.path}) does not have")
    (a, embedding), (b, _) = pair["A"], pair["B"]
    transposed = embedding or bool(config.get("fan_in_fan_out"))
    rank = _pattern(config.get("rank_pattern"), module, config.get("r", 8))
    alpha = _pattern(config.get("alpha_pattern"), module, config.get("lora_alpha", 8))
    scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
    product = (b.shape[0], a.shape[1]) if len(a.shape) == len(b.shape) == 2 else None
    expected = tuple(reversed(source.tensors[target].shape)) if transposed else source.tensors[target].shape
    if product != tuple(expected) or a.shape[0] != b.shape[1]:
        raise BadInput(
            f"{adapter}: {module}'s lora_A {list(a.shape)} and lora_B {list(b.shape)} do not fit {target} {list(source.tensors[target].shape)}"
        )
    return LoraRef(source.tensors[target], a, b, scale, "transposed" if transposed else "linear")


def _pattern(patterns: dict | None, module: str, default: float) -> float:
    """PEFT's per-module override: a key matching the module name's end (or as a regex) wins."""
    for key, value in (patterns or {}).items():
        if module == key or module.endswith("." + key) or re.fullmatch(rf"(.*\.)?{key}", module):
            return value
    return default


def _config(path: Path) -> dict:
    file = path / "adapter_config.json"
    if not file.is_file():
        raise BadInput(f"{path}: not a PEFT adapter directory (no adapter_config.json)")
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BadInput(f"{file}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise BadInput(f"{file}: expected a JSON object")
    return config


def _check_supported(path: Path, config: dict) -> None:
    file = path / "adapter_config.json"
    if config.get("peft_type", "LORA") != "LORA":
        raise BadInput(f"{file}: peft_type {config.get('peft_type')!r} is not supported (only LORA adapters merge into weights here)")
    if config.get("use_dora"):
        raise BadInput(f"{file}: DoRA adapters (use_dora: true) are not supported; merge it with PEFT's merge_and_unload first")
    if config.get("bias", "none") != "none":
        raise BadInput(f"{file}: adapters with trained biases (bias: {config.get('bias')!r}) are not supported")


def _adapter_weights(path: Path) -> dict[str, TensorRef]:
    if (path / "adapter_model.safetensors").is_file():
        return read_header(path / "adapter_model.safetensors")
    if (path / "adapter_model.bin").is_file():
        return read_pickle_index(path / "adapter_model.bin")
    raise BadInput(f"{path}: no adapter_model.safetensors or adapter_model.bin")
