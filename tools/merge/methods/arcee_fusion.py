"""arcee_fusion (Arcee's Fusion), as mergekit 0.1.5's arcee_fusion.py: move the base θ₀ toward the
other model θ₁ only where θ₁ differs from it in an unusually important way.

    importance = |θ₁ − θ₀| · KL(softmax(θ₁) ‖ softmax(θ₀))      softmax and KL along the last dim
                 (one KL per row; a 1-D tensor is one row), softmax outputs + 1e-8
    q₁, q₂, q₃ = the 25/50/75 % quantiles of importance: the value at sorted position
                 ⌊q·(n−1)⌋ of its flattened entries
    θ = θ₀ + (θ₁ − θ₀)·[importance ≥ q₂ + 1.5·(q₃ − q₁)]

Quantiles are exact for every size (k-th value selection over all entries). mergekit sorts a
random sample of 1M entries when a tensor has more, so its result on such tensors is random;
Clade's is deterministic and equals mergekit's on tensors of at most 1M entries.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask

SOFTMAX_EPS = 1e-8
QUANTILES = (0.25, 0.5, 0.75)


def arcee_fusion(task: TensorTask) -> torch.Tensor:
    (other,) = task.tensors
    base = task.base
    importance = importance_scores(other, base)
    q1, median, q3 = _quantiles(importance.reshape(-1))
    keep = importance >= median + 1.5 * (q3 - q1)
    return base + (other - base) * keep.to(base.dtype)


def importance_scores(other: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
    p = torch.softmax(other, dim=-1) + SOFTMAX_EPS
    q = torch.softmax(base, dim=-1) + SOFTMAX_EPS
    divergence = (p * torch.log(p / q)).sum(dim=-1, keepdim=True)
    return (other - base).abs() * divergence


def _quantiles(flat: torch.Tensor) -> list[torch.Tensor]:
    """Sorted-position quantiles ⌊q·(n−1)⌋ (the position in float32, as mergekit computes it)."""
    positions = (torch.tensor(QUANTILES) * (flat.numel() - 1)).long().tolist()
    return [torch.kthvalue(flat, i + 1).values for i in positions]
