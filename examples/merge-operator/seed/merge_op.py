"""The merge operator under search: how to combine the experts' task vectors with the base.

`merge(base, deltas, name)` gets one parameter tensor of the base model, the task vectors
of the experts for that tensor (expert - base, one per expert, same shape) and the
parameter's name, and returns the merged tensor (same shape). The seed is plain task
arithmetic: the base plus the sum of the task vectors.
"""

import torch


def merge(base: torch.Tensor, deltas: list[torch.Tensor], name: str) -> torch.Tensor:
    return base + torch.stack(deltas).sum(dim=0)
