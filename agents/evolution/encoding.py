"""A genome bound to a workspace: start point, decoder, merge-engine check, parents."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agents.evolution.genome import WITH_BASE, Structure, decode, genome_size, x0
from agents.evolution.paths import PathStructure, decode_path, path_size, path_x0
from agents.strategy import Context
from tools.errors import BadInput, CladeError


@dataclass(frozen=True)
class Encoding:
    x0: list[float]
    decode: Callable[[list[float]], dict[str, Any]]
    models: dict[str, Any]  # name -> directory, for the merge engine
    sources: dict[str, str]  # model name -> source candidate id
    describe: str
    params: dict[str, Any] = field(default_factory=dict)
    checker: Any = None  # the session's tools.merge.checker.RecipeChecker (Context.recipes): its validation reuses the plan

    def decode_checked(self, x: list[float]) -> tuple[dict[str, Any], str | None]:
        """The recipe, and why the merge engine refuses it (None: valid)."""
        from tools.merge.prepare import load_recipe, prepare

        recipe = self.decode(x)
        if self.checker is not None:
            problem = self.checker.problem(recipe)
            return recipe, None if problem is None else f"decoded recipe refused by the merge engine: {problem}"
        try:
            prepare(load_recipe(recipe, models=self.models))
        except BadInput as exc:
            return recipe, f"decoded recipe refused by the merge engine: {exc}"
        return recipe, None

    def parents(self, recipe: dict[str, Any]) -> list[str]:
        named = _mentioned(recipe)
        ids = [self.sources[n] for n in named if n in self.sources]
        if not ids:
            raise CladeError(f"no source candidate for any of {named} in the session's sources {sorted(self.sources)}")
        return ids


def _mentioned(recipe: dict[str, Any]) -> list[str]:
    names = [recipe["base_model"]] if recipe.get("base_model") else []
    for piece in recipe.get("slices", []):
        names += [s["model"] for s in piece["sources"]]
    names += [s["model"] for s in recipe.get("layer_path", [])]
    return list(dict.fromkeys(names))


def source_ids(ctx: Context) -> dict[str, str]:
    """Model name -> candidate id of the session's source candidates."""
    return {c.genotype.name: c.id for c in ctx.sources if c.id and hasattr(c.genotype, "name")}


def layer_count(models: dict[str, Any], names: list[str]) -> int:
    """The layer count all `names` share (read from config.json; BadInput when they differ)."""
    from tools.merge.sources import config_layer_count

    counts = {}
    for name in names:
        if name not in models:
            raise BadInput(
                f"clade.yaml: planner.evolution names model {name!r}, which is neither a source nor the base ({', '.join(models)})"
            )
        path = models[name] / "config.json"
        counts[name] = config_layer_count(json.loads(path.read_text(encoding="utf-8")), models[name])
    if len(set(counts.values())) > 1:
        raise BadInput(f"clade.yaml: the evolution genome needs models with one layer count (got {counts})")
    return next(iter(counts.values()))


def parameter_encoding(structure: Structure, ctx: Context) -> Encoding:
    models = ctx.workspace.model_paths()
    base = "base" if "base" in models else None
    n_layers = layer_count(models, [*structure.sources, *([base] if base and structure.method in WITH_BASE else [])])
    genome_size(structure, n_layers)  # checks the layer groups fit
    return Encoding(
        x0=x0(structure),
        decode=lambda x: decode(structure, x, n_layers, base),
        models=models,
        sources=source_ids(ctx),
        params={"space": "parameters", "structure": structure.model_dump()},
        checker=ctx.recipes,
        describe=f"{structure.method} over {', '.join(structure.sources)} in {structure.layer_groups} layer group(s)",
    )


def path_encoding(structure: PathStructure, ctx: Context) -> Encoding:
    models = ctx.workspace.model_paths()
    n_layers = layer_count(models, structure.models)
    size = path_size(structure, n_layers)
    return Encoding(
        x0=path_x0(structure, n_layers),
        decode=lambda x: decode_path(structure, x, n_layers),
        models=models,
        sources=source_ids(ctx),
        params={"space": "paths", "structure": structure.model_dump()},
        checker=ctx.recipes,
        describe=f"layer path over {', '.join(structure.models)} ({size // 2} slots)",
    )
