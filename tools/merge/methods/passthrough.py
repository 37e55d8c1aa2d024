"""passthrough: the single input, times its `scale` when one is set (mergekit 0.1.5).

With `slices` this is how layers are stacked or reordered (the executor does the structure).
Without a scale (or with scale 1) the input tensor itself is returned, not a copy: callers
must not write into the result of a merge in place.
"""

from __future__ import annotations

import torch

from tools.merge.methods.base import TensorTask


def passthrough(task: TensorTask) -> torch.Tensor:
    (tensor,) = task.tensors
    scale = task.model_params[0].get("scale") if task.model_params else None
    if scale is None or scale == 1:
        return tensor
    return tensor * scale
