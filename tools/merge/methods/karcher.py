"""karcher: the Karcher (Riemannian) mean of the models on the unit hypersphere, times their mean
norm (arXiv:2603.04972), as mergekit 0.1.5's karcher.py. Every input counts, a listed base too
(mergekit ignores the base's role for this method); equal weights αᵢ = 1/N.

    nᵢ = |θᵢ| (float32, float64 for float64), uᵢ = θᵢ/nᵢ; models with nᵢ ≤ tol are left out of the
    direction (their αs renormalised over the rest); none left → zeros
    u ← Σ αᵢuᵢ / |Σ αᵢuᵢ| (u₁ when that norm is below tol); then up to max_iter times:
        T = Σ αᵢ · θᵢ/sin θᵢ · (uᵢ − cos θᵢ · u),  cos θᵢ = clamp(u·uᵢ, −1, 1), terms with θᵢ < tol skipped
        stop when |T| < tol; else u ← cos|T|·u + sin|T|·T/|T|, renormalised
    θ = (Σ αᵢ nᵢ) · u
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask
from tools.merge.methods.linear import accumulation_dtype


def karcher(task: TensorTask) -> torch.Tensor:
    tensors = list(task.tensors)
    if len(tensors) == 1:
        return tensors[0]
    alphas = [1.0 / len(tensors)] * len(tensors)
    return karcher_mean(tensors, alphas, int(task.params["max_iter"]), task.params["tol"])


def karcher_mean(tensors: list[torch.Tensor], alphas: list[float], max_iter: int, tol: float) -> torch.Tensor:
    dtype = accumulation_dtype(tensors[0])
    norms = [torch.linalg.vector_norm(t.to(dtype)) for t in tensors]
    units = [torch.zeros_like(t) if n.item() == 0 else (t / n).to(t.dtype) for t, n in zip(tensors, norms)]
    valid = [i for i, n in enumerate(norms) if n.item() > tol]
    if not valid:
        return torch.zeros_like(tensors[0])
    total = sum(alphas[i] for i in valid)
    weights, points = [alphas[i] / total for i in valid], [units[i] for i in valid]
    mean = _start(points, weights, dtype, tol)
    for _ in range(max_iter):
        tangent = _tangent(mean, points, weights, tol)
        length = torch.linalg.vector_norm(tangent.to(dtype))
        if length.item() < tol:
            break
        mean = (torch.cos(length) * mean + torch.sin(length) * (tangent / length)).to(mean.dtype)
        size = torch.linalg.vector_norm(mean.to(dtype))
        if size.item() > tol:
            mean = (mean / size).to(mean.dtype)
    return sum(a * n for a, n in zip(alphas, norms)) * mean


def _start(points: list[torch.Tensor], weights: list[float], dtype: torch.dtype, tol: float) -> torch.Tensor:
    mean = torch.zeros_like(points[0])
    for w, u in zip(weights, points):
        mean += w * u
    size = torch.linalg.vector_norm(mean.to(dtype))
    return points[0].clone() if size.item() < tol else (mean / size).to(mean.dtype)


def _tangent(mean: torch.Tensor, points: list[torch.Tensor], weights: list[float], tol: float) -> torch.Tensor:
    """The weighted log map of the points at `mean` (the Riemannian gradient direction)."""
    tangent = torch.zeros_like(mean)
    for w, u in zip(weights, points):
        cos = torch.clamp(torch.dot(mean.flatten(), u.flatten()), -1.0, 1.0)
        angle = torch.arccos(cos)
        if angle.item() >= tol:
            tangent += w * (angle / torch.sin(angle)) * (u - cos * mean)
    return tangent
