"""ram and ramplus_tl (Reinforced Agent Merging, arXiv:2601.13572), as mergekit 0.1.5's ram.py.

An entry of a task vector δᵢ = θᵢ − θ₀ counts as changed when |δᵢₑ| > epsilon; cₑ is the number
of models that changed entry e.

    ram:         θₑ = θ₀ₑ + Σᵢ [changed]·δᵢₑ / max(cₑ, 1)
                 (an entry one model changed keeps its full δ; shared entries are averaged
                 over the models that changed them, not over all N)
    ramplus_tl:  as ram, but the entries only model i changed are scaled by
                 λᵢ = 1 + r·clamp(ρᵢ, 0, alpha),  ρᵢ = (#entries i shares) / max(#entries only i changed, epsilon)
                 computed over this tensor ("tensor-local"; the paper's RAM+ counts over the model).
                 λ is float32, so for 16-bit inputs the sum is float32, rounded once at the end.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask


def _changes(task: TensorTask) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(δ flattened per model with unchanged entries zeroed, changed mask, count per entry)."""
    deltas = torch.stack([t - task.base for t in task.tensors]).reshape(len(task.tensors), -1)
    changed = deltas.abs() > task.params["epsilon"]
    return deltas * changed, changed, changed.sum(dim=0, keepdim=True)


def ram(task: TensorTask) -> torch.Tensor:
    deltas, _, counts = _changes(task)
    unique, shared = counts == 1, counts > 1
    merged = (deltas * unique + deltas * shared / counts.clamp(min=1)).sum(dim=0)
    return task.base + merged.reshape(task.base.shape)


def ramplus_tl(task: TensorTask) -> torch.Tensor:
    deltas, changed, counts = _changes(task)
    unique, shared = counts == 1, counts > 1
    ratio = (changed & shared).sum(dim=1) / (changed & unique).sum(dim=1).clamp(min=task.params["epsilon"])
    boost = 1 + task.params["r"] * ratio.clamp(min=0, max=task.params["alpha"])
    merged = (deltas * unique * boost.unsqueeze(-1) + deltas * shared / counts.clamp(min=1)).sum(dim=0)
    return (task.base + merged.reshape(task.base.shape)).to(task.base.dtype)
