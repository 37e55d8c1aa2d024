"""multislerp: barycentric interpolation of N models on a hypersphere (Goddard's Multi-SLERP), as
mergekit 0.1.5's multislerp.py. With a base, the task vectors δᵢ = θᵢ − θ₀ are interpolated and
θ₀ added back; without one, the tensors themselves.

    xᵢ = the flattened δᵢ (or θᵢ), nᵢ = |xᵢ|, uᵢ = xᵢ/(nᵢ + eps), w normalised to Σw = 1 (normalize_weights)
    m = Σ wᵢuᵢ / |Σ wᵢuᵢ|                                   the weighted mean direction
    τ = Σ wᵢ (uᵢ − (uᵢ·m) m)                                  the mean in m's tangent space
    θ = (cos|τ|·m + sin|τ|/|τ|·τ) · Σ wᵢnᵢ   (+ θ₀)         (|τ| taken + eps) back on the sphere, mean norm

One model: that model's tensor as it is. When |Σ wᵢuᵢ| < eps (antipodal inputs balancing out),
two models are interpolated linearly (Σ wᵢxᵢ, + θ₀); with more models it is an error naming the
tensor (mergekit raises too). Work is in the compute dtype.
"""

from __future__ import annotations

import torch

from tools.errors import BadInput
from tools.merge.methods.base import TensorTask


def multislerp(task: TensorTask) -> torch.Tensor:
    if len(task.tensors) == 1:
        return task.tensors[0]
    stacked = torch.stack(list(task.tensors))
    if task.base is not None:
        stacked -= task.base
    points = stacked.reshape(len(task.tensors), -1)
    weights = torch.tensor([p["weight"] for p in task.model_params], dtype=points.dtype, device=points.device)
    if task.params["normalize_weights"]:
        weights = weights / weights.sum()
    merged = _barycentre(task, points, weights, stacked).reshape(stacked.shape[1:])
    return merged if task.base is None else merged + task.base


def _barycentre(task: TensorTask, points: torch.Tensor, weights: torch.Tensor, stacked: torch.Tensor) -> torch.Tensor:
    eps = task.params["eps"]
    norms = torch.linalg.vector_norm(points, dim=-1, keepdim=True)
    units = points / (norms + eps)
    column = weights.unsqueeze(-1)
    mean = (units * column).sum(dim=0)
    mean_norm = torch.linalg.vector_norm(mean)
    if mean_norm < eps:
        if len(points) == 2:
            return stacked[0] * weights[0] + stacked[1] * weights[1]
        raise BadInput(f"tensor {task.name}: multislerp inputs balance out (their weighted mean direction is zero); change the weights")
    mean = mean / mean_norm
    tangent = ((units - (units * mean).sum(dim=-1, keepdim=True) * mean) * column).sum(dim=0)
    length = torch.linalg.vector_norm(tangent) + eps
    on_sphere = mean * torch.cos(length) + tangent * (torch.sin(length) / length)
    return on_sphere * (norms.squeeze(-1) * weights).sum()
