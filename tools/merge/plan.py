"""Planning: a recipe plus opened sources -> one `TensorPlan` per output tensor, no data read.

Follows mergekit 0.1.5's MergePlanner (mergekit/plan.py): the `models` form becomes one slice
over every model's full layer range (the base appended when it is not listed); layer `idx` of a
slice of n layers sits at gradient position t = idx/(n−1) (t = 1 when n = 1); tensors outside
the layers take t = 0, the first slice's sources for the embeddings ("pre" tensors) and the last
slice's for the rest ("post": final norm, head).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from tools.errors import BadInput
from tools.merge.align import Alignment, is_vocabulary_tensor
from tools.merge.methods.base import MethodSpec
from tools.merge.params import resolve
from tools.merge.parts import part_slices
from tools.merge.recipe import Recipe, Slice
from tools.merge.sources import SourceModel, split_layer

PRE_MARKERS = ("embed", "wte", "wpe")
# mergekit configs carry int8_mask on every method (it only changes a mask's dtype): accepted everywhere.
ACCEPTED_EVERYWHERE = frozenset({"int8_mask"})


@dataclass(frozen=True)
class Input:
    model: str
    tensor: str


@dataclass(frozen=True)
class TensorPlan:
    """How to produce one output tensor."""

    name: str
    inputs: tuple[Input, ...]
    base: Input | None
    model_params: tuple[dict[str, Any], ...]
    params: dict[str, Any]
    shape: tuple[int, ...]
    compute_dtype: torch.dtype
    out_dtype: torch.dtype
    copy: bool = False
    alignment: Alignment | None = None  # token-indexed tensor: re-index the inputs first (align.py)
    order: tuple[str, ...] = ()  # the models of an aligned tensor, in slice order


@dataclass(frozen=True)
class SliceContext:
    piece: Slice
    base: str | None
    recipe: Recipe
    method: MethodSpec
    alignment: Alignment | None = None


def check_contract(piece: Slice, index: int, recipe: Recipe, method: MethodSpec) -> str | None:
    """The slice's base model when the method uses one; BadInput when the inputs do not fit."""
    base = piece.base_model or recipe.base_model
    names = [s.model for s in piece.sources]
    where = f"slices[{index}]" if recipe.slices else "models"
    if len(set(names)) != len(names):
        raise BadInput(f"field {where}: a model appears twice among the inputs of one merge ({names})")
    if method.base == "none":
        base = None
    elif base is not None and base not in names:
        raise BadInput(f"field {where}: base_model {base!r} is not among this slice's sources (list it with the same layer_range)")
    method.check_inputs(len(names) - (base is not None), base is not None, where)
    return base


def check_parameter_names(recipe: Recipe, method: MethodSpec, known: frozenset[str] = frozenset()) -> list[str]:
    """BadInput for a name no method takes; a warning (returned) for one that another method
    takes but this one does not (mergekit ignores it: `weight` on slerp or model_stock)."""
    scopes = [("parameters", recipe.parameters)]
    scopes += [(f"models[{i}].parameters", m.parameters) for i, m in enumerate(recipe.models or ())]
    for i, piece in enumerate(recipe.normalized_slices() or ()):
        scopes.append((f"slices[{i}].parameters", piece.parameters))
        scopes += [(f"slices[{i}].sources[{j}].parameters", s.parameters) for j, s in enumerate(piece.sources)]
    warnings = []
    for where, scope in scopes:
        names = [name for name in scope or {} if name not in ACCEPTED_EVERYWHERE]
        ignored = [name for name in names if name in known and name not in method.param_names()]
        method.check_names([name for name in names if name not in ignored], where)
        warnings += [
            f"field {where}.{name}: merge_method {method.name} does not use {name}; ignored (as mergekit does)" for name in ignored
        ]
    return warnings


def plan_tensors(
    recipe: Recipe, method: MethodSpec, sources: Mapping[str, SourceModel], template: SourceModel, alignment: Alignment | None = None
) -> list[TensorPlan]:
    """Every output tensor, in output order: embeddings, layers in output order, the rest."""
    groups = [(templates, _contexts(slices, recipe, method, alignment)) for templates, slices in part_slices(recipe, sources, template)]
    outside = [n for n in template.tensors if split_layer(n) is None]
    pre = [n for n in outside if any(m in n for m in PRE_MARKERS)]
    post = [n for n in outside if n not in pre]
    plans = [_plan_outside(n, groups[0][1][0], sources) for n in pre]
    for templates, contexts in groups:
        plans += _plan_layers(contexts, templates, sources)
    plans += [_plan_outside(n, groups[0][1][-1], sources) for n in post]
    return plans


def _contexts(slices: list[Slice], recipe: Recipe, method: MethodSpec, alignment: Alignment | None) -> list[SliceContext]:
    return [SliceContext(p, check_contract(p, i, recipe, method), recipe, method, alignment) for i, p in enumerate(slices)]


def _plan_layers(contexts: list[SliceContext], templates: list[str], sources: Mapping[str, SourceModel]) -> list[TensorPlan]:
    plans, out_index = [], 0
    for ctx in contexts:
        n = ctx.piece.num_layers
        for idx in range(n):
            t = idx / (n - 1) if n > 1 else 1.0
            for tmpl in templates:
                names = {s.model: tmpl.format(s.layer_range[0] + idx) for s in ctx.piece.sources}
                plans.append(plan_tensor(tmpl.format(out_index), names, t, ctx, sources))
            out_index += 1
    return plans


def _plan_outside(name: str, ctx: SliceContext, sources: Mapping[str, SourceModel]) -> TensorPlan:
    names = {s.model: _tied_name(sources[s.model], name) for s in ctx.piece.sources}
    return plan_tensor(name, names, 0.0, ctx, sources)


def _tied_name(source: SourceModel, name: str) -> str:
    """`lm_head.weight` in a model with tied embeddings is its input embedding (mergekit's alias)."""
    if name in source.tensors or not name.endswith("lm_head.weight"):
        return name
    tied = [n for n in source.tensors if n.endswith(("embed_tokens.weight", "wte.weight"))]
    return tied[0] if len(tied) == 1 else name


def plan_tensor(out_name: str, names: dict[str, str], t: float, ctx: SliceContext, sources: Mapping[str, SourceModel]) -> TensorPlan:
    refs = {model: sources[model].tensor(name) for model, name in names.items()}
    aligned = ctx.alignment is not None and is_vocabulary_tensor(out_name)
    shape = _aligned_shape(out_name, refs, ctx.alignment.rows) if aligned else _common_shape(out_name, refs)
    dtypes = [r.torch_dtype for r in refs.values()]
    if not all(d.is_floating_point for d in dtypes):
        first = next(iter(names.items()))
        return TensorPlan(out_name, (Input(*first),), None, ({},), {}, shape, dtypes[0], dtypes[0], copy=True)
    compute = _dtype(ctx.recipe.dtype, "dtype") or _promote(dtypes)
    out = _dtype(ctx.recipe.out_dtype, "out_dtype") or compute
    inputs = [Input(m, n) for m, n in names.items() if m != ctx.base]
    base = Input(ctx.base, names[ctx.base]) if ctx.base is not None else None
    params = {p.name: resolve(p, _shared_scopes(ctx), out_name, t, f"merge_method {ctx.method.name}") for p in ctx.method.params}
    model_params = tuple(_model_params(ctx, i, t) for i in inputs)
    ctx.method.check_values(model_params, params, models=[i.model for i in inputs], tensor=out_name)
    extra = {"alignment": ctx.alignment, "order": tuple(names)} if aligned else {}
    return TensorPlan(out_name, tuple(inputs), base, model_params, params, shape, compute, out, **extra)


def _aligned_shape(out_name: str, refs: dict, rows: int) -> tuple[int, ...]:
    rest = {model: ref.shape[1:] for model, ref in refs.items()}
    if len(set(rest.values())) > 1:
        listed = ", ".join(f"{m} {list(ref.shape)}" for m, ref in refs.items())
        raise BadInput(f"tensor {out_name}: shape mismatch beyond the vocabulary dimension ({listed})")
    return (rows, *next(iter(rest.values())))


def _shared_scopes(ctx: SliceContext) -> list:
    return [ctx.piece.parameters, ctx.recipe.parameters]


def _model_params(ctx: SliceContext, item: Input, t: float) -> dict[str, Any]:
    scopes = [s.parameters for s in ctx.piece.sources if s.model == item.model] + _shared_scopes(ctx)
    return {p.name: resolve(p, scopes, item.tensor, t, f"model {item.model}") for p in ctx.method.model_params}


def _common_shape(out_name: str, refs: dict) -> tuple[int, ...]:
    shapes = {model: ref.shape for model, ref in refs.items()}
    if len(set(shapes.values())) == 1:
        return next(iter(shapes.values()))
    listed = ", ".join(f"{m} {list(s)}" for m, s in shapes.items())
    if any(m in out_name for m in (*PRE_MARKERS, "lm_head")):
        raise BadInput(
            f"tensor {out_name}: different vocabularies ({listed}); set tokenizer_source (base, union or a model) to align them by token"
        )
    raise BadInput(f"tensor {out_name}: shape mismatch ({listed})")


DTYPE_NAMES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "float": torch.float32,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float64": torch.float64,
    "fp64": torch.float64,
}


def _dtype(name: str | None, field: str) -> torch.dtype | None:
    if name is None:
        return None
    try:
        return DTYPE_NAMES[name]
    except KeyError:
        raise BadInput(f"field {field}: unknown dtype {name!r} (use float32, float16 or bfloat16)") from None


def _promote(dtypes: list[torch.dtype]) -> torch.dtype:
    result = dtypes[0]
    for d in dtypes[1:]:
        result = torch.promote_types(result, d)
    return result
