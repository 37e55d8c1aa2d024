"""nuslerp: slerp between two models with t = w₂/(w₁+w₂) (0.5 when |w₁+w₂| < 1e-6), as in
mergekit 0.1.5's nuslerp.py.

With a base, the two task vectors are interpolated and added to θ₀. With nuslerp_flatten
(default) each tensor is one vector; otherwise the interpolation is per vector along the last
dimension (per row of a weight matrix), or along the first dimension (per column) when
nuslerp_row_wise is true: mergekit's naming, kept. Vectors whose cosine has 1 − cos² ≤ 1e-16
are interpolated linearly. Unlike slerp, the work is in the compute dtype (as mergekit does).
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask

EPS = 1e-8
NORM_EPS = 1e-7


def nuslerp(task: TensorTask) -> torch.Tensor:
    first, second = task.tensors
    w1, w2 = (p["weight"] for p in task.model_params)
    total = w1 + w2
    t = 0.5 if abs(total) < 1e-6 else w2 / total
    dim = 0 if task.params["nuslerp_row_wise"] else -1
    flatten = task.params["nuslerp_flatten"]
    if task.base is None:
        return nuslerp_tensors(t, first, second, dim=dim, flatten=flatten)
    merged = nuslerp_tensors(t, first - task.base, second - task.base, dim=dim, flatten=flatten)
    return merged.add_(task.base)


def nuslerp_tensors(t: float, v0: torch.Tensor, v1: torch.Tensor, *, dim: int = -1, flatten: bool = True) -> torch.Tensor:
    shape = v0.shape
    if flatten:
        v0, v1 = v0.reshape(-1), v1.reshape(-1)
    elif dim != -1:
        v0, v1 = v0.transpose(dim, -1), v1.transpose(dim, -1)
    cos = (_unit(v0) * _unit(v1)).sum(dim=-1, keepdim=True).clamp(-1, 1)
    colinear = (1 - cos.square()) <= EPS**2
    theta = torch.acos(torch.where(colinear, 0, cos))
    result = (torch.sin((1 - t) * theta) * v0 + torch.sin(t * theta) * v1) / torch.sin(theta)
    result = torch.where(colinear, (1 - t) * v0 + t * v1, result)
    if dim != -1 and not flatten:
        result = result.transpose(dim, -1)
    return result.reshape(shape)


def _unit(x: torch.Tensor) -> torch.Tensor:
    return x / torch.linalg.vector_norm(x, dim=-1, keepdim=True).clamp(min=NORM_EPS)
