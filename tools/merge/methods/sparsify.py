"""Sparsifying one task vector δ = θᵢ − θ₀, as mergekit 0.1.5's sparsify.py does.

Each sparsifier takes δ (a buffer the caller owns: it is overwritten in place), the model's
resolved parameters, the method's `rescale` flag, the tensor's generator and the merge's
scratch buffers, and returns the sparsified δ in δ's dtype. Density 1 leaves δ untouched.

rescale: multiply the kept entries so that the L1 norm of δ is what it was before pruning
(skipped when either norm is below 1e-7, as mergekit does).
Random draws come from the given generator only, in float32, so a seed gives the same mask on
the same device whatever the compute dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from tools.merge.methods.scratch import Scratch
from tools.merge.methods.select import magnitudes, rank_window

Sparsifier = Callable[[torch.Tensor, Mapping[str, float], bool, "torch.Generator | None", Scratch], torch.Tensor]
RESCALE_EPS = 1e-7


def magnitude(delta: torch.Tensor, p: Mapping[str, float], rescale: bool, generator, scratch: Scratch) -> torch.Tensor:
    """TIES: keep the ⌊density·n⌋ (at least 1) entries of largest |δ|."""
    n = delta.numel()
    if p["density"] >= 1 or n == 0:
        return delta
    k = max(1, int(p["density"] * n))
    return _apply(delta, rank_window(magnitudes(delta, scratch), n - k, n, scratch), rescale)


def outliers(delta: torch.Tensor, p: Mapping[str, float], rescale: bool, generator, scratch: Scratch) -> torch.Tensor:
    """Breadcrumbs: drop the ⌊gamma·n⌋ largest |δ|, then the smallest, so ⌊density·n⌋ remain."""
    n = delta.numel()
    if p["density"] >= 1 or n == 0:
        return delta
    keep, top = int(p["density"] * n), int(p["gamma"] * n)
    bottom = max(0, n - keep - top)
    return _apply(delta, rank_window(magnitudes(delta, scratch), bottom, min(n, bottom + keep), scratch), rescale)


def bernoulli(delta: torch.Tensor, p: Mapping[str, float], rescale: bool, generator, scratch: Scratch) -> torch.Tensor:
    """DARE: keep each entry independently with probability density."""
    if p["density"] >= 1:
        return delta
    work = _work(delta)
    draws = torch.rand(work.shape, generator=generator, device=work.device, out=_view(scratch.get("draws", torch.float32), work))
    keep = torch.lt(draws, p["density"], out=_view(scratch.mask(), work))
    return _apply(work, keep, rescale).to(delta.dtype)


def della(delta: torch.Tensor, p: Mapping[str, float], rescale: bool, generator, scratch: Scratch) -> torch.Tensor:
    """DELLA (MAGPRUNE): per row, keep-probability rises linearly with the rank of |δ|,
    from density − epsilon (smallest) to density + epsilon (largest)."""
    if p["density"] >= 1:
        return delta
    work = _work(delta)
    rows = work.reshape(1, -1) if work.dim() < 2 else work
    probs = _rank_probabilities(rows.abs().float(), p["density"], p["epsilon"])
    draws = torch.rand(rows.shape, generator=generator, device=rows.device, out=_view(scratch.get("draws", torch.float32), rows))
    keep = torch.lt(draws, probs, out=_view(scratch.mask(), rows))
    return _apply(rows, keep, rescale).reshape(delta.shape).to(delta.dtype)


def _rank_probabilities(magnitude: torch.Tensor, density: float, epsilon: float) -> torch.Tensor:
    """(density − ε) + 2ε·rank/(m − 1) in float32, ranks 0..m−1 of |δ| along dim 1 (a row of
    one entry gets density); `magnitude` is overwritten."""
    m = magnitude.shape[1]
    if m == 1:
        return magnitude.fill_(density)
    order = magnitude.argsort(dim=1)
    shape = [1] * magnitude.dim()
    shape[1] = m
    steps = torch.arange(m, dtype=magnitude.dtype, device=magnitude.device).reshape(shape)
    ranks = magnitude.scatter_(1, order, steps.expand_as(order))
    return ranks.div_(m - 1).mul_(2 * epsilon).add_(density - epsilon)


def _apply(delta: torch.Tensor, keep: torch.Tensor, rescale: bool) -> torch.Tensor:
    """δ·keep in place, L1-rescaled back to δ's norm when asked."""
    before = torch.linalg.vector_norm(delta, ord=1) if rescale else None
    delta.mul_(keep.view(delta.shape))
    if before is None:
        return delta
    after = torch.linalg.vector_norm(delta, ord=1)
    if before < RESCALE_EPS or after < RESCALE_EPS:
        return delta
    return delta.mul_(before / after)


def _view(buffer: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return buffer.view(like.shape)


def _work(delta: torch.Tensor) -> torch.Tensor:
    """mergekit's work dtype for random masks: float32 for float16 on CPU, else δ's own dtype."""
    if delta.device.type == "cpu" and delta.dtype == torch.float16:
        return delta.float()
    return delta
