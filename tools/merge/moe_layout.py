"""Mixture-of-experts weights in the layout transformers 5 holds in memory (and mergekit 0.1.5
writes): per layer one `mlp.experts.gate_up_proj` [experts, 2·inter, hidden] (each expert's gate
rows, then its up rows) and one `mlp.experts.down_proj` [experts, hidden, inter], the router as
`mlp.gate.weight`.

Checkpoints saved per expert (Mixtral's `block_sparse_moe.experts.E.w1/w3/w2`, Qwen-MoE's
`mlp.experts.E.gate_proj/up_proj/down_proj`, as transformers still writes them) are presented
in that fused layout when opened: the fused tensors are assembled from the per-expert ones when
read. So every input of a merge agrees on names whichever way it was saved, each method sees an
expert stack as one tensor (as mergekit's merge does), and the output is written fused, which
transformers 5 loads natively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from tools.errors import BadInput
from tools.merge.sources import SourceModel
from tools.merge.tensorfile import TensorRef

# per-expert name -> (layer prefix, expert, role); roles: gate, up, down
EXPERT_RE = re.compile(
    r"^(?P<layer>.*\.layers\.\d+)\.(?:block_sparse_moe|mlp)\.experts\.(?P<expert>\d+)\.(?P<proj>w1|w2|w3|gate_proj|up_proj|down_proj)\.weight$"
)
ROLES = {"w1": "gate", "gate_proj": "gate", "w3": "up", "up_proj": "up", "w2": "down", "down_proj": "down"}
ROUTER_RE = re.compile(r"^(?P<layer>.*\.layers\.\d+)\.block_sparse_moe\.gate\.weight$")


@dataclass(frozen=True)
class StackedRef:
    """A fused expert tensor: stack over experts of the concatenation (dim 0) of each expert's pieces."""

    experts: tuple[tuple[TensorRef, ...], ...]

    @property
    def shape(self) -> tuple[int, ...]:
        first = self.experts[0]
        return (len(self.experts), sum(p.shape[0] for p in first), *first[0].shape[1:])

    @property
    def dtype(self) -> str:
        return self.experts[0][0].dtype

    @property
    def torch_dtype(self) -> torch.dtype:
        return self.experts[0][0].torch_dtype

    @property
    def file(self) -> Path:
        return self.experts[0][0].file

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for pieces in self.experts for p in pieces)

    def read(self) -> torch.Tensor:
        return torch.stack([torch.cat([p.read() for p in pieces], dim=0) for pieces in self.experts])


def fuse_experts(source: SourceModel) -> SourceModel:
    """The source with per-expert weights presented as fused stacks (unchanged without any)."""
    found: dict[str, dict[int, dict[str, TensorRef]]] = {}
    for name, ref in source.tensors.items():
        match = EXPERT_RE.match(name)
        if match is not None:
            found.setdefault(match["layer"], {}).setdefault(int(match["expert"]), {})[ROLES[match["proj"]]] = ref
    if not found:
        return source
    tensors = {n: r for n, r in source.tensors.items() if EXPERT_RE.match(n) is None}
    for name in [n for n in tensors if ROUTER_RE.match(n)]:
        tensors[ROUTER_RE.sub(r"\g<layer>.mlp.gate.weight", name)] = tensors.pop(name)
    for layer, experts in found.items():
        tensors[f"{layer}.mlp.experts.gate_up_proj"] = _stack(source, layer, experts, ("gate", "up"))
        tensors[f"{layer}.mlp.experts.down_proj"] = _stack(source, layer, experts, ("down",))
    return replace(source, tensors=tensors)


def _stack(source: SourceModel, layer: str, experts: dict[int, dict[str, TensorRef]], roles: tuple[str, ...]) -> StackedRef:
    if sorted(experts) != list(range(len(experts))):
        raise BadInput(f"model {source.name} ({source.path}): {layer} has experts {sorted(experts)[:6]}, not 0..{len(experts) - 1}")
    pieces = []
    for e in range(len(experts)):
        missing = [r for r in roles if r not in experts[e]]
        if missing:
            raise BadInput(f"model {source.name} ({source.path}): {layer} expert {e} lacks its {'/'.join(missing)} projection")
        pieces.append(tuple(experts[e][r] for r in roles))
    shapes = {tuple(p.shape for p in group) for group in pieces}
    if len(shapes) > 1:
        raise BadInput(f"model {source.name} ({source.path}): {layer}'s experts have different shapes")
    return StackedRef(tuple(pieces))
