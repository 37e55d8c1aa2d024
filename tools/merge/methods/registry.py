"""The literal registry of merge methods. Defaults follow mergekit 0.1.5 (../shared/MERGE_METHODS.md)."""

from __future__ import annotations

from tools.errors import BadInput
from tools.merge.methods.base import MethodSpec, Param
from tools.merge.methods.linear import linear

WEIGHT = Param("weight", required=True)

METHODS: dict[str, MethodSpec] = {
    "linear": MethodSpec(
        "linear", linear, base="none",
        model_params=(WEIGHT,),
        params=(Param("normalize", True, kind="bool"),),
    ),
}


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise BadInput(f"field merge_method: unknown method {name!r} (known: {known})") from None
