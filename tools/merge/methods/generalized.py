"""The task-arithmetic family (mergekit's generalized_task_arithmetic.py), one implementation:

    Δᵢ = wᵢ · sparsify(θᵢ − θ₀)
    consensus off:  M = ΣΔᵢ,              D = Σwᵢ                (|D| < 1e-8 → 1)
    consensus on:   s = [ΣΔᵢ ≥ 0] (elected sign, 0 counts as +); keep Δᵢ whose sign is s
                    (zeros never kept): M = Σkept Δᵢ, D = Σkept wᵢ  (D = 0 → 1)
    θ = θ₀ + λ · M / D   (no division when normalize is false)

task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, breadcrumbs_ties, della and
della_linear are this function with a sparsifier and a consensus flag (see registry.py).

The output is produced in cache-sized flat chunks: each model's Δᵢ chunk is rebuilt from θᵢ and
θ₀ (sparsify.py), so no tensor-sized task vector, stack or mask is ever held for the magnitude
methods (mergekit stacks every Δᵢ and several masks of that size). Sums run in model order,
like mergekit's reduction over the stacked Δ; for float16/bfloat16 they are kept in float32
and rounded once, as torch's sum does. Weights are first rounded to the compute dtype, as
mergekit's weight tensor is.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask
from tools.merge.methods.select import chunks
from tools.merge.methods.sparsify import Sparsifier, dense


def generalized(task: TensorTask, *, sparsify: Sparsifier = dense, consensus: bool = False) -> torch.Tensor:
    base, params = task.base, task.params
    weights = torch.tensor([p["weight"] for p in task.model_params], dtype=base.dtype).tolist()
    rescale = bool(params.get("rescale", False))
    sources = [sparsify(t, base, w, p, rescale, task.generator) for t, w, p in zip(task.tensors, weights, task.model_params)]
    divisor = None if consensus or not params["normalize"] else _weight_sum(weights, base)
    out, flat_base = torch.empty_like(base), base.reshape(-1)
    flat_out = out.view(-1)
    for start, stop in chunks(base.numel()):
        deltas = [s.chunk(start, stop) for s in sources]
        mixed, chunk_divisor = _elect(deltas, weights, params["normalize"]) if consensus else (_add(deltas), divisor)
        _finish(mixed.to(base.dtype), chunk_divisor, params, flat_base[start:stop], flat_out[start:stop])
    return out


def _finish(mixed: torch.Tensor, divisor: torch.Tensor | None, params, base: torch.Tensor, out: torch.Tensor) -> None:
    """out = base + λ·mixed/divisor, in mergekit's order of operations."""
    if params["normalize"]:
        mixed.div_(divisor.to(mixed.dtype))
    if params["lambda"] != 1:
        mixed.mul_(params["lambda"])
    torch.add(base, mixed, out=out)


def _add(deltas: list[torch.Tensor], *, keep: bool = False) -> torch.Tensor:
    """ΣΔᵢ in model order (float32 for half types); sums into deltas[0] unless `keep`."""
    total = deltas[0].to(torch.promote_types(deltas[0].dtype, torch.float32), copy=keep)
    for delta in deltas[1:]:
        total.add_(delta)
    return total


def _weight_sum(weights: list[float], base: torch.Tensor) -> torch.Tensor:
    divisor = torch.tensor(weights, dtype=base.dtype, device=base.device).sum()
    return torch.where(divisor.abs() < 1e-8, torch.ones_like(divisor), divisor)


def _elect(deltas: list[torch.Tensor], weights: list[float], normalize: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(M, D) of the sign election over one chunk. With s = ±1 the elected sign, Δᵢ agrees
    where s·Δᵢ > 0, so M = s·Σ max(s·Δᵢ, 0) (negation is exact: the same sums as Σ agreeing Δᵢ)."""
    sign = (_add(deltas, keep=True) >= 0).to(deltas[0].dtype).mul_(2).sub_(1)
    mixed = torch.zeros_like(sign, dtype=torch.promote_types(sign.dtype, torch.float32))
    divisor = torch.zeros_like(mixed) if normalize else None
    for delta, weight in zip(deltas, weights):
        agreeing = delta.mul_(sign).clamp_(min=0)
        mixed.add_(agreeing)
        if normalize:
            divisor.add_(agreeing > 0, alpha=weight)
    mixed.mul_(sign)
    return mixed, None if divisor is None else divisor.masked_fill_(divisor == 0, 1)
