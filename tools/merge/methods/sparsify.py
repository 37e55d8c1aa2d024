"""Sparsifying the task vectors δ = θᵢ − θ₀, as mergekit 0.1.5's sparsify.py does.

A sparsifier turns one model's (θᵢ, θ₀, parameters) into a `Source`: something that yields the
weighted, sparsified task vector wᵢ·sparsify(δ) one flat chunk at a time, so the combination
step (generalized.py) never holds a whole task vector. The magnitude methods (TIES,
Breadcrumbs) find their thresholds in one streaming pass (select.py) and rebuild each chunk
from θᵢ and θ₀; the random methods (DARE, DELLA) draw their masks over the whole tensor once
and keep the sparsified δ. Density 1 leaves δ untouched in every method.

rescale: multiply the kept entries so that the L1 norm of δ is what it was before pruning
(skipped when either norm is below 1e-7, as mergekit does; the ratio is taken in the compute
dtype, as mergekit does). Random draws come from the given generator only, uniform float32
per entry, model after model: a seed gives the same masks on the same device whatever the
compute dtype.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch

from tools.merge.methods.select import Cut, Magnitudes, top_cut, window_keep

RESCALE_EPS = 1e-7


class Source:
    """wᵢ·δ chunk by chunk, optionally masked by `keep(|δ| chunk, offset)` and multiplied by `scale`."""

    def __init__(self, theta: torch.Tensor, base: torch.Tensor, weight: float, keep=None, scale=None):
        self.theta, self.base = theta.reshape(-1), base.reshape(-1)
        self.weight, self.keep, self.scale = weight, keep, scale

    def chunk(self, start: int, stop: int) -> torch.Tensor:
        delta = self.theta[start:stop] - self.base[start:stop]
        if self.keep is not None:
            delta.mul_(self.keep(Magnitudes._abs(delta, None), start))
        if self.scale is not None:
            delta.mul_(self.scale)
        return delta.mul_(self.weight)


class Stored(Source):
    """A sparsified δ computed whole (random masks), served by chunks."""

    def __init__(self, delta: torch.Tensor, weight: float):
        self.delta, self.weight = delta.reshape(-1), weight

    def chunk(self, start: int, stop: int) -> torch.Tensor:
        return self.delta[start:stop] * self.weight


Sparsifier = Callable[[torch.Tensor, torch.Tensor, float, Mapping[str, float], bool, "torch.Generator | None"], Source]


def dense(theta, base, weight, p, rescale, generator) -> Source:
    return Source(theta, base, weight)


def magnitude(theta, base, weight, p, rescale, generator) -> Source:
    """TIES: keep the ⌊density·n⌋ (at least 1) entries of largest |δ|."""
    n = theta.numel()
    if p["density"] >= 1 or n == 0:
        return Source(theta, base, weight)
    cut = top_cut(Magnitudes(theta, base), max(1, int(p["density"] * n)), sums=rescale)
    return Source(theta, base, weight, cut.keep, _scale(cut.total_sum, cut.kept_sum, theta) if rescale else None)


def outliers(theta, base, weight, p, rescale, generator) -> Source:
    """Breadcrumbs: drop the ⌊gamma·n⌋ largest |δ|, then the smallest, so ⌊density·n⌋ remain."""
    n = theta.numel()
    if p["density"] >= 1 or n == 0:
        return Source(theta, base, weight)
    keep, top = int(p["density"] * n), int(p["gamma"] * n)
    bottom = max(0, n - keep - top)
    magnitudes = Magnitudes(theta, base)
    upper = top_cut(magnitudes, n - bottom, sums=rescale)
    lower = top_cut(magnitudes, n - min(n, bottom + keep), sums=rescale)
    scale = _scale(upper.total_sum, upper.kept_sum - lower.kept_sum, theta) if rescale else None
    return Source(theta, base, weight, lambda w, offset: _window(upper, lower, w, offset), scale)


def _window(upper: Cut, lower: Cut, w: torch.Tensor, offset: int) -> torch.Tensor:
    return window_keep(upper, lower, w, offset)


def bernoulli(theta, base, weight, p, rescale, generator) -> Source:
    """DARE: keep each entry independently with probability density."""
    delta = theta - base
    if p["density"] >= 1:
        return Stored(delta, weight)
    work = _work(delta)
    keep = torch.rand(work.shape, generator=generator, device=work.device) < p["density"]
    return Stored(_apply(work, keep, rescale).to(delta.dtype), weight)


def della(theta, base, weight, p, rescale, generator) -> Source:
    """DELLA (MAGPRUNE): per row, keep-probability rises linearly with the rank of |δ|,
    from density − epsilon (smallest) to density + epsilon (largest)."""
    delta = theta - base
    if p["density"] >= 1:
        return Stored(delta, weight)
    work = _work(delta)
    rows = work.reshape(1, -1) if work.dim() < 2 else work
    probs = _rank_probabilities(rows.abs().float(), p["density"], p["epsilon"])
    keep = torch.rand(rows.shape, generator=generator, device=rows.device) < probs
    return Stored(_apply(rows, keep, rescale).reshape(delta.shape).to(delta.dtype), weight)


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
    before = float(torch.linalg.vector_norm(delta, ord=1, dtype=torch.float64)) if rescale else None
    delta.mul_(keep)
    if before is None:
        return delta
    scale = _scale(before, float(torch.linalg.vector_norm(delta, ord=1, dtype=torch.float64)), delta)
    return delta if scale is None else delta.mul_(scale)


def _scale(before: float, after: float, like: torch.Tensor) -> torch.Tensor | None:
    """before/after as mergekit takes it, both norms rounded to the compute dtype; None below
    1e-7. Where a norm overflows the dtype (float16 sums past 65504) mergekit gets Inf/Inf =
    NaN; Clade takes the ratio of the exact norms instead."""
    before_t, after_t = (torch.tensor(x, dtype=like.dtype, device=like.device) for x in (before, after))
    if before_t < RESCALE_EPS or after_t < RESCALE_EPS:
        return None
    if torch.isinf(before_t) or torch.isinf(after_t):
        return torch.tensor(before / after, dtype=like.dtype, device=like.device)
    return before_t / after_t


def _work(delta: torch.Tensor) -> torch.Tensor:
    """mergekit's work dtype for random masks: float32 for float16 on CPU, else δ's own dtype."""
    if delta.device.type == "cpu" and delta.dtype == torch.float16:
        return delta.float()
    return delta
