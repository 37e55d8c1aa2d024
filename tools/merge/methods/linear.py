"""linear: Σwᵢθᵢ / Σwᵢ (no division when normalize is false). No base.

As mergekit 0.1.5's linear.py: accumulated in float32 (float64 for float64 inputs) with the
weights in that precision, then cast back to the inputs' dtype. A zero weight sum with
normalize is refused before merging (registry: `weights_sum_nonzero`); mergekit would write
Inf/NaN.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask


def accumulation_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def linear(task: TensorTask) -> torch.Tensor:
    first = task.tensors[0]
    dtype = accumulation_dtype(first)
    weights = torch.tensor([p["weight"] for p in task.model_params], dtype=dtype, device=first.device)
    result = torch.zeros_like(first, dtype=dtype)
    for tensor, weight in zip(task.tensors, weights):
        result.addcmul_(tensor, weight)
    if task.params["normalize"]:
        result.div_(weights.sum())
    return result.to(first.dtype)
