"""What goes next to the weights: config.json, tokenizer files, recipe.yaml and the model card."""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch
import yaml

from tools.errors import BadInput
from tools.merge.recipe import Recipe, Slice
from tools.merge.sources import LAYER_COUNT_KEYS, TOKENIZER_FILES, SourceModel

PER_LAYER_KEYS = ("layer_types", "no_rope_layers")
TAGALONG_FILES = ("generation_config.json",)
DTYPE_STRINGS = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16", torch.float64: "float64"}


def config_model(recipe: Recipe) -> str:
    """The model whose config.json the output starts from: base_model, else the first one named."""
    if recipe.base_model:
        return recipe.base_model
    if recipe.models:
        return recipe.models[0].model
    return recipe.normalized_slices()[0].sources[0].model


def tokenizer_model(recipe: Recipe) -> str:
    """The model whose tokenizer the output starts from (for `base` and `union`: the base model,
    else the first one named, as mergekit does)."""
    source = recipe.vocabulary_source
    if source is None:
        return config_model(recipe)
    if source in ("base", "union"):
        return recipe.base_model or recipe.referenced_models()[0]
    return source


def set_vocab_size(config: dict, rows: int) -> None:
    """config.json's vocabulary size (top level, else a multi-part model's text_config)."""
    holder = config if "vocab_size" in config or not isinstance(config.get("text_config"), dict) else config["text_config"]
    holder["vocab_size"] = rows


def output_config(template: SourceModel, slices: list[Slice] | None, sources: Mapping[str, SourceModel], dtype: torch.dtype | None) -> dict:
    """The template's config with the layer count, per-layer lists and dtype rewritten (a
    multi-part model, `slices` None, keeps its layer counts: only the models form reaches it)."""
    config = copy.deepcopy(template.config)
    if slices is not None:
        _rewrite_layers(config, template, slices, sources)
    if dtype is not None:
        config["dtype" if "torch_dtype" not in config else "torch_dtype"] = DTYPE_STRINGS[dtype]
    return config


def _rewrite_layers(config: dict, template: SourceModel, slices: list[Slice], sources: Mapping[str, SourceModel]) -> None:
    layers = [(s.sources[0].model, s.sources[0].layer_range[0] + i) for s in slices for i in range(s.num_layers)]
    key = next(k for k in LAYER_COUNT_KEYS if isinstance(config.get(k), int))
    config[key] = len(layers)
    for name in PER_LAYER_KEYS:
        if isinstance(config.get(name), list):
            config[name] = [_layer_value(sources[m].config, template.config, name, i) for m, i in layers]


def _layer_value(config: dict, fallback: dict, name: str, index: int):
    values = config.get(name) if isinstance(config.get(name), list) else fallback[name]
    if index >= len(values):
        raise BadInput(f"config.json field {name} lists {len(values)} entries, layer {index} is needed")
    return values[index]


def check_vocabulary(tokenizer: SourceModel, rows: int | None) -> None:
    """BadInput when the tokenizer source has token ids the merged embeddings lack."""
    file = tokenizer.path / "tokenizer.json"
    if rows is None or not file.is_file():
        return
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise BadInput(f"{file}: not valid JSON ({exc})") from None
    vocab = (data.get("model") or {}).get("vocab")
    ids = list(vocab.values()) if isinstance(vocab, dict) else []
    ids += [t.get("id", 0) for t in data.get("added_tokens") or []]
    if ids and max(ids) >= rows:
        raise BadInput(
            f"tokenizer_source {tokenizer.name} ({file}): token ids reach {max(ids)} but the merged embeddings have {rows} rows; the inputs lack part of its vocabulary (pick a tokenizer_source whose vocabulary the inputs share)"
        )


def copy_tokenizer(tokenizer: SourceModel, out_dir: Path) -> list[str]:
    copied = []
    for name in (*TOKENIZER_FILES, *TAGALONG_FILES):
        if (tokenizer.path / name).is_file():
            shutil.copyfile(tokenizer.path / name, out_dir / name)
            copied.append(name)
    return copied


def save_tokenizer(tokenizer, out_dir: Path) -> list[str]:
    """A tokenizer the merge built (vocabulary alignment, chat template), saved by transformers."""
    before = {p.name for p in out_dir.iterdir()}
    tokenizer.save_pretrained(out_dir)
    return sorted(p.name for p in out_dir.iterdir() if p.name not in before)


REFERENCE_KEYS = ("model", "base_model", "tokenizer_source")


def write_recipe(recipe: Recipe, out_dir: Path) -> None:
    (out_dir / "recipe.yaml").write_text(portable_recipe(recipe), encoding="utf-8")


def portable_recipe(recipe: Recipe) -> str:
    """The recipe as YAML that works anywhere on this machine: every model reference replaced by the
    directory it resolved to (absolute), the name it had as a comment beside it."""
    paths = {name: str(path) for name, path in recipe._paths.items()}
    data = _replace_references(recipe.to_yaml_dict(), paths)
    names = {path: name for name, path in paths.items() if path != name}
    lines = [_annotate(line, names) for line in yaml.safe_dump(data, sort_keys=False).splitlines()]
    head = "# Written by Clade: model references are the directories they resolved to; the names they had follow as comments.\n"
    return head + "\n".join(lines) + "\n"


def _replace_references(node, paths: Mapping[str, str]):
    if isinstance(node, list):
        return [_replace_references(item, paths) for item in node]
    if not isinstance(node, dict):
        return node
    special = ("base", "union")  # tokenizer_source keywords, not model names
    return {
        k: paths.get(v, v)
        if k in REFERENCE_KEYS and isinstance(v, str) and not (k == "tokenizer_source" and v in special)
        else _replace_references(v, paths)
        for k, v in node.items()
    }


def _annotate(line: str, names: Mapping[str, str]) -> str:
    key, sep, value = line.partition(": ")
    if not sep or key.strip().removeprefix("- ") not in REFERENCE_KEYS:
        return line
    parsed = yaml.safe_load(value)
    return f"{line}  # {names[parsed]}" if isinstance(parsed, str) and parsed in names else line


def model_card(recipe: Recipe, sources: Mapping[str, SourceModel], seed: int) -> str:
    rows = "\n".join(f"| {name} | `{src.path}` |" for name, src in sources.items())
    recipe_yaml = yaml.safe_dump(recipe.to_yaml_dict(), sort_keys=False).rstrip()
    seeded = f" with seed {seed}" if seed else ""
    return (
        f"# {recipe.name or 'Merged model'}\n\n"
        f"Made by Clade's merge engine with merge method `{recipe.method}`{seeded}.\n\n"
        f"## Sources\n\n| name | path |\n|---|---|\n{rows}\n\n"
        f"## Recipe\n\n```yaml\n{recipe_yaml}\n```\n\n"
        "Re-create it with `clade merge recipe.yaml OUT_DIR`.\n"
    )
