"""model_stock (Jang et al. 2024), as mergekit 0.1.5's model_stock.py:

    c = mean over pairs i<j of cos(δᵢ, δⱼ)     (norm products clamped at 1e-6, cos clamped to [−1, 1])
    t = N·c / (1 + (N−1)·c)                      (t = 0, i.e. the base, when |1 + (N−1)·c| < 1e-6)
    θ = t · mean(θᵢ) + (1 − t) · θ₀

over the whole flattened tensor, or, with filter_wise, per vector along the last dimension
(per row of a weight matrix; a 1-D tensor is one row). Work is in the compute dtype.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask

SINGULAR = 1e-6


def model_stock(task: TensorTask) -> torch.Tensor:
    filter_wise = task.params["filter_wise"]
    w0 = _vectors(task.base, filter_wise)
    ws = [_vectors(x, filter_wise) for x in task.tensors]
    t = _interpolation(_mean_cosine([w - w0 for w in ws]), len(ws))
    average = sum(ws) / len(ws)
    return (t * average + (1 - t) * w0).reshape(task.base.shape)


def _vectors(x: torch.Tensor, filter_wise: bool) -> torch.Tensor:
    """The vectors whose cosines are taken: along the last dim (filter_wise) or the whole tensor."""
    if not filter_wise:
        return x.reshape(-1)
    return x.unsqueeze(0) if x.dim() == 1 else x


def _mean_cosine(offsets: list[torch.Tensor]) -> torch.Tensor:
    norms = [torch.linalg.vector_norm(o, dim=-1) for o in offsets]
    cosines = []
    for i, a in enumerate(offsets):
        for j in range(i + 1, len(offsets)):
            dot = (a * offsets[j]).sum(dim=-1)
            cosines.append((dot / (norms[i] * norms[j]).clamp(min=SINGULAR)).clamp(-1, 1))
    return torch.stack(cosines).mean(dim=0).unsqueeze(-1)


def _interpolation(cos: torch.Tensor, count: int) -> torch.Tensor:
    denominator = 1 + (count - 1) * cos
    singular = denominator.abs() < SINGULAR
    safe = torch.where(singular, torch.ones_like(denominator), denominator)
    return torch.where(singular, torch.zeros_like(cos), count * cos / safe)
