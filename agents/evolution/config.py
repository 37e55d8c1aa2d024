"""`planner.evolution` in clade.yaml: the CMA-ES search over layer-wise merge genomes.

    planner:
      evolution:
        method: task_arithmetic # ties | dare_ties | task_arithmetic | linear | slerp
        sources: null           # source names to merge (null: every source; slerp takes exactly two)
        layer_groups: 2         # consecutive layer groups, each with its own genes
        population: 8           # CMA-ES population (candidates per generation)
        sigma: 0.2              # CMA-ES initial step size, in gene space
        generations: null       # null: until the budget ends
        extras: null            # per generation, members drawn beyond the population while its last ones run
                                # (not told to CMA-ES; null: up to population; 0: free slots wait)
        space: parameters       # parameters | paths | both (parameters, then layer paths through the best merge)
        both_split: 0.5         # both: phase 1's (parameter space) share of planner.budget.candidates, in (0, 1)
        x0_weight: 0.8          # where the search starts, in decoded (recipe) values
        x0_density: 0.5
        x0_t: 0.5
        weight_max: 1.5         # weights are searched in [0, weight_max]
        density_min: 0.05       # densities in [density_min, 1]
        path_repeats: 1         # paths: the slot sequence is every model's layers, this many times
        scale_min: 0.5          # paths: per-step residual scale in [scale_min, scale_max]
        scale_max: 1.5
        scale_filters: [o_proj, down_proj]   # paths: the tensors a step's scale multiplies

Genes are real numbers mapped through sigmoids onto these ranges (agents/evolution/genome.py),
so any vector CMA-ES asks for decodes to a valid recipe.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EvolutionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["ties", "dare_ties", "task_arithmetic", "linear", "slerp"] = Field(
        "task_arithmetic", description="the default was tuned on the tiny zoo (agents/evolution/README.md)"
    )
    sources: list[str] | None = Field(None, description="source names to merge (None: every source in clade.yaml)")
    layer_groups: int = Field(2, gt=0, description="consecutive layer groups, each with its own weight/density per source")
    population: int = Field(8, gt=1)
    sigma: float = Field(0.2, gt=0)
    generations: int | None = Field(None, gt=0, description="None: until the budget ends")
    extras: int | None = Field(
        None,
        ge=0,
        description="per generation, extra members drawn from its distribution while its last members run, so no slot "
        "idles; evaluated and archived but not told to CMA-ES (None: up to `population`; 0: free slots wait for the generation)",
    )
    space: Literal["parameters", "paths", "both"] = Field(
        "parameters",
        description="parameters: layer-wise merge weights; paths: layer paths through the sources; both: parameters first, "
        "then layer paths through the best parameter-space merge (materialised once, agents/evolution/both.py)",
    )
    both_split: float = Field(
        0.5, gt=0, lt=1, description="both: the share of planner.budget.candidates phase 1 (parameter space) gets; phase 2 the rest"
    )
    x0_weight: float = Field(0.8, description="initial weight of every source and group (decoded value)")
    x0_density: float = Field(0.5, description="initial density (ties, dare_ties)")
    x0_t: float = Field(0.5, ge=0, le=1, description="initial slerp t")
    weight_max: float = Field(1.5, gt=0, description="weights are searched in [0, weight_max]")
    density_min: float = Field(0.05, gt=0, lt=1, description="densities are searched in [density_min, 1]")
    path_repeats: int = Field(1, gt=0, le=4, description="paths: slots are every model's layers, repeated this many times")
    scale_min: float = Field(0.5, ge=0)
    scale_max: float = Field(1.5, gt=0)
    scale_filters: list[str] = Field(
        default_factory=lambda: ["o_proj", "down_proj"],
        description="paths: tensor-name substrings a step's scale multiplies (the layer's residual outputs)",
    )

    @model_validator(mode="after")
    def _ranges(self) -> "EvolutionConfig":
        if not 0 < self.x0_weight < self.weight_max:
            raise ValueError(f"x0_weight {self.x0_weight:g} must lie strictly inside (0, weight_max={self.weight_max:g})")
        if not self.density_min < self.x0_density < 1:
            raise ValueError(f"x0_density {self.x0_density:g} must lie strictly inside (density_min={self.density_min:g}, 1)")
        if not self.scale_min < self.scale_max:
            raise ValueError(f"scale_min {self.scale_min:g} must be below scale_max {self.scale_max:g}")
        return self

    @property
    def extras_max(self) -> int:
        return self.population if self.extras is None else self.extras
