"""The contract between the merge executor and the method math.

A method is a small pure function `fn(task: TensorTask) -> Tensor` over one tensor name at a
time. Parameter resolution (gradients, filters, precedence), dtype handling, device placement,
seeding and IO all happen before and after it, in the executor; a method never reads files,
never looks at layer indices and never mutates its inputs.

Validation happens before any tensor is touched: the executor calls `MethodSpec.check_names`
on every parameter block of the recipe, `MethodSpec.check_inputs` on every slice, and
`MethodSpec.check_values` on the resolved parameters of every output tensor (values may differ
per tensor through gradients and filters). Each raises BadInput naming the field and the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from tools.errors import BadInput


@dataclass(frozen=True)
class TensorTask:
    """Everything a method needs to merge one tensor.

    tensors      the inputs θᵢ, same shape, on the compute device, in the compute dtype.
                 For methods that take a base, the base model is NOT among them.
    base         θ₀ (None when the method takes no base or none was given).
    model_params per input, the resolved scalar per-model parameters (weight, density, ...),
                 aligned with `tensors`; defaults already filled in.
    params       the resolved method-level parameters (normalize, lambda, t, ...), defaults filled in.
    generator    seeded per tensor by the executor; only random methods use it.
    name         the tensor's name, for error messages.
    stats        for data-dependent methods (MethodSpec.calibration), per input the calibration
                 statistic of that input tensor (a Gram matrix of the layer's inputs, a diagonal
                 Fisher), or None where the calibration has none (not a linear layer's weight);
                 empty for the other methods.
    """

    name: str
    tensors: Sequence[torch.Tensor]
    base: torch.Tensor | None = None
    model_params: Sequence[Mapping[str, float]] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    generator: torch.Generator | None = None
    stats: Sequence["Statistic | None"] = ()


@dataclass(frozen=True)
class Statistic:
    """What calibration data says about one input tensor of one model (tools/merge/calibrate.py).

    tensor  "gram": the mean over calibration tokens of x·xᵀ for the layer's input x ([in, in]);
            "fisher": the mean squared gradient of the target log-likelihood (the weight's shape).
    norm    "fisher": the L2 norm of the model's whole Fisher over every tensor (for normalising);
            1 otherwise.
    tokens  how many calibration tokens (gram) or examples (fisher) it was computed from.
    inputs_first  gram: the weight is stored [in, out] (GPT-2's Conv1D: y = x·W) rather than
            nn.Linear's [out, in] (y = x·Wᵀ).
    """

    tensor: torch.Tensor
    norm: float = 1.0
    tokens: int = 0
    inputs_first: bool = False


Calibration = Literal["gram", "gram_merged", "fisher"]
MethodFn = Callable[[TensorTask], torch.Tensor]
# A cross-parameter check of one tensor's resolved values: (model_params, params, model labels)
# -> None when fine, else a message that names the model and the values.
ValueCheck = Callable[[Sequence[Mapping[str, Any]], Mapping[str, Any], Sequence[str]], "str | None"]


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


@dataclass(frozen=True)
class Param:
    """A parameter a method accepts. `default=None` with `required=True` means no default.

    range   when set, the values a float parameter may take (checked by MethodSpec.check_values).
    """

    name: str
    default: Any = None
    required: bool = False
    kind: Literal["float", "bool", "int"] = "float"
    range: Range | None = None


@dataclass(frozen=True)
class MethodSpec:
    """One registry entry.

    base         "required": needs base_model; "optional": uses it when given; "none": ignores it
                 (the base, if listed among models, is then an ordinary input).
    min_models   minimum number of non-base inputs.
    max_models   maximum number of non-base inputs (None: unbounded).
    model_params per-model parameters (mergekit's tensor parameters: weight, density, ...).
    params       method-level parameters (normalize, lambda, t, ...).
    random       True when the result depends on the generator (DARE, DELLA).
    check        extra cross-parameter check (della's density ± epsilon, linear's zero weight sum).
    calibration  what the method needs from calibration data (the recipe's `calibration:`):
                 "gram" (each model's layer-input Gram matrices on its own layers), "gram_merged"
                 (the same, on inputs that went through the already merged layers: RegMean++),
                 "fisher" (diagonal Fisher); None for the data-free methods.
    """

    name: str
    fn: MethodFn
    base: Literal["required", "optional", "none"]
    model_params: tuple[Param, ...] = ()
    params: tuple[Param, ...] = ()
    min_models: int = 1
    max_models: int | None = None
    random: bool = False
    check: ValueCheck | None = None
    calibration: Calibration | None = None

    def param_names(self) -> set[str]:
        return {p.name for p in self.model_params} | {p.name for p in self.params}

    def check_names(self, names: Iterable[str], where: str = "parameters") -> None:
        """BadInput for a parameter name this method does not take (`where`: the recipe field)."""
        _check_names(self, names, where)

    def check_inputs(self, count: int, has_base: bool, where: str = "models") -> None:
        """BadInput when `count` non-base inputs (plus a base or not) do not fit this method."""
        _check_inputs(self, count, has_base, where)

    def check_values(
        self,
        model_params: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        *,
        models: Sequence[str] | None = None,
        tensor: str | None = None,
    ) -> None:
        """BadInput for a missing required value or one outside its range, naming model and tensor."""
        _check_values(self, model_params, params, models=models, tensor=tensor)


# Every failure below is a BadInput naming the recipe field or the model, the value, and what to do.


def _check_names(spec: MethodSpec, names: Iterable[str], where: str) -> None:
    known = spec.param_names()
    for name in names:
        if name not in known:
            accepted = ", ".join(sorted(known)) or "none"
            raise BadInput(f"field {where}.{name}: unknown parameter for merge_method {spec.name} (accepted: {accepted})")


def _check_inputs(spec: MethodSpec, count: int, has_base: bool, where: str) -> None:
    if spec.base == "required" and not has_base:
        raise BadInput(f"field base_model: merge_method {spec.name} needs a base_model (set base_model to one of the models)")
    low, high = spec.min_models, spec.max_models
    if low <= count and (high is None or count <= high):
        return
    wanted = f"exactly {low}" if low == high else f"at least {low}" if high is None else f"{low} to {high}"
    base = " besides the base model" if spec.base != "none" else ""
    raise BadInput(f"field {where}: merge_method {spec.name} takes {wanted} model(s){base}, got {count}")


def _check_values(
    spec: MethodSpec,
    model_params: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    *,
    models: Sequence[str] | None,
    tensor: str | None,
) -> None:
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
