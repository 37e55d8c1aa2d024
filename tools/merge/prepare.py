"""Loading a recipe and preparing a merge: names resolved to opened sources, the plan, the config."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from tools.errors import BadInput, describe_validation_error
from tools.merge.methods.base import MethodSpec
from tools.merge.calibration import resolve_tasks
from tools.merge.methods.registry import get_method
from tools.merge.output import check_vocabulary, config_model, output_config, tokenizer_model
from tools.merge.plan import TensorPlan, check_parameter_names, plan_tensors, recipe_slices
from tools.merge.recipe import Recipe
from tools.merge.sources import SourceModel, open_source

Opener = Callable[[str, Path], SourceModel]


def load_recipe(source: Path | str | Mapping, *, models: Mapping[str, Path] | None = None, tasks: Mapping[str, Any] | None = None) -> Recipe:
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
    check_parameter_names(recipe, method)
    check_calibration(recipe, method)
    recipe._paths = {name: _resolve(name, models or {}) for name in recipe.referenced_models()}
    if recipe.calibration is not None:
        recipe._tasks = resolve_tasks(recipe.calibration, tasks or {})
    return recipe


def check_calibration(recipe: Recipe, method: MethodSpec) -> None:
    """A data-dependent method needs a calibration section; the others must not carry one."""
    if method.calibration and recipe.calibration is None:
        raise BadInput(f"field calibration: merge_method {method.name} learns from data; add a calibration section "
                       "(calibration: {tasks: [TASK, ...], split: search})")
    if recipe.calibration is not None and not method.calibration:
        raise BadInput(f"field calibration: merge_method {method.name} uses no data; remove the calibration section")


def _read_yaml(path: Path) -> Mapping:
    if not path.is_file():
        raise BadInput(f"{path}: no such recipe file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInput(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, Mapping):
        raise BadInput(f"{path}: expected a mapping (merge_method, models or slices, ...) at the top level")
    return data


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


def prepare(recipe: Recipe, opener: Opener = open_source) -> Prepared:
    """Open every source, plan every tensor and build the output config; reads headers only."""
    method = get_method(recipe.method)
    paths = getattr(recipe, "_paths", None) or {n: _resolve(n, {}) for n in recipe.referenced_models()}
    sources = {name: opener(name, path) for name, path in paths.items()}
    template = sources[config_model(recipe)]
    tokenizer = sources[tokenizer_model(recipe)]
    plans = plan_tensors(recipe, method, sources, template)
    dtype = _config_dtype(plans)
    config = output_config(template, recipe_slices(recipe, sources), sources, dtype)
    check_vocabulary(tokenizer, _embedding_rows(plans))
    return Prepared(recipe, method, sources, template, tokenizer, plans, config)


def _config_dtype(plans: list[TensorPlan]):
    """The dtype the weights are written in, so config.json never claims another one."""
    return next((p.out_dtype for p in plans if not p.copy), None)


def _embedding_rows(plans: list[TensorPlan]) -> int | None:
    rows = [p.shape[0] for p in plans if p.name.endswith(("embed_tokens.weight", "wte.weight")) and p.shape]
    return rows[0] if rows else None
