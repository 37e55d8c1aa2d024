"""The layer-path (data-flow space) genome: Sakana-style indicator and scale genes per slot.

Slots are every model's layers in order (models[0] layer 0..n-1, models[1] layer 0..n-1, ...),
the whole sequence repeated `repeats` times. Each slot has two genes: an indicator (the slot is
a step of the path when its gene is > 0) and a scale (sigmoid onto (scale_min, scale_max)) that
multiplies the step's residual outputs (the `scale_filters` tensors, e.g. o_proj and down_proj;
every other tensor of the step keeps scale 1). The path is the included slots in slot order:
Clade's `layer_path` recipe form. A vector that includes no slot decodes to the one slot with
the largest indicator gene, so every vector is a valid recipe.

The start point x0 is `models[0]` exactly: its layers in order (first repeat), scale 1.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.evolution.config import EvolutionConfig
from agents.evolution.transforms import from_range, to_range

INCLUDED, EXCLUDED = 1.0, -1.0


class PathStructure(BaseModel):
    """What a layer-path run searches over."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    models: list[str] = Field(min_length=1, description="model names (clade.yaml sources, base)")
    repeats: int = Field(1, gt=0)
    scale_min: float = 0.5
    scale_max: float = 1.5
    scale_filters: list[str] = Field(default_factory=lambda: ["o_proj", "down_proj"], min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> "PathStructure":
        if len(set(self.models)) != len(self.models):
            raise ValueError(f"models {self.models} name a model twice")
        if not self.scale_min < 1.0 < self.scale_max:
            raise ValueError(f"scale range ({self.scale_min:g}, {self.scale_max:g}) must contain 1 (the start point)")
        return self

    @classmethod
    def from_config(cls, config: EvolutionConfig, models: list[str]) -> "PathStructure":
        return cls(
            models=models,
            repeats=config.path_repeats,
            scale_min=config.scale_min,
            scale_max=config.scale_max,
            scale_filters=config.scale_filters,
        )


def slots(structure: PathStructure, n_layers: int) -> list[tuple[str, int]]:
    one = [(m, layer) for m in structure.models for layer in range(n_layers)]
    return one * structure.repeats


def path_size(structure: PathStructure, n_layers: int) -> int:
    return 2 * len(slots(structure, n_layers))


def path_x0(structure: PathStructure, n_layers: int) -> list[float]:
    """Indicator genes first (models[0]'s layers of the first repeat on), then scale genes (1.0)."""
    count = len(slots(structure, n_layers))
    indicators = [INCLUDED if i < n_layers else EXCLUDED for i in range(count)]
    return indicators + [from_range(1.0, structure.scale_min, structure.scale_max)] * count


def path_steps(structure: PathStructure, x: list[float], n_layers: int) -> list[tuple[str, int, float]]:
    """(model, layer, scale) for every included slot, in slot order."""
    cells = slots(structure, n_layers)
    if len(x) != 2 * len(cells):
        raise ValueError(f"path genome of {len(x)} genes for a structure of {2 * len(cells)}")
    indicators, scales = [float(v) for v in x[: len(cells)]], [float(v) for v in x[len(cells) :]]
    chosen = [i for i, v in enumerate(indicators) if v > 0] or [max(range(len(cells)), key=indicators.__getitem__)]
    return [(*cells[i], to_range(scales[i], structure.scale_min, structure.scale_max)) for i in chosen]


def decode_path(structure: PathStructure, x: list[float], n_layers: int) -> dict[str, Any]:
    """The `layer_path` recipe mapping the genome `x` stands for."""
    steps = [
        {"model": m, "layer": layer, "parameters": {"scale": _scale(structure, s)}} for m, layer, s in path_steps(structure, x, n_layers)
    ]
    return {"merge_method": "passthrough", "layer_path": steps}


def _scale(structure: PathStructure, value: float) -> list[dict[str, Any]]:
    return [*({"filter": f, "value": value} for f in structure.scale_filters), {"value": 1.0}]
