"""Loading a recipe and preparing a merge: names resolved to opened sources, the plan, the config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tools.errors import BadInput, describe_validation_error
from tools.merge.align import Alignment
from tools.merge.calibration import resolve_tasks
from tools.merge.chat_templates import resolve as resolve_chat_template
from tools.merge.checks import check_architectures, check_equal_layer_counts, check_output_shapes
from tools.merge.legacy import truncation
from tools.merge.lora import adapter_base, is_adapter_dir, with_adapter
from tools.merge.methods.base import MethodSpec
from tools.merge.methods.registry import get_method, known_parameter_names
from tools.merge.moe_layout import fuse_experts
from tools.merge.output import (
    check_vocabulary,
    config_model,
    output_config,
    set_vocab_size,
    tokenizer_model,
)
from tools.merge.parts import recipe_slices
from tools.merge.plan import (
    TensorPlan,
    check_parameter_names,
    plan_tensors,
)
from tools.merge.recipe import Recipe
from tools.merge.sources import SourceModel, open_source
from tools.merge.vocabulary import (
    Vocabulary,
    base_name,
    build_vocabulary,
    load_tokenizer,
)

Opener = Callable[[str, Path], SourceModel]


def load_recipe(
    source: Path | str | Mapping, *, models: Mapping[str, Path] | None = None, tasks: Mapping[str, Any] | None = None
) -> Recipe:
    """A validated recipe whose model references are resolved to directories (see api.py), and
    its calibration tasks to tools.evaluate Tasks (`tasks`: a workspace's tasks by name)."""
    where = "recipe"
    if not isinstance(source, Mapping):
        where = str(source)
        source = _read_yaml(Path(source))
    try:
        recipe = Recipe.model_validate(dict(source))
    except ValidationError as exc:
        raise BadInput(f"{where}: {describe_validation_error(exc)}") from None
    method = get_method(recipe.method)
    recipe._warnings = check_parameter_names(recipe, method, known_parameter_names())
    check_calibration(recipe, method)
    resolved = {name: resolve_source(name, models or {}) for name in recipe.referenced_models()}
    recipe._paths = {name: model for name, (model, _) in resolved.items()}
    recipe._adapters = {name: adapter for name, (_, adapter) in resolved.items() if adapter is not None}
    if recipe.calibration is not None:
        recipe._tasks = resolve_tasks(recipe.calibration, tasks or {})
    return recipe


def check_calibration(recipe: Recipe, method: MethodSpec) -> None:
    """A data-dependent method needs a calibration section; the others must not carry one."""
    if method.calibration and recipe.calibration is None:
        raise BadInput(
            f"field calibration: merge_method {method.name} learns from data; add a calibration section "
            "(calibration: {tasks: [TASK, ...], split: search})"
        )
    if recipe.calibration is not None and not method.calibration:
        raise BadInput(f"field calibration: merge_method {method.name} uses no data; remove the calibration section")


def _read_yaml(path: Path) -> Mapping:
    if not path.is_file():
        raise BadInput(f"{path}: no such recipe file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise BadInput(f"{path}: not UTF-8 text (byte {exc.start}); save the recipe as UTF-8") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read the recipe ({exc.strerror})") from None
    if not isinstance(data, Mapping):
        raise BadInput(f"{path}: expected a mapping (merge_method, models or slices, ...) at the top level")
    return data


def resolve_source(name: str, models: Mapping[str, Path]) -> tuple[Path, Path | None]:
    """(model directory, LoRA adapter directory or None) of a reference: a workspace name or path,
    `MODEL+ADAPTER` (mergekit's syntax), or a PEFT adapter directory naming its base model."""
    if name.startswith("candidate:") and name not in models:
        raise BadInput(
            f"model {name!r} is an archived merge candidate, which only a Clade session or `clade export` can materialise; "
            "export that candidate (`clade export ID DIR`) and name the directory instead"
        )
    path = _resolve(name, models)
    if "+" in name and name not in models and not path.exists():
        model, _, adapter = name.partition("+")
        return _resolve(model, models), _resolve(adapter, models)
    if is_adapter_dir(path):
        return _resolve(adapter_base(path), models), path
    return path, None


def _resolve(name: str, models: Mapping[str, Path]) -> Path:
    """A workspace name, else a path (relative paths against the current directory, as mergekit does)."""
    if name in models:
        return Path(models[name]).resolve()
    return Path(name).expanduser().resolve()


@dataclass(frozen=True)
class Prepared:
    recipe: Recipe
    method: MethodSpec
    sources: dict[str, SourceModel]
    template: SourceModel
    tokenizer: SourceModel
    plans: list[TensorPlan]
    config: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    output_tokenizer: Any = None  # a transformers tokenizer to save, when the recipe builds one


def prepare(recipe: Recipe, opener: Opener = open_source) -> Prepared:
    """Open every source, plan every tensor and build the output config; reads headers only
    (and, when the recipe asks for vocabulary alignment or a chat template, the tokenizers)."""
    method = get_method(recipe.method)
    paths = getattr(recipe, "_paths", None) or {n: _resolve(n, {}) for n in recipe.referenced_models()}
    adapters = getattr(recipe, "_adapters", None) or {}
    sources = {name: _open(opener, name, path, adapters.get(name)) for name, path in paths.items()}
    check_architectures(sources, recipe.mixed_architectures)
    if recipe.models and len(next(iter(sources.values())).parts) <= 1:
        check_equal_layer_counts([m.model for m in recipe.models] + ([recipe.base_model] if recipe.base_model else []), sources)
    template = sources[config_model(recipe)]
    tokenizer = sources[tokenizer_model(recipe)]
    warnings = list(recipe._warnings)
    vocabulary, alignment = _vocabulary(recipe, sources, template, tokenizer, warnings)
    plans = plan_tensors(recipe, method, sources, template, alignment)
    slices = recipe_slices(recipe, sources) if len(template.parts) <= 1 else None
    config = output_config(template, slices, sources, _config_dtype(plans))
    if alignment is not None:
        set_vocab_size(config, alignment.rows)  # the aligned or cut rows: config.json follows the tensors
    else:
        check_vocabulary(tokenizer, _embedding_rows(plans))
    check_output_shapes(plans, config, template)
    out_tokenizer = output_tokenizer(recipe, vocabulary, tokenizer, sources)
    return Prepared(recipe, method, sources, template, tokenizer, plans, config, warnings, out_tokenizer)


def _open(opener: Opener, name: str, path: Path, adapter: Path | None) -> SourceModel:
    source = opener(name, path)
    return fuse_experts(source if adapter is None else with_adapter(source, adapter))


def _vocabulary(recipe: Recipe, sources: dict[str, SourceModel], template: SourceModel, tokenizer: SourceModel, warnings: list[str]):
    """(Vocabulary, Alignment) for `tokenizer_source` / `tokenizer:`; else (None, the checked cut or None)."""
    if recipe.vocabulary_source is None:
        return None, truncation(sources, template, tokenizer, list(sources), warnings)
    if recipe.tokenizer is not None and recipe.tokenizer_source is not None:
        warnings.append(
            f"field tokenizer_source: ignored, the tokenizer block's source {recipe.tokenizer.source!r} is used (as mergekit does)"
        )
    vocabulary = build_vocabulary(recipe, sources)
    return vocabulary, Alignment(vocabulary.rows, vocabulary, base_name(recipe))


def output_tokenizer(recipe: Recipe, vocabulary: Vocabulary | None, tokenizer: SourceModel, sources: dict[str, SourceModel]):
    """The tokenizer object to save with the merge (None: copy the tokenizer source's files)."""
    template = resolve_chat_template(recipe.chat_template, sources) if recipe.chat_template else None
    if vocabulary is None and template is None:
        return None
    result = vocabulary.tokenizer if vocabulary is not None else load_tokenizer(tokenizer)
    if result is None:
        raise BadInput(
            f"field chat_template: the tokenizer source {tokenizer.name} ({tokenizer.path}) has no tokenizer files to put the template in"
        )
    if template is not None:
        result.chat_template = template
    return result


def _config_dtype(plans: list[TensorPlan]):
    """The dtype the weights are written in, so config.json never claims another one."""
    return next((p.out_dtype for p in plans if not p.copy), None)


def _embedding_rows(plans: list[TensorPlan]) -> int | None:
    rows = [p.shape[0] for p in plans if p.name.endswith(("embed_tokens.weight", "wte.weight")) and p.shape]
    return rows[0] if rows else None
