"""An LLM's `MergeReply` -> a recipe mapping, checked by the merge engine's own validation.

Layer groups are consecutive layer ranges (agents.evolution.genome.group_ranges, the same
split the evolution genome uses). One group gives mergekit's `models` form; several give the
`slices` form, one slice per group with the base listed in each (as mergekit requires) and
each source's values for that group. A layer path gives Clade's `layer_path` form; a step's
`scale` multiplies the `planner.evolution.scale_filters` tensors (the residual outputs), as
the evolution path genome does. `check_recipe` loads and plans the recipe through a
tools.merge.checker.RecipeChecker (headers only; imports torch), the session's when there is
one, so the validate node reuses the plan: whatever it refuses goes back to the LLM in a repair prompt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agents.evolution.genome import group_ranges
from agents.strategies.reply import MergeReply, PathStep, PerGroup, ReplyError
from tools.errors import BadInput


def to_recipe(reply: MergeReply, n_layers: int, scale_filters: list[str], tasks: Sequence[str] = ()) -> dict[str, Any]:
    """The recipe mapping the reply describes; ReplyError when its shape cannot be one. A method
    that learns from data is calibrated on the search split of every task in `tasks` (the
    workspace's), the split the search already selects on."""
    if reply.layer_path is not None:
        return {"merge_method": "passthrough", "layer_path": [_step(s, scale_filters) for s in reply.layer_path]}
    _check_base(reply)
    if reply.layer_groups > n_layers:
        raise ReplyError(f"layer_groups {reply.layer_groups} is more than the {n_layers} layers; use at most {n_layers}")
    groups = reply.layer_groups
    source_values = {
        s: {k: _per_group(v, groups, f"parameters.{s}.{k}") for k, v in reply.parameters.get(s, {}).items()} for s in reply.sources
    }
    method_values = {k: _per_group(v, groups, f"method_parameters.{k}") for k, v in reply.method_parameters.items()}
    recipe: dict[str, Any] = {"merge_method": reply.method}
    if reply.base is not None:
        recipe["base_model"] = reply.base
    if _needs_data(reply.method):
        if not tasks:
            raise ReplyError(
                f"method {reply.method} learns from calibration data and this workspace has no evaluation tasks; choose another method"
            )
        recipe["calibration"] = {"tasks": list(tasks), "split": "search"}
    if groups == 1:
        return _models_form(recipe, reply, source_values, method_values)
    recipe["slices"] = [_slice(reply, rng, g, source_values, method_values) for g, rng in enumerate(group_ranges(n_layers, groups))]
    return recipe


def _needs_data(method: str) -> bool:
    from tools.merge.methods.registry import METHODS

    return method in METHODS and METHODS[method].calibration is not None


def _check_base(reply: MergeReply) -> None:
    from tools.merge.methods.registry import METHODS

    spec = METHODS.get(reply.method)
    if spec is None:
        raise ReplyError(f"method {reply.method!r} is not a merge method; use one of {', '.join(sorted(METHODS))}")
    if spec.base == "none" and reply.base is not None:
        raise ReplyError(f"method {reply.method} takes no base; set base to null (list {reply.base} in sources to merge it)")
    if spec.base == "required" and reply.base is None:
        raise ReplyError(f"method {reply.method} needs a base: set base to the model the task vectors are taken from")
    if reply.base in reply.sources:
        raise ReplyError(f"{reply.base} is both the base and a source; list it only as base")


def _per_group(value: PerGroup, groups: int, where: str) -> list[PerGroup]:
    if not isinstance(value, list):
        return [value] * groups
    if len(value) != groups:
        raise ReplyError(f"{where} has {len(value)} values for {groups} layer group(s); give one number, or one per group")
    return list(value)


def _models_form(recipe: dict[str, Any], reply: MergeReply, source_values: dict, method_values: dict) -> dict[str, Any]:
    recipe["models"] = [_entry({"model": s}, {k: v[0] for k, v in source_values[s].items()}) for s in reply.sources]
    if method_values:
        recipe["parameters"] = {k: v[0] for k, v in method_values.items()}
    return recipe


def _slice(reply: MergeReply, rng: tuple[int, int], g: int, source_values: dict, method_values: dict) -> dict[str, Any]:
    layers = list(rng)
    sources = [{"model": reply.base, "layer_range": layers}] if reply.base is not None else []
    sources += [_entry({"model": s, "layer_range": layers}, {k: v[g] for k, v in source_values[s].items()}) for s in reply.sources]
    piece: dict[str, Any] = {"sources": sources}
    if method_values:
        piece["parameters"] = {k: v[g] for k, v in method_values.items()}
    return piece


def _entry(entry: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    return {**entry, "parameters": parameters} if parameters else entry


def _step(step: PathStep, scale_filters: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"model": step.model, "layer": step.layer}
    if step.scale != 1.0:
        out["parameters"] = {"scale": [*({"filter": f, "value": step.scale} for f in scale_filters), {"value": 1.0}]}
    return out


def check_recipe(recipe: Mapping[str, Any], checker) -> list[str]:
    """The model names the recipe references, once the merge engine accepts it; ReplyError otherwise.
    `checker`: a tools.merge.checker.RecipeChecker (the session's, so its validation reuses this plan)."""
    unknown = [n for n in _names(recipe) if n not in checker.models]
    if unknown:
        raise ReplyError(f"unknown model(s) {', '.join(unknown)}; use only {', '.join(checker.models)}")
    try:
        prepared = checker.check(recipe)
    except BadInput as exc:
        raise ReplyError(f"the merge engine refused the recipe: {exc}") from None
    return prepared.recipe.referenced_models()


def _names(recipe: Mapping[str, Any]) -> list[str]:
    names = [recipe["base_model"]] if recipe.get("base_model") else []
    names += [m["model"] for m in recipe.get("models", [])]
    names += [s["model"] for piece in recipe.get("slices", []) for s in piece["sources"]]
    names += [s["model"] for s in recipe.get("layer_path", [])]
    return list(dict.fromkeys(names))
