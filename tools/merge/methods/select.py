"""Magnitude selection by threshold: which entries sit at given positions of a sorted order.

mergekit sorts every task vector (argsort, O(n log n), plus an int64 index per entry) to keep
its top-k entries. Here the k-th value is found by selection instead: a small fixed sample of
the tensor brackets it, one counting pass checks the bracket, and `kthvalue` runs on the few
entries inside it (on everything, if the bracket missed). The result is exact, whatever the
sample.

Ties at a threshold are broken by flat index, as a stable ascending sort orders them, so a
window keeps exactly `stop - start` entries and the choice is the same on every device.
"""

from __future__ import annotations

import math

import torch

from tools.merge.methods.scratch import Scratch

SAMPLE_MAX = 1 << 16  # entries sampled to bracket the k-th value: n/64, within [4096, 65536]
SMALL = 1 << 17  # below this many entries plain kthvalue is as fast
SAMPLE_SEED = 0x5E1EC7  # fixed: the bracket must not depend on (or disturb) any other generator


def magnitudes(tensor: torch.Tensor, scratch: Scratch) -> torch.Tensor:
    """|tensor| flattened, into scratch; float32 on CPU for half types (exact conversion)."""
    if tensor.device.type == "cpu" and tensor.dtype in (torch.float16, torch.bfloat16):
        return scratch.get("magnitude", torch.float32).copy_(tensor.reshape(-1)).abs_()
    return torch.abs(tensor.reshape(-1), out=scratch.get("magnitude", tensor.dtype))


def kth_smallest(w: torch.Tensor, k: int, scratch: Scratch | None = None) -> torch.Tensor:
    """The k-th smallest value (1-based) of the 1-D tensor w, as a 0-d tensor."""
    if w.numel() > SMALL:
        found = _kth_in_bracket(w, k, scratch or Scratch(w))
        if found is not None:
            return found
    return torch.kthvalue(w, k).values


def _kth_in_bracket(w: torch.Tensor, k: int, scratch: Scratch) -> torch.Tensor | None:
    low, high = _bracket(w, k)
    inside, other = scratch.mask("bracket"), scratch.mask("bracket-2")
    below = int(torch.count_nonzero(torch.lt(w, low, out=inside)))
    torch.ge(w, low, out=inside).logical_and_(torch.le(w, high, out=other))
    candidates = w.masked_select(inside)
    if below < k <= below + candidates.numel():
        return torch.kthvalue(candidates, k - below).values
    return None


def _bracket(w: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two sample values enclosing the k-th smallest with overwhelming probability (±5σ)."""
    n = w.numel()
    size = min(SAMPLE_MAX, max(4096, n // 64))
    generator = torch.Generator(device=w.device).manual_seed(SAMPLE_SEED)
    index = torch.randint(n, (size,), generator=generator, device=w.device)
    sample = torch.sort(w[index]).values
    q = (k - 0.5) / n
    margin = 5 * math.sqrt(size * q * (1 - q)) + 2
    lo, hi = math.floor(q * size - margin), math.ceil(q * size + margin)
    low = sample[lo] if lo > 0 else w.new_tensor(-math.inf)
    high = sample[hi] if hi < size - 1 else w.new_tensor(math.inf)
    return low, high


def rank_window(w: torch.Tensor, start: int, stop: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Boolean mask (a scratch buffer) of the entries of 1-D w at positions [start, stop) of
    its stable ascending sort."""
    scratch = scratch or Scratch(w)
    n, keep = w.numel(), scratch.mask("keep")
    if start >= stop:
        return keep.zero_()
    low = kth_smallest(w, start + 1, scratch) if start > 0 else None
    high = kth_smallest(w, stop, scratch) if stop < n else None
    _between(w, low, high, keep, scratch.mask("bracket"))
    if int(torch.count_nonzero(keep)) == stop - start:
        return keep
    for value in _distinct(low, high):
        _trim_ties(w, value, start, stop, keep, scratch.mask("bracket"))
    return keep


def _trim_ties(w: torch.Tensor, value: torch.Tensor, start: int, stop: int, keep: torch.Tensor, flags: torch.Tensor) -> None:
    """Drop from `keep` the entries equal to `value` whose stable sort position is outside the window."""
    first = int(torch.count_nonzero(torch.lt(w, value, out=flags)))
    index = torch.nonzero(torch.eq(w, value, out=flags)).squeeze(1)
    position = torch.arange(first, first + index.numel(), device=w.device)
    keep[index[(position < start) | (position >= stop)]] = False


def top_k(w: torch.Tensor, k: int, scratch: Scratch | None = None) -> torch.Tensor:
    """Boolean mask of the k largest entries of 1-D w (ties: the later flat indices win)."""
    return rank_window(w, w.numel() - k, w.numel(), scratch)


def _between(w: torch.Tensor, low, high, out: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    if low is None and high is None:
        return out.fill_(True)
    if low is None:
        return torch.le(w, high, out=out)
    torch.ge(w, low, out=out)
    return out if high is None else out.logical_and_(torch.le(w, high, out=other))


def _distinct(*values: torch.Tensor | None) -> list[torch.Tensor]:
    found: list[torch.Tensor] = []
    for value in values:
        if value is not None and not any(bool(value == f) for f in found):
            found.append(value)
    return found
