"""Magnitude selection by threshold, in one streaming pass: which entries are the k largest.

mergekit sorts every task vector (argsort: O(n log n) and an int64 index per entry) to keep
its top-k. Here the k-th value is found by selection: a small fixed sample brackets it, one
pass over the tensor in cache-sized chunks counts what lies below and above the bracket and
collects the few entries inside it, and `kthvalue` runs on those (if the bracket missed, the
pass is repeated with an open bracket). The result is exact whatever the sample; the sample
only decides how much is collected.

Ties at the threshold are broken by flat index: of the entries equal to the k-th value, the
last ones in flat order are kept (what a stable ascending sort puts last), so exactly k
entries are kept and the choice is the same on every device. mergekit's choice among equal
magnitudes is whatever its unstable sort does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

CHUNK = 1 << 20  # entries per chunk of a streaming pass: few enough chunks that per-op overhead stays small
SMALL = 1 << 17  # up to this many entries everything is collected, no bracket
SAMPLE_MAX = 1 << 16  # bracket sample: n/64 entries, within [4096, 65536]
SAMPLE_SEED = 0x5E1EC7  # fixed: the bracket must not depend on (or disturb) any other generator


class Magnitudes:
    """|δ| = |θ − θ₀| (or |θ| without a base) of flattened tensors, by flat range or at indices,
    in the tensors' dtype, as mergekit does. Half types stay half: every comparison is with a value
    taken from these same magnitudes (or ±inf), so it is exact, and converting each chunk to
    float32 cost 40% of a bfloat16 TIES merge (tools/merge/README.md); sums are float64."""

    def __init__(self, theta: torch.Tensor, base: torch.Tensor | None = None):
        self.theta = theta.reshape(-1)
        self.base = None if base is None else base.reshape(-1)
        self.n = self.theta.numel()

    def range(self, start: int, stop: int) -> torch.Tensor:
        return self._abs(self.theta[start:stop], None if self.base is None else self.base[start:stop])

    def at(self, index: torch.Tensor) -> torch.Tensor:
        return self._abs(self.theta[index], None if self.base is None else self.base[index])

    @staticmethod
    def _abs(theta: torch.Tensor, base: torch.Tensor | None) -> torch.Tensor:
        return (theta if base is None else theta - base).abs()


@dataclass(frozen=True)
class Cut:
    """The k largest |δ|: every entry above `value`, and those equal to it from flat index `index` on.

    kept_sum and total_sum are Σ|δ| over the kept entries and over all (for L1 rescaling)."""

    value: torch.Tensor
    index: int
    kept_sum: float
    total_sum: float

    def keep(self, w: torch.Tensor, offset: int) -> torch.Tensor:
        """The keep mask of the chunk w of |δ| that starts at flat index `offset`."""
        if self.index <= offset:
            return w >= self.value
        mask = w > self.value
        split = self.index - offset
        if split < w.numel():
            mask[split:] |= w[split:] == self.value
        return mask


def top_cut(magnitudes: Magnitudes, k: int, *, sums: bool = True) -> Cut:
    """The cut keeping the k largest magnitudes (0 <= k <= n); `sums=False` skips the L1
    sums (kept_sum and total_sum are then 0)."""
    n = magnitudes.n
    if k == 0 or k == n:
        total = sum(float(magnitudes.range(s, e).sum(dtype=torch.float64)) for s, e in chunks(n)) if sums else 0.0
        inf = torch.tensor(math.inf if k == 0 else -math.inf)
        return Cut(inf, n if k == 0 else 0, total if k == n else 0.0, total)
    rank = n - k + 1  # the threshold's 1-based position in ascending order
    if n > SMALL:
        found = _cut(magnitudes, k, rank, _Scan(*_bracket(magnitudes, rank), sums))
        if found is not None:
            return found
    return _cut(magnitudes, k, rank, _Scan(-math.inf, math.inf, sums))


def chunks(n: int):
    for start in range(0, n, CHUNK):
        yield start, min(n, start + CHUNK)


def _cut(magnitudes: Magnitudes, k: int, rank: int, scan: _Scan) -> Cut | None:
    n = magnitudes.n
    for start, stop in chunks(n):
        scan.add(magnitudes.range(start, stop), start)
    band, positions = scan.band()
    if not scan.below < rank <= scan.below + band.numel():
        return None
    value = torch.kthvalue(band, rank - scan.below).values
    greater, equal = band > value, band == value
    need = k - (n - scan.below - band.numel()) - int(torch.count_nonzero(greater))
    ties = positions[equal]
    index = int(ties[ties.numel() - need]) if need < ties.numel() else 0
    kept = scan.above_sum + float(band[greater].sum(dtype=torch.float64)) + need * float(value) if scan.sums else 0.0
    return Cut(value, index, kept, scan.total_sum)


class _Scan:
    """Running counts of one pass: entries below the bracket, sums, and the entries inside it."""

    def __init__(self, low: float, high: float, sums: bool):
        self.low, self.high, self.sums = low, high, sums
        self.below, self.above_sum, self.total_sum = 0, 0.0, 0.0
        self.values: list[torch.Tensor] = []
        self.positions: list[torch.Tensor] = []

    def add(self, w: torch.Tensor, offset: int) -> None:
        if self.sums:
            self.total_sum += float(w.sum(dtype=torch.float64))
        if self.low == -math.inf and self.high == math.inf:
            self.values.append(w)
            self.positions.append(torch.arange(offset, offset + w.numel(), device=w.device))
            return
        self.below += int(torch.count_nonzero(w < self.low))
        above = w > self.high
        if self.sums:
            self.above_sum += float(torch.where(above, w, 0).sum(dtype=torch.float64))
        index = torch.nonzero(above.logical_or_(w < self.low).logical_not_()).squeeze(1)
        self.values.append(w[index])
        self.positions.append(index.add_(offset))

    def band(self) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.cat(self.values), torch.cat(self.positions)


def _bracket(magnitudes: Magnitudes, rank: int) -> tuple[float, float]:
    """Two sampled values enclosing the rank-th smallest with overwhelming probability (±5σ)."""
    n = magnitudes.n
    size = min(SAMPLE_MAX, max(4096, n // 64))
    generator = torch.Generator().manual_seed(SAMPLE_SEED)
    index = torch.randint(n, (size,), generator=generator).to(magnitudes.theta.device)
    sample = torch.sort(magnitudes.at(index)).values
    q = (rank - 0.5) / n
    margin = 5 * math.sqrt(size * q * (1 - q)) + 2
    lo, hi = math.floor(q * size - margin), math.ceil(q * size + margin)
    low = float(sample[lo]) if lo > 0 else -math.inf
    high = float(sample[hi]) if hi < size - 1 else math.inf
    return low, high


def rank_window(w: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Boolean mask of the entries of 1-D w >= 0 at positions [start, stop) of its stable
    ascending sort: the k = n − start largest, less the n − stop largest."""
    magnitudes = Magnitudes(w)
    n = magnitudes.n
    upper, lower = top_cut(magnitudes, n - start), top_cut(magnitudes, n - min(stop, n))
    return window_keep(upper, lower, w, 0) if start < stop else torch.zeros_like(w, dtype=torch.bool)


def window_keep(upper: Cut, lower: Cut, w: torch.Tensor, offset: int) -> torch.Tensor:
    """Kept by `upper` and not by `lower` (a window of the sorted order), for one chunk."""
    return upper.keep(w, offset).logical_and_(~lower.keep(w, offset))
