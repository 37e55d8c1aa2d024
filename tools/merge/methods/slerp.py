"""slerp: spherical interpolation between the base θ₀ and one other model θ₁ (mergekit 0.1.5).

Both tensors are flattened; Ω is the angle between their unit vectors (a norm ≤ 1e-8 counts
as 1); the result is sin((1−t)Ω)/sinΩ·θ₀ + sin(tΩ)/sinΩ·θ₁, or (1−t)·θ₀ + t·θ₁ when
|cos Ω| > 0.9995 (nearly parallel or antiparallel). Note the interpolation is of the raw
tensors, not of their unit vectors: the norms are not renormalised. Work is in float32
(float64 for float64 inputs); the result is cast back to the inputs' dtype. t = 0 gives θ₀.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask
from tools.merge.methods.linear import accumulation_dtype

DOT_THRESHOLD = 0.9995
NORM_EPS = 1e-8
CHUNK = 1 << 20  # mergekit's chunk of the cosine sums


def slerp(task: TensorTask) -> torch.Tensor:
    (other,) = task.tensors
    return slerp_tensors(task.params["t"], task.base, other)


def slerp_tensors(t: float, v0: torch.Tensor, v1: torch.Tensor) -> torch.Tensor:
    """Chunk by chunk, converting each chunk to the working precision as it is used: the same
    element operations as converting whole tensors, without their float32 copies (README.md)."""
    dtype = accumulation_dtype(v0)
    a, b = v0.reshape(-1), v1.reshape(-1)
    if a.numel() == 0:
        return v0.clone()
    spans = [(s, s + CHUNK) for s in range(0, a.numel(), CHUNK)]
    t = torch.tensor(t, dtype=dtype, device=a.device)
    coef_a, coef_b = _coefficients(t, _cosine(a, b, spans, dtype))
    out = torch.empty_like(v0)
    flat = out.view(-1)
    for s, e in spans:
        result = a[s:e].to(dtype) * coef_a
        result.add_(b[s:e].to(dtype) * coef_b)
        flat[s:e] = result
    return out


def _cosine(a: torch.Tensor, b: torch.Tensor, spans: list[tuple[int, int]], dtype: torch.dtype) -> torch.Tensor:
    """cos Ω the way mergekit accumulates it (chunk norms, then products of normalised chunks):
    near |cos| = 1, acos amplifies rounding, so the order of the sums is kept."""
    norm_a = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(a[s:e].to(dtype)) for s, e in spans]))
    norm_b = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(b[s:e].to(dtype)) for s, e in spans]))
    norm_a = torch.where(norm_a > NORM_EPS, norm_a, 1)
    norm_b = torch.where(norm_b > NORM_EPS, norm_b, 1)
    dot = torch.stack([((a[s:e].to(dtype) / norm_a) * (b[s:e].to(dtype) / norm_b)).sum() for s, e in spans]).sum()
    return dot.clamp(-1, 1)


def _coefficients(t: torch.Tensor, dot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    linear = dot.abs() > DOT_THRESHOLD
    theta = torch.acos(torch.where(linear, 0, dot))
    sin_theta = torch.sin(theta)
    coef_a = torch.where(linear, 1 - t, torch.sin((1 - t) * theta) / sin_theta)
    coef_b = torch.where(linear, t, torch.sin(t * theta) / sin_theta)
    return coef_a, coef_b
