"""The literal registry of merge methods, with mergekit 0.1.5's parameter names and defaults
(../shared/MERGE_METHODS.md; the table and the decisions are in README.md next to this file).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from tools.errors import BadInput
from tools.merge.methods.arcee_fusion import arcee_fusion
from tools.merge.methods.base import MethodSpec, Param, Range
from tools.merge.methods.generalized import generalized
from tools.merge.methods.karcher import karcher
from tools.merge.methods.linear import linear
from tools.merge.methods.model_stock import model_stock
from tools.merge.methods.multislerp import multislerp
from tools.merge.methods.nearswap import nearswap
from tools.merge.methods.nuslerp import nuslerp
from tools.merge.methods.passthrough import passthrough
from tools.merge.methods.ram import ram, ramplus_tl
from tools.merge.methods.regmean import fisher, regmean
from tools.merge.methods.sce import sce
from tools.merge.methods.slerp import slerp
from tools.merge.methods.sparsify import bernoulli, della, dense, magnitude, outliers
from tools.merge.methods.spectral import iso_c, iso_cts, tsvm
from tools.merge.methods.wudi import wudi

WEIGHT = Param("weight", required=True)
DENSITY = Param("density", 1.0, range=Range(0, 1))
GAMMA = Param("gamma", 0.01, range=Range(0, 1, low_open=False))
EPSILON = Param("epsilon", 0.15, range=Range(0, 1, low_open=False))
# The data-dependent and spectral methods (README.md: "Beyond mergekit"): a positive per-model weight.
SCALE = Param("weight", 1.0, range=Range(0, math.inf))
LAMBDA = Param("lambda", 1.0)


def _flag(name: str, default: bool) -> Param:
    return Param(name, default, kind="bool")


def weights_sum_nonzero(model_params: Sequence[Mapping[str, Any]], params: Mapping[str, Any], labels: Sequence[str]) -> str | None:
    """linear with normalize divides by Σw: refuse Σw = 0 instead of writing Inf/NaN."""
    weights = [p.get("weight") for p in model_params]
    if params.get("normalize") and None not in weights and sum(weights) == 0:
        return f"merge_method linear: the weights of {', '.join(labels)} sum to 0 with normalize: true (change a weight or set normalize: false)"
    return None


def della_bounds(model_params: Sequence[Mapping[str, Any]], params: Mapping[str, Any], labels: Sequence[str]) -> str | None:
    """DELLA's keep-probabilities density ± epsilon must lie in (0, 1] when density < 1."""
    for label, p in zip(labels, model_params):
        d, e = p.get("density"), p.get("epsilon")
        if d is not None and e is not None and d < 1 and not (d - e > 0 and d + e <= 1):
            return (
                f"{label}: density ± epsilon = {d:g} ± {e:g} leaves (0, 1] (lower epsilon to at most {min(d, 1 - d):g}, or change density)"
            )
    return None


def multislerp_weights(model_params: Sequence[Mapping[str, Any]], params: Mapping[str, Any], labels: Sequence[str]) -> str | None:
    """multislerp with normalize_weights divides by Σw: refuse Σw = 0 (two or more models)."""
    weights = [p.get("weight") for p in model_params]
    if len(weights) > 1 and params.get("normalize_weights") and None not in weights and sum(weights) == 0:
        return f"merge_method multislerp: the weights of {', '.join(labels)} sum to 0 with normalize_weights: true (change a weight or set normalize_weights: false)"
    return None


def _task_arithmetic(
    name: str,
    *,
    sparsify=dense,
    consensus: bool = False,
    normalize: bool = False,
    rescale: bool = False,
    extra: tuple[Param, ...] = (),
    random: bool = False,
    check=None,
) -> MethodSpec:
    """One member of the task-arithmetic family (generalized.py): mergekit's parameter set."""
    return MethodSpec(
        name,
        partial(generalized, sparsify=sparsify, consensus=consensus),
        base="required",
        model_params=(WEIGHT, DENSITY, *extra),
        params=(_flag("normalize", normalize), _flag("rescale", rescale), Param("lambda", 1.0), _flag("int8_mask", False)),
        random=random,
        check=check,
    )


METHODS: dict[str, MethodSpec] = {
    "linear": MethodSpec(
        "linear",
        linear,
        base="none",
        model_params=(WEIGHT,),
        params=(_flag("normalize", True),),
        check=weights_sum_nonzero,
    ),
    "task_arithmetic": _task_arithmetic("task_arithmetic"),
    "ties": _task_arithmetic("ties", sparsify=magnitude, consensus=True, normalize=True),
    "dare_ties": _task_arithmetic("dare_ties", sparsify=bernoulli, consensus=True, rescale=True, random=True),
    "dare_linear": _task_arithmetic("dare_linear", sparsify=bernoulli, rescale=True, random=True),
    "breadcrumbs": _task_arithmetic("breadcrumbs", sparsify=outliers, extra=(GAMMA,)),
    "breadcrumbs_ties": _task_arithmetic("breadcrumbs_ties", sparsify=outliers, consensus=True, extra=(GAMMA,)),
    "della": _task_arithmetic(
        "della", sparsify=della, consensus=True, normalize=True, rescale=True, extra=(EPSILON,), random=True, check=della_bounds
    ),
    "della_linear": _task_arithmetic("della_linear", sparsify=della, rescale=True, extra=(EPSILON,), random=True, check=della_bounds),
    "slerp": MethodSpec(
        "slerp",
        slerp,
        base="required",
        min_models=1,
        max_models=1,
        params=(Param("t", required=True),),
    ),
    "nuslerp": MethodSpec(
        "nuslerp",
        nuslerp,
        base="optional",
        min_models=2,
        max_models=2,
        model_params=(WEIGHT,),
        params=(_flag("nuslerp_flatten", True), _flag("nuslerp_row_wise", False)),
    ),
    "model_stock": MethodSpec(
        "model_stock",
        model_stock,
        base="required",
        min_models=2,
        params=(_flag("filter_wise", False),),
    ),
    "passthrough": MethodSpec(
        "passthrough",
        passthrough,
        base="none",
        min_models=1,
        max_models=1,
        model_params=(Param("scale"),),
    ),
    # the second set: mergekit 0.1.5's sce, multislerp, arcee_fusion, nearswap, karcher, ram, ramplus_tl
    "sce": MethodSpec(
        "sce",
        sce,
        base="required",
        params=(Param("select_topk", 1.0, range=Range(0, 1)), _flag("int8_mask", False)),
    ),
    "multislerp": MethodSpec(
        "multislerp",
        multislerp,
        base="optional",
        model_params=(WEIGHT,),
        params=(_flag("normalize_weights", True), Param("eps", 1e-8, range=Range(0, 1, low_open=True))),
        check=multislerp_weights,
    ),
    "arcee_fusion": MethodSpec("arcee_fusion", arcee_fusion, base="required", min_models=1, max_models=1),
    "nearswap": MethodSpec(
        "nearswap",
        nearswap,
        base="required",
        min_models=1,
        max_models=1,
        params=(Param("t", required=True),),
    ),
    "karcher": MethodSpec(
        "karcher",
        karcher,
        base="none",
        params=(
            Param("max_iter", 10, kind="int", range=Range(0, math.inf, low_open=False)),
            Param("tol", 1e-5, range=Range(0, math.inf, low_open=False)),
        ),
    ),
    "ram": MethodSpec(
        "ram",
        ram,
        base="required",
        params=(Param("epsilon", 1e-5, range=Range(0, math.inf, low_open=False)),),
    ),
    "ramplus_tl": MethodSpec(
        "ramplus_tl",
        ramplus_tl,
        base="required",
        params=(
            Param("r", 0.1),
            Param("alpha", 0.2, range=Range(0, math.inf, low_open=False)),
            Param("epsilon", 1e-5, range=Range(0, math.inf, low_open=True)),
        ),
    ),
    # Beyond mergekit: data-dependent methods (they need the recipe's `calibration:` section) ...
    "regmean": MethodSpec(
        "regmean",
        regmean,
        base="none",
        model_params=(SCALE,),
        params=(Param("alpha", 0.95, range=Range(0, 1, low_open=False)),),
        calibration="gram",
    ),
    "regmean_plusplus": MethodSpec(
        "regmean_plusplus",
        regmean,
        base="none",
        model_params=(SCALE,),
        params=(Param("alpha", 0.95, range=Range(0, 1, low_open=False)),),
        calibration="gram_merged",
    ),
    "fisher": MethodSpec(
        "fisher",
        fisher,
        base="none",
        model_params=(SCALE,),
        params=(_flag("normalize", True), Param("minimal_fisher_weight", 1e-6, range=Range(0, 1, low_open=False))),
        calibration="fisher",
    ),
    # ... and data-free spectral ones.
    "tsvm": MethodSpec("tsvm", tsvm, base="required", model_params=(SCALE,), params=(LAMBDA,)),
    "iso_c": MethodSpec("iso_c", iso_c, base="required", model_params=(SCALE,), params=(LAMBDA,)),
    "iso_cts": MethodSpec(
        "iso_cts",
        iso_cts,
        base="required",
        model_params=(SCALE,),
        params=(LAMBDA, Param("common_space_fraction", 0.8, range=Range(0, 1, low_open=False))),
    ),
    "wudi": MethodSpec(
        "wudi",
        wudi,
        base="required",
        model_params=(SCALE,),
        params=(LAMBDA, Param("steps", 300.0, range=Range(0, 100000, low_open=False)), Param("lr", 1e-5, range=Range(0, 1))),
    ),
}


def known_parameter_names() -> frozenset[str]:
    """Every parameter some method takes: on a method that does not take it, mergekit ignores
    such a name and Clade warns; a name no method takes is an error (most likely a typo)."""
    return frozenset(name for spec in METHODS.values() for name in spec.param_names())


def get_method(name: str) -> MethodSpec:
    try:
        return METHODS[name]
    except KeyError:
        known = ", ".join(sorted(METHODS))
        raise BadInput(f"field merge_method: unknown method {name!r} (known: {known})") from None
