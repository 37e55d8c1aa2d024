"""Bounded gene transforms: any real gene maps into its interval, and back for the start point."""

from __future__ import annotations

import math

CLIP = 30.0  # sigmoid(±30) is 1e-13 from the bounds: never exactly on them, never overflowing


def sigmoid(x: float) -> float:
    x = max(-CLIP, min(CLIP, float(x)))
    return 1.0 / (1.0 + math.exp(-x))


def logit(u: float) -> float:
    u = min(max(u, 1e-9), 1 - 1e-9)
    return math.log(u / (1 - u))


def to_range(x: float, low: float, high: float) -> float:
    """The gene x mapped onto (low, high)."""
    return low + (high - low) * sigmoid(x)


def from_range(value: float, low: float, high: float) -> float:
    """The gene that maps to `value` (clamped just inside the interval)."""
    return logit((value - low) / (high - low))
