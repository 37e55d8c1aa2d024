"""`planner.gradient` in clade.yaml: AdaMerging-style layer-wise coefficients learnt by gradient descent.

    planner:
      gradient:
        sources: null            # source names to merge (null: every source in clade.yaml)
        init: 0.3                # every coefficient's start (AdaMerging's)
        lr: 0.03                 # Adam's learning rate
        steps_per_candidate: 5   # optimisation steps between two proposals
        batch_size: 16           # examples per task per step, drawn from the search split
        max_steps: 500           # no proposal after this step (null: until the budget ends)
        weight_max: 1.5          # coefficients stay in [0, weight_max] ...
        bounds: clamp            # ... clamped after each step, or `sigmoid`: weight_max·sigmoid(z)
        ends: separate           # embeddings, and final norm + head, get coefficients of their own;
                                 # shared: they take layer 0's and the last layer's (mergekit's slices rule)
        seed: null               # null: the session's seed (planner.seed or --seed)
        device: cpu              # cpu | cuda | cuda:N (where the optimisation runs)

Candidate k is the coefficients after k·steps_per_candidate steps (candidate 0: every coefficient
at `init`): agents/gradient/README.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class GradientConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[str] | None = Field(None, description="source names to merge (None: every source in clade.yaml)")
    init: float = Field(0.3, ge=0, description="the start of every coefficient (AdaMerging's 0.3)")
    lr: float = Field(0.03, gt=0, description="Adam's learning rate (0.03: the best of 0.01 and 0.03 on both zoos at 10 candidates)")
    steps_per_candidate: int = Field(5, gt=0, description="optimisation steps between two proposals")
    batch_size: int = Field(16, gt=0, description="examples per task per step, drawn from the search split")
    max_steps: int | None = Field(
        500, gt=0, description="no proposal past this step (None: until the budget ends); 500 is AdaMerging's step count"
    )
    weight_max: float = Field(1.5, gt=0, description="coefficients stay in [0, weight_max]")
    bounds: Literal["clamp", "sigmoid"] = Field("clamp", description="clamp after each step, or weight_max·sigmoid(z)")
    ends: Literal["shared", "separate"] = Field(
        "separate",
        description="separate: embeddings and head have coefficients of their own (measured better on the composite zoo); "
        "shared: they take layer 0's and the last layer's",
    )
    seed: int | None = Field(None, description="None: the session's seed")
    device: str = Field("cpu", min_length=1, description="cpu, cuda or cuda:N")

    @model_validator(mode="after")
    def _ranges(self) -> "GradientConfig":
        if self.bounds == "sigmoid" and not 0 < self.init < self.weight_max:
            raise ValueError(f"init {self.init:g} must lie strictly inside (0, weight_max={self.weight_max:g}) with bounds: sigmoid")
        if self.init > self.weight_max:
            raise ValueError(f"init {self.init:g} must not exceed weight_max {self.weight_max:g}")
        return self
