"""sce (Select, Calculate, Erase; Wan et al. 2024, arXiv:2408.07990), as mergekit 0.1.5's sce.py:

    δᵢ = θᵢ − θ₀, stacked over the N models
    select:    with select_topk < 1, keep the ⌊k·nnz⌋ entries whose variance across the models
               (population variance, per element) is largest, in every δᵢ (nnz: entries with
               non-zero variance; ties at the cut are broken by torch.topk, as in mergekit)
    calculate: wᵢ = mean(δᵢ²) / Σⱼ mean(δⱼ²)          (1/N each when that sum is below 1e-6)
    erase:     elected sign s = sign(Σᵢ δᵢ) (0 counts as +); mᵢ = [sign(δᵢ) = s] (zeros erased)
    θ = θ₀ + Σᵢ wᵢ·mᵢ·δᵢ / max(Σᵢ wᵢ·mᵢ, 1e-6)

There are no per-model weights: the weights come from the task vectors themselves.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask

WEIGHT_EPS = 1e-6


def sce(task: TensorTask) -> torch.Tensor:
    base = task.base
    deltas = torch.stack([t - base for t in task.tensors])
    if task.params["select_topk"] < 1:
        deltas.mul_(_variance_mask(deltas, task.params["select_topk"]).unsqueeze(0))
    elected = (deltas.sum(dim=0) >= 0).to(base.dtype) * 2 - 1
    erase = (deltas.sign() == elected).to(base.dtype)
    weights = _energy_weights(deltas).reshape(-1, *([1] * base.dim())) * erase
    merged = (deltas * weights).sum(dim=0) / weights.sum(dim=0).clamp(min=WEIGHT_EPS)
    return base + merged


def _energy_weights(deltas: torch.Tensor) -> torch.Tensor:
    """mean(δᵢ²) per model, normalised to sum to 1 (uniform when every δ is ~0)."""
    energy = deltas.square().reshape(deltas.shape[0], -1).mean(dim=1)
    total = energy.sum().item()
    if abs(total) < WEIGHT_EPS:
        return torch.full_like(energy, 1 / deltas.shape[0])
    return energy / total


def _variance_mask(deltas: torch.Tensor, fraction: float) -> torch.Tensor:
    variance = deltas.var(dim=0, unbiased=False)
    k = int(torch.count_nonzero(variance) * fraction)
    mask = torch.zeros_like(variance)
    if k > 0:
        mask.view(-1)[torch.topk(variance.abs().reshape(-1), k=k).indices] = 1
    return mask
