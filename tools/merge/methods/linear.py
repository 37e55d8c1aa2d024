"""linear: Σwᵢθᵢ / Σwᵢ (no division when normalize is false). No base."""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask


def linear(task: TensorTask) -> torch.Tensor:
    weights = torch.tensor([p["weight"] for p in task.model_params], dtype=task.tensors[0].dtype, device=task.tensors[0].device)
    stacked = torch.stack(list(task.tensors))
    result = torch.tensordot(weights, stacked, dims=1)
    if task.params["normalize"]:
        result = result / weights.sum()
    return result
