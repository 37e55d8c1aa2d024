"""Checks a method's parameters and inputs before any tensor is touched (see MethodSpec).

Every failure is a BadInput naming the recipe field or the model, the value, and what to do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tools.errors import BadInput

if TYPE_CHECKING:
    from tools.merge.methods.base import MethodSpec, Param


@dataclass(frozen=True)
class Range:
    """An interval of allowed values; open or closed at each end (default: (low, high])."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = True
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


def check_names(spec: MethodSpec, names: Iterable[str], where: str) -> None:
    known = spec.param_names()
    for name in names:
        if name not in known:
            accepted = ", ".join(sorted(known)) or "none"
            raise BadInput(f"field {where}.{name}: unknown parameter for merge_method {spec.name} (accepted: {accepted})")


def check_inputs(spec: MethodSpec, count: int, has_base: bool, where: str) -> None:
    if spec.base == "required" and not has_base:
        raise BadInput(f"field base_model: merge_method {spec.name} needs a base_model (set base_model to one of the models)")
    low, high = spec.min_models, spec.max_models
    if low <= count and (high is None or count <= high):
        return
    wanted = f"exactly {low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
    base = " besides the base model" if spec.base != "none" else ""
    raise BadInput(f"field {where}: merge_method {spec.name} takes {wanted} model(s){base}, got {count}")


def check_values(spec: MethodSpec, model_params: Sequence[Mapping[str, Any]], params: Mapping[str, Any], *,
                 models: Sequence[str] | None, tensor: str | None) -> None:
    labels = [f"model {m}" for m in models] if models else [f"model #{i}" for i in range(len(model_params))]
    suffix = f" for tensor {tensor}" if tensor else ""
    for label, values in zip(labels, model_params):
        for param in spec.model_params:
            _check_one(param, values.get(param.name), f"{label}: parameter {param.name}", suffix)
    for param in spec.params:
        _check_one(param, params.get(param.name), f"merge_method {spec.name}: parameter {param.name}", suffix)
    message = spec.check(model_params, params, labels) if spec.check else None
    if message:
        raise BadInput(f"{message}{suffix}")


def _check_one(param: Param, value: Any, what: str, suffix: str) -> None:
    if value is None:
        if param.required:
            raise BadInput(f"{what} is missing{suffix} (set it under the model's parameters or the top-level parameters)")
        return
    if param.range is not None and value not in param.range:
        raise BadInput(f"{what} = {value!r}{suffix} is outside {param.range} (choose a value in {param.range})")
