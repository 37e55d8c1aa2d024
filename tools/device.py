"""The one check of a `--device` value, shared by merging and evaluation (imports torch when called)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.errors import BadInput

if TYPE_CHECKING:
    import torch


def check_device(device: str) -> "torch.device":
    """The parsed device; BadInput for a malformed name, a non-CPU/CUDA type, or CUDA without a GPU."""
    import torch

    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise BadInput(f"--device {device}: not a device name (use cpu, cuda or cuda:N)") from None
    if parsed.type not in ("cpu", "cuda"):
        raise BadInput(f"--device {device}: expected cpu, cuda or cuda:N")
    if parsed.type == "cuda" and not torch.cuda.is_available():
        raise BadInput(f"--device {device}: no CUDA device is available here (use --device cpu)")
    return parsed
