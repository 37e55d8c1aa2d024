"""The layer-wise parameter genome: a real vector <-> a merge recipe over the sources.

Layout (group-major): for each of `layer_groups` consecutive layer groups, for each source,
`weight` then (ties, dare_ties only) `density`; slerp has one gene per group, its `t`.
Genes map through sigmoids (transforms.py): weight in (0, weight_max), density in
(density_min, 1), t in (0, 1), so every real vector decodes to a valid recipe.

The recipe is mergekit's `slices` form, one slice per group (layers [g·n/G, (g+1)·n/G)),
each listing the base (for the methods that take one) and every source with its own
parameters. As in mergekit, embeddings take the first slice's parameters and the final norm
and head the last slice's. ties / dare_ties / task_arithmetic set `normalize: false`, so a
weight scales its task vector absolutely (mergekit's ties default divides by the weight sum);
linear keeps its default normalization. slerp: `sources[0]` is the base_model, t moves
toward `sources[1]`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.evolution.config import EvolutionConfig
from agents.evolution.transforms import from_range, to_range
from tools.errors import BadInput

Method = Literal["ties", "dare_ties", "task_arithmetic", "linear", "slerp"]
WITH_BASE = ("ties", "dare_ties", "task_arithmetic")
WITH_DENSITY = ("ties", "dare_ties")


class Structure(BaseModel):
    """What a CMA-ES run searches over: the method, the sources, the layer groups, the gene ranges."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    method: Method
    sources: list[str] = Field(min_length=1, description="source names from clade.yaml")
    layer_groups: int = Field(1, gt=0)
    weight_max: float = Field(1.5, gt=0)
    density_min: float = Field(0.05, gt=0, lt=1)
    x0_weight: float = 0.8
    x0_density: float = 0.5
    x0_t: float = 0.5

    @model_validator(mode="after")
    def _shape(self) -> "Structure":
        if len(set(self.sources)) != len(self.sources):
            raise ValueError(f"sources {self.sources} name a model twice")
        if self.method == "slerp" and len(self.sources) != 2:
            raise ValueError(f"slerp merges exactly two models (got {len(self.sources)}: {self.sources})")
        return self

    @classmethod
    def from_config(cls, config: EvolutionConfig, sources: list[str], **overrides: Any) -> "Structure":
        fields = config.model_dump(include={"method", "layer_groups", "weight_max", "density_min", "x0_weight", "x0_density", "x0_t"})
        return cls(**{**fields, "sources": sources, **overrides})

    def genes_per_group(self) -> int:
        if self.method == "slerp":
            return 1
        return len(self.sources) * (2 if self.method in WITH_DENSITY else 1)


def genome_size(structure: Structure, n_layers: int) -> int:
    check_groups(structure, n_layers)
    return structure.layer_groups * structure.genes_per_group()


def check_groups(structure: Structure, n_layers: int) -> None:
    if structure.layer_groups > n_layers:
        raise BadInput(f"planner.evolution.layer_groups: {structure.layer_groups} groups for {n_layers} layers; use at most {n_layers}")


def x0(structure: Structure) -> list[float]:
    """The start point: every group and source at the structure's x0 values."""
    s = structure
    if s.method == "slerp":
        group = [from_range(s.x0_t, 0.0, 1.0)]
    else:
        per_source = [from_range(s.x0_weight, 0.0, s.weight_max)]
        if s.method in WITH_DENSITY:
            per_source.append(from_range(s.x0_density, s.density_min, 1.0))
        group = per_source * len(s.sources)
    return group * s.layer_groups


def group_ranges(n_layers: int, groups: int) -> list[tuple[int, int]]:
    """Consecutive [start, end) layer ranges, sizes differing by at most one."""
    return [(g * n_layers // groups, (g + 1) * n_layers // groups) for g in range(groups)]


def group_values(structure: Structure, x: list[float]) -> list[dict[str, dict[str, float]]]:
    """Per group: source -> decoded parameters (slerp: {"t": ...} under the key "")."""
    s, k = structure, structure.genes_per_group()
    out = []
    for g in range(s.layer_groups):
        genes = [float(v) for v in x[g * k : (g + 1) * k]]
        out.append(_decode_group(s, genes))
    return out


def _decode_group(s: Structure, genes: list[float]) -> dict[str, dict[str, float]]:
    if s.method == "slerp":
        return {"": {"t": to_range(genes[0], 0.0, 1.0)}}
    step = 2 if s.method in WITH_DENSITY else 1
    values = {}
    for i, name in enumerate(s.sources):
        values[name] = {"weight": to_range(genes[i * step], 0.0, s.weight_max)}
        if step == 2:
            values[name]["density"] = to_range(genes[i * step + 1], s.density_min, 1.0)
    return values


def decode(structure: Structure, x: list[float], n_layers: int, base: str | None) -> dict[str, Any]:
    """The recipe mapping (`tools.merge.api.load_recipe` form) the genome `x` stands for."""
    s = structure
    if len(x) != genome_size(s, n_layers):
        raise ValueError(f"genome of {len(x)} genes for a structure of {genome_size(s, n_layers)}")
    if s.method in WITH_BASE and base is None:
        raise BadInput(f"merge_method {s.method} needs a base model: set `base:` in clade.yaml or use linear/slerp")
    ranges, values = group_ranges(n_layers, s.layer_groups), group_values(s, x)
    recipe: dict[str, Any] = {"merge_method": s.method, "slices": [_slice(s, r, v, base) for r, v in zip(ranges, values)]}
    if s.method == "slerp":
        recipe["base_model"] = s.sources[0]
    elif s.method in WITH_BASE:
        recipe["base_model"] = base
        recipe["parameters"] = {"normalize": False}
    return recipe


def _slice(s: Structure, layers: tuple[int, int], values: dict, base: str | None) -> dict[str, Any]:
    rng = list(layers)
    if s.method == "slerp":
        return {"sources": [{"model": m, "layer_range": rng} for m in s.sources], "parameters": dict(values[""])}
    sources = [{"model": m, "layer_range": rng, "parameters": dict(values[m])} for m in s.sources]
    if s.method in WITH_BASE:
        sources.insert(0, {"model": base, "layer_range": rng})
    return {"sources": sources}
