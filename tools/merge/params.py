"""Parameter resolution with mergekit 0.1.5's semantics (mergekit/config.py, parameter_resolver.py).

A setting is a scalar, a gradient (list of numbers, interpolated piecewise-linearly at t), a list
of non-numeric scalars (picked at index int(t·(n−1))), or a list of `{filter, value}` entries
(the first whose filter is absent, "*", or a substring of the tensor name wins). Scopes are
searched from highest precedence down; the first that yields a value wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError

from tools.errors import BadInput
from tools.merge.methods.base import Param
from tools.merge.recipe import Conditional, Parameters, Setting

_ADAPTERS = {"float": TypeAdapter(float), "bool": TypeAdapter(bool), "int": TypeAdapter(int)}
SCALARS = (bool, int, float, str)


def validator(param: Param) -> Callable[[Any], Any]:
    adapter = _ADAPTERS[param.kind]

    def validate(value: Any) -> Any:
        if param.kind in ("float", "int") and isinstance(value, bool):  # YAML true is no number, though Python says 1
            raise BadInput(f"parameter {param.name}: {value!r} is not a valid {param.kind}")
        try:
            return adapter.validate_python(value)
        except ValidationError:
            raise BadInput(f"parameter {param.name}: {value!r} is not a valid {param.kind}") from None

    return validate


def evaluate(tensor_name: str, setting: Setting, t: float, validate: Callable[[Any], Any]) -> Any:
    """The value of one setting for one tensor at gradient position t (None: no filter matched)."""
    if isinstance(setting, Conditional):
        setting = [setting]
    if isinstance(setting, SCALARS):
        return validate(setting)
    if not setting:
        raise BadInput("a parameter is an empty list; give a value or a gradient of at least one value")
    if all(isinstance(e, SCALARS) for e in setting):
        return _gradient([validate(e) for e in setting], t, validate)
    for cond in setting:
        if cond.filter is None or cond.filter == "*" or (tensor_name and cond.filter in tensor_name):
            return evaluate(tensor_name, cond.value, t, validate)
    return None


def _gradient(values: list[Any], t: float, validate: Callable[[Any], Any]) -> Any:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return values[int(t * (len(values) - 1))]
    scaled = t * (len(values) - 1)
    i0 = int(scaled)
    i1 = min(len(values) - 1, i0 + 1)
    frac = scaled - i0
    return validate((1 - frac) * values[i0] + frac * values[i1])


def resolve(param: Param, scopes: Sequence[Parameters | None], tensor_name: str, t: float, where: str) -> Any:
    """The first value any scope yields for `param`, else its default (BadInput when required)."""
    validate = validator(param)
    for scope in scopes:
        if scope and param.name in scope:
            if isinstance(scope[param.name], list) and not scope[param.name]:
                raise BadInput(f"{where}: parameter {param.name} is an empty list; give a value or a gradient of at least one value")
            value = evaluate(tensor_name, scope[param.name], t, validate)
            if value is not None:
                return value
    if param.required:
        raise BadInput(
            f"{where}: missing required parameter {param.name} for tensor {tensor_name} (set it under the model's parameters or the top-level parameters)"
        )
    return None if param.default is None else validate(param.default)
