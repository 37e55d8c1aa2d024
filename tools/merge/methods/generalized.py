"""The task-arithmetic family (mergekit's generalized_task_arithmetic.py), one implementation:

    Δᵢ = wᵢ · sparsify(θᵢ − θ₀)
    consensus off:  M = ΣΔᵢ,              D = Σwᵢ                (|D| < 1e-8 → 1)
    consensus on:   s = [ΣΔᵢ ≥ 0] (elected sign, 0 counts as +); keep Δᵢ whose sign is s
                    (zeros never kept): M = Σkept Δᵢ, D = Σkept wᵢ  (D = 0 → 1)
    θ = θ₀ + λ · M / D   (no division when normalize is false)

task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della and
della_linear are this function with a sparsifier and a consensus flag (see registry.py).

It streams: each Δᵢ is made in one reused buffer, folded into running sums, and overwritten
by the next, so memory holds a fixed handful of tensor-sized buffers whatever the number of
models (mergekit stacks all Δᵢ and several masks of that size). Sums run in model order, like
mergekit's reduction over the stacked Δ; for float16/bfloat16 they are kept in float32 and
rounded once, as torch's sum does. Weights are first rounded to the compute dtype, as
mergekit's weight tensor is.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from tools.merge.methods.base import TensorTask
from tools.merge.methods.scratch import Scratch
from tools.merge.methods.sparsify import Sparsifier


def generalized(task: TensorTask, *, sparsify: Sparsifier | None = None, consensus: bool = False) -> torch.Tensor:
    base, scratch = task.base, Scratch(task.base)
    weights = torch.tensor([p["weight"] for p in task.model_params], dtype=base.dtype).tolist()
    deltas = _weighted_deltas(task, weights, sparsify, scratch)
    if consensus:
        mixed, divisor = _elect(deltas, weights, task.params["normalize"], scratch)
    else:
        mixed, divisor = _add(deltas, base), _weight_sum(weights, base)
    mixed = mixed.to(base.dtype)
    if task.params["normalize"]:
        mixed.div_(divisor.to(base.dtype))
    if task.params["lambda"] != 1:
        mixed.mul_(task.params["lambda"])
    return mixed.add_(base)


def _weighted_deltas(task: TensorTask, weights: list[float], sparsify: Sparsifier | None, scratch: Scratch) -> Iterator[torch.Tensor]:
    """Each wᵢ·sparsify(θᵢ − θ₀) in turn, in one reused buffer (valid until the next one)."""
    rescale = bool(task.params.get("rescale", False))
    buffer = scratch.get("delta", task.base.dtype).view(task.base.shape)
    for tensor, params, weight in zip(task.tensors, task.model_params, weights):
        delta = torch.sub(tensor, task.base, out=buffer)
        if sparsify is not None:
            delta = sparsify(delta, params, rescale, task.generator, scratch)
        yield delta.mul_(weight)


def _accumulator(like: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(like, dtype=torch.promote_types(like.dtype, torch.float32))


def _add(deltas: Iterator[torch.Tensor], base: torch.Tensor) -> torch.Tensor:
    total = _accumulator(base)
    for delta in deltas:
        total.add_(delta)
    return total


def _weight_sum(weights: list[float], base: torch.Tensor) -> torch.Tensor:
    divisor = torch.tensor(weights, dtype=base.dtype, device=base.device).sum()
    return torch.where(divisor.abs() < 1e-8, torch.ones_like(divisor), divisor)


def _elect(deltas: Iterator[torch.Tensor], weights: list[float], normalize: bool, scratch: Scratch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(M, D) of the sign election from running sums: ΣΔ, ΣΔ⁺, ΣΔ⁻ and, to normalize, Σw⁺, Σw⁻."""
    sums = None
    for delta, weight in zip(deltas, weights):
        if sums is None:
            sums = [_accumulator(delta) for _ in range(5 if normalize else 3)]
        work, sign = scratch.get("work", delta.dtype).view(delta.shape), scratch.mask("sign").view(delta.shape)
        sums[0].add_(delta)
        sums[1].add_(torch.clamp(delta, min=0, out=work))
        sums[2].add_(torch.clamp(delta, max=0, out=work))
        if normalize:
            sums[3].add_(torch.gt(delta, 0, out=sign), alpha=weight)
            sums[4].add_(torch.lt(delta, 0, out=sign), alpha=weight)
    positive = torch.ge(sums[0], 0, out=scratch.mask("sign").view(sums[0].shape))
    mixed = torch.where(positive, sums[1], sums[2], out=sums[1])
    if not normalize:
        return mixed, None
    divisor = torch.where(positive, sums[3], sums[4], out=sums[3])
    return mixed, divisor.masked_fill_(divisor == 0, 1)
