"""The result of evaluating one model on a suite (pydantic, no torch)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

DIGITS = 4  # per-example values are kept to 4 decimals: enough for an interval, small in the archive


class ExampleScores(BaseModel):
    """One task's fitness metric, example by example: what a bootstrap over examples resamples.

    The task's metric is `mean(values)` when `weights` is absent (exact_match, char_accuracy, acc,
    acc_norm), else `sum(values) / sum(weights)` (a per-token log-likelihood: values are each
    example's log-likelihood, weights its token count), passed through `exp` when `exp` is set
    (mean_token_prob)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    metric: str
    values: list[float]
    weights: list[float] | None = None
    exp: bool = False

    @model_validator(mode="after")
    def _same_length(self) -> ExampleScores:
        if self.weights is not None and len(self.weights) != len(self.values):
            raise ValueError(f"{len(self.values)} values but {len(self.weights)} weights")
        return self

    def value(self) -> float:
        """The task metric these examples give (as the evaluation computed it, up to the rounding)."""
        return task_value(self.values, self.weights, self.exp)

    def rounded(self) -> ExampleScores:
        """To DIGITS decimals: what the archive keeps."""
        weights = None if self.weights is None else _rounded(self.weights)
        return self.model_copy(update={"values": _rounded(self.values), "weights": weights})


def _rounded(values: list[float]) -> list[float]:
    return [round(v, DIGITS) for v in values]


def task_value(values: Sequence[float], weights: Sequence[float] | None, exp: bool) -> float:
    total = len(values) if weights is None else sum(weights)
    ratio = sum(values) / total if total else 0.0
    return math.exp(ratio) if exp else ratio


class EvalResult(BaseModel):
    """fitness: weighted mean of each task's fitness metric. tasks: every metric of every task.

    stage is "cascade" when the first pass scored below the cascade threshold and the full pass
    was skipped (the metrics then cover only the first `cascade.examples` records per task);
    examples counts the records each task was scored on; per_example holds each task's fitness
    metric example by example (for intervals over examples, tools/evaluate/bootstrap.py) and
    weights each task's weight in the fitness.
    """

    model_config = ConfigDict(extra="forbid")

    fitness: float
    split: str
    tasks: dict[str, dict[str, float]]
    stage: Literal["full", "cascade"] = "full"
    examples: dict[str, int] = {}
    per_example: dict[str, ExampleScores] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
