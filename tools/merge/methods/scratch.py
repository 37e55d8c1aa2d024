"""Tensor-sized temporaries reused across the models of one merged tensor.

On CPU a fresh tensor-sized allocation is paid in page faults, often more than the arithmetic
done in it (32 MB costs about as much as five elementwise passes over it). The task-arithmetic
family therefore asks for its work buffers by role and reuses them from model to model.
"""

from __future__ import annotations

import torch


class Scratch:
    """Flat buffers shaped like one tensor, one per (role, dtype), made on first use."""

    def __init__(self, like: torch.Tensor):
        self.numel = like.numel()
        self.device = like.device
        self._buffers: dict[tuple[str, torch.dtype], torch.Tensor] = {}

    def get(self, role: str, dtype: torch.dtype) -> torch.Tensor:
        key = (role, dtype)
        if key not in self._buffers:
            self._buffers[key] = torch.empty(self.numel, dtype=dtype, device=self.device)
        return self._buffers[key]

    def mask(self, role: str = "mask") -> torch.Tensor:
        return self.get(role, torch.bool)
