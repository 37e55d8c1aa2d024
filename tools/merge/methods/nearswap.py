"""nearswap (alchemonaut's QuartetAnemoi-70B-t0.0001), as mergekit 0.1.5's nearswap.py: take the
other model's value where it lies near the base's, keep the base's where they are far apart.

    wₑ = clamp(t / max(|θ₀ₑ − θ₁ₑ|, 1e-6), 0, 1)        per element e
    θ = wₑ·θ₁ + (1 − wₑ)·θ₀

so entries within t of each other become θ₁ exactly, and the further apart, the more θ₀ wins.
The base plus exactly one other model; t is required (> 0 is meaningful; t ≤ 0 gives θ₀).
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask

DIFF_FLOOR = 1e-6


def nearswap(task: TensorTask) -> torch.Tensor:
    (other,) = task.tensors
    base = task.base
    weight = (task.params["t"] / (base - other).abs().clamp(min=DIFF_FLOOR)).clamp(0, 1)
    return weight * other + (1 - weight) * base
