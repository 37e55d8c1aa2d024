"""The result of evaluating one model on a suite (pydantic, no torch)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class EvalResult(BaseModel):
    """fitness: weighted mean of each task's fitness metric. tasks: every metric of every task.

    stage is "cascade" when the first pass scored below the cascade threshold and the full pass
    was skipped (the metrics then cover only the first `cascade.examples` records per task);
    examples counts the records each task was scored on.
    """

    model_config = ConfigDict(extra="forbid")

    fitness: float
    split: str
    tasks: dict[str, dict[str, float]]
    stage: Literal["full", "cascade"] = "full"
    examples: dict[str, int] = {}
