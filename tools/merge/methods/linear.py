"""linear: Σwᵢθᵢ / Σwᵢ (no division when normalize is false). No base.

As mergekit 0.1.5's linear.py: accumulated in float32 (float64 for float64 inputs) with the
weights in that precision, then cast back to the inputs' dtype. A zero weight sum with
normalize is refused before merging (registry: `weights_sum_nonzero`); mergekit would write
Inf/NaN.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask

CHUNK = 1 << 18  # elements: a float32 chunk stays in the L2 cache


def accumulation_dtype(tensor: torch.Tensor) -> torch.dtype:
    return torch.float64 if tensor.dtype == torch.float64 else torch.float32


def linear(task: TensorTask) -> torch.Tensor:
    """Chunk by chunk into the output (the same element operations as one whole-tensor pass):
    whole-tensor float32 temporaries of a bfloat16 model cost 8x more, in page faults of fresh
    allocations, than the arithmetic (tools/merge/README.md, "Where the time goes")."""
    first = task.tensors[0]
    dtype = accumulation_dtype(first)
    weights = torch.tensor([p["weight"] for p in task.model_params], dtype=dtype, device=first.device)
    total = weights.sum() if task.params["normalize"] else None
    out = torch.empty_like(first)
    flat_out, flats = out.view(-1), [t.reshape(-1) for t in task.tensors]
    for start in range(0, first.numel(), CHUNK):
        stop = min(first.numel(), start + CHUNK)
        result = torch.zeros(stop - start, dtype=dtype, device=first.device)
        for flat, weight in zip(flats, weights):
            result.addcmul_(flat[start:stop], weight)
        if total is not None:
            result.div_(total)
        flat_out[start:stop] = result
    return out
