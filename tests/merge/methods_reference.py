"""The merge formulas of MERGE_METHODS.md written out plainly (float64, full stable sorts,
Python loops), to check the fast implementations in tools/merge/methods against."""

from __future__ import annotations

import math

import torch


def stable_window(delta: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Keep the entries at positions [start, stop) of the stable ascending sort of |δ|."""
    flat = delta.reshape(-1)
    order = torch.sort(flat.abs(), stable=True).indices
    keep = torch.zeros_like(flat, dtype=torch.bool)
    keep[order[start:stop]] = True
    return (flat * keep).reshape(delta.shape)


def top_fraction(delta: torch.Tensor, density: float) -> torch.Tensor:
    n = delta.numel()
    k = max(1, math.floor(density * n))
    return stable_window(delta, n - k, n)


def breadcrumb(delta: torch.Tensor, density: float, gamma: float) -> torch.Tensor:
    n = delta.numel()
    keep, top = math.floor(density * n), math.floor(gamma * n)
    bottom = max(0, n - keep - top)
    return stable_window(delta, bottom, bottom + keep)


def l1_rescaled(original: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    return kept * (original.abs().sum() / kept.abs().sum())


def combine(base, deltas, weights, *, elect: bool, normalize: bool, lam: float = 1.0) -> torch.Tensor:
    """θ₀ + λ·(Σ kept wᵢδᵢ) / (Σ kept wᵢ), element by element, the way the table states it."""
    weighted = [w * d for w, d in zip(weights, deltas)]
    flat = [x.reshape(-1).tolist() for x in weighted]
    out = []
    for j in range(base.numel()):
        values = [f[j] for f in flat]
        if elect:
            sign = 1.0 if sum(values) >= 0 else -1.0
            chosen = [i for i, v in enumerate(values) if v != 0 and math.copysign(1.0, v) == sign]
        else:
            chosen = list(range(len(values)))
        mixed = sum(values[i] for i in chosen)
        divisor = sum(weights[i] for i in chosen)
        if normalize:
            if (elect and divisor == 0) or (not elect and abs(divisor) < 1e-8):
                divisor = 1.0
            mixed /= divisor
        out.append(lam * mixed)
    return base + torch.tensor(out, dtype=base.dtype).reshape(base.shape)


def slerp(t: float, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    x, y = a.reshape(-1).double(), b.reshape(-1).double()
    cos = float(x @ y / (max(float(x.norm()), 1e-8) * max(float(y.norm()), 1e-8)))
    cos = min(1.0, max(-1.0, cos))
    if abs(cos) > 0.9995:
        return (1 - t) * a.double() + t * b.double()
    omega = math.acos(cos)
    return (math.sin((1 - t) * omega) * a.double() + math.sin(t * omega) * b.double()) / math.sin(omega)


def model_stock(base: torch.Tensor, models: list[torch.Tensor]) -> torch.Tensor:
    deltas = [(m - base).reshape(-1).double() for m in models]
    cosines = [float(a @ b / (a.norm() * b.norm())) for i, a in enumerate(deltas) for b in deltas[i + 1 :]]
    c, n = sum(cosines) / len(cosines), len(models)
    t = n * c / (1 + (n - 1) * c)
    return t * sum(m.double() for m in models) / n + (1 - t) * base.double()
