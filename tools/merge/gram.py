"""What RegMean (calibrate.py) and RegMean++ (calibrate_merged.py) share: the encoded calibration
data, and forward hooks that sum the Gram matrix of every linear layer's input."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from tools.evaluate.inference import ScoreBatch, score_batches
from tools.merge.methods.base import Statistic


@dataclass(frozen=True)
class Data:
    """The encoded calibration sequences of one set of tasks."""

    tasks: tuple[str, ...]
    pairs: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]  # (context ids, continuation ids)

    def batches(self, size: int, device: torch.device) -> list[ScoreBatch]:
        return score_batches(self.pairs, size, 0, str(device))


class GramHooks:
    """Forward hooks summing x·xᵀ of each hooked linear layer's input over the unpadded tokens."""

    def __init__(self, modules: Mapping[str, torch.nn.Module]):
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}
        self.valid: torch.Tensor | None = None
        self.inputs_first = {name: not isinstance(m, torch.nn.Linear) for name, m in modules.items()}
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in modules.items()]

    def _hook(self, name: str):
        def hook(module, inputs, output):
            x = inputs[0].reshape(-1, inputs[0].shape[-1])[self.valid].float()
            if name not in self.sums:
                self.sums[name] = torch.zeros(x.shape[1], x.shape[1], device=x.device)
                self.counts[name] = 0
            self.sums[name].addmm_(x.T, x)
            self.counts[name] += x.shape[0]

        return hook

    def result(self, names: Mapping[str, str]) -> dict[str, Statistic]:
        """Tensor name -> Statistic, for the hooked module names in `names` (module -> tensor)."""
        for handle in self.handles:
            handle.remove()
        return {
            names[m]: Statistic(s / self.counts[m], tokens=self.counts[m], inputs_first=self.inputs_first[m])
            for m, s in self.sums.items()
            if self.counts[m]
        }


def linear_modules(module: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """nn.Linear and transformers' Conv1D (GPT-2's linear layer, weight stored [in, out])."""
    from transformers.pytorch_utils import Conv1D

    return {name: m for name, m in module.named_modules() if isinstance(m, (torch.nn.Linear, Conv1D))}
