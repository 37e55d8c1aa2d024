"""`planner.evolution` in clade.yaml: the CMA-ES search over layer-wise merge genomes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EvolutionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["ties", "dare_ties", "task_arithmetic", "linear", "slerp"] = "ties"
    layer_groups: int = Field(2, gt=0, description="consecutive layer groups, each with its own weight/density per source")
    population: int = Field(8, gt=1)
    sigma: float = Field(0.2, gt=0)
    generations: int | None = Field(None, gt=0, description="None: until the budget ends")
    space: Literal["parameters", "paths", "both"] = "parameters"
