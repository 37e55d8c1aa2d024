"""Multi-part models: a vision-language model (LLaVA: `language_model.model.layers.N`,
`vision_tower.encoder.layers.N`, a projector) has several stacks of numbered layers. Each stack
is a *part*, named by the text before its layer index; each part is merged by its own layer
index (its layer i sits at gradient position i/(n−1) of that part's n layers), as mergekit's
inferred multi-module architectures do. Everything outside the parts (embeddings, projector,
norms, head) is planned as for an ordinary model.

Only the `models` form can address a multi-part model: `slices` and `layer_path` name layer
ranges of one stack (mergekit refuses them too and asks for its `modules:` syntax, which Clade
does not read).
"""

from __future__ import annotations

from collections.abc import Mapping

from tools.errors import BadInput
from tools.merge.recipe import Recipe, Slice, SliceSource
from tools.merge.sources import SourceModel, layer_templates


def part_of(template: str) -> str:
    """`vision_tower.encoder.layers.{}.mlp.fc1.weight` -> `vision_tower.encoder.layers`."""
    return template.split(".{}.", 1)[0]


def templates_by_part(source: SourceModel) -> dict[str, list[str]]:
    parts: dict[str, list[str]] = {}
    for template in layer_templates(source):
        parts.setdefault(part_of(template), []).append(template)
    return parts


def describe_parts(source: SourceModel) -> str:
    return ", ".join(f"{prefix} ({count} layers)" for prefix, count in source.parts.items())


def part_slices(recipe: Recipe, sources: Mapping[str, SourceModel], template: SourceModel) -> list[tuple[list[str], list[Slice]]]:
    """(layer templates, slices) per part, in the template model's tensor order."""
    parts = templates_by_part(template)
    if len(parts) <= 1:
        return [(layer_templates(template), recipe_slices(recipe, sources))]
    if recipe.normalized_slices() is not None:
        form = "layer_path" if recipe.layer_path else "slices"
        raise BadInput(
            f"field {form}: model {template.name} has several stacks of layers ({describe_parts(template)}); "
            "slices and layer_path address one stack, so merge a multi-part model with the models form (mergekit's modules: syntax is not supported)"
        )
    return [(templates, [_whole_part(recipe, sources, prefix)]) for prefix, templates in parts.items()]


def recipe_slices(recipe: Recipe, sources: Mapping[str, SourceModel]) -> list[Slice]:
    """The recipe's slices; the models form as one slice over every model's layers."""
    slices = recipe.normalized_slices()
    if slices is not None:
        return slices
    entries = [SliceSource(model=m.model, layer_range=(0, sources[m.model].num_layers), parameters=m.parameters) for m in recipe.models]
    if recipe.base_model and recipe.base_model not in [m.model for m in recipe.models]:
        entries.append(SliceSource(model=recipe.base_model, layer_range=(0, sources[recipe.base_model].num_layers)))
    return [Slice(sources=entries)]


def _whole_part(recipe: Recipe, sources: Mapping[str, SourceModel], prefix: str) -> Slice:
    names = [m.model for m in recipe.models] + (
        [recipe.base_model] if recipe.base_model and recipe.base_model not in [m.model for m in recipe.models] else []
    )
    counts = {name: _count(sources[name], prefix) for name in names}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{name} {count}" for name, count in counts.items())
        raise BadInput(
            f"part {prefix}: the models have different layer counts ({listed}); models merged layer by layer need the same count"
        )
    params = {m.model: m.parameters for m in recipe.models}
    return Slice(sources=[SliceSource(model=n, layer_range=(0, counts[n]), parameters=params.get(n)) for n in names])


def _count(source: SourceModel, prefix: str) -> int:
    if prefix not in source.parts:
        raise BadInput(
            f"model {source.name} ({source.path}): has no layers under {prefix} (its parts: {describe_parts(source)}); merge models of the same architecture"
        )
    return source.parts[prefix]
