"""Parent selection and the Pareto front: pure functions over `CandidateSummary` lists.

Only candidates that succeeded and have a fitness on the split the summaries were taken
on are eligible (take them on the search split; report on the held-out one). Each sampler
takes a `random.Random`, so a seeded planner selects reproducibly, and samples `k`
parents with replacement.
- `dgm`: the Darwin Gödel Machine rule, p_i ∝ sigmoid(λ(α_i − α0)) · 1/(1 + n_i), with α_i
  the fitness, n_i the number of children, λ = 10 and α0 = 0.5 (the paper's constants,
  which assume a fitness in [0, 1]).
- `dgm_robust`: the same with α_i replaced by (α_i − median) / (1.4826 · MAD) and λ = 1, so
  it works for any fitness scale (losses, BLEU in points, rewards ...).
- `tournament`: best of `size` drawn uniformly.
- `mixed`: each parent is an *exploit* draw with probability `exploit` (uniform among the
  `elites` best by fitness) or else an *explore* draw by `dgm_robust`. The DGM rule alone is
  made for open-ended archives and, on fitnesses that differ by a few hundredths, is driven
  almost only by the child counts: raw sources and weak merges get picked as often as the
  best merge. Fitness rank puts strong candidates in front; the DGM draw keeps exploring.
  (OpenEvolve's sampler mixes the same way; its default exploitation share is 0.7.)
- `pareto`: the Pareto front over per-task scores (metrics named `task/metric`; by default every
  metric all eligible candidates have), then a front member drawn with probability ∝ 1/(1 + n_i)
  (n_i its children). A parent strong on one task but weak elsewhere stays on the front, where
  a fitness rank (the weighted mean) would drop it.
- `map_elites`: the best candidate of each cell of a grid over declared descriptors
  (metrics named `task/metric`, or `fitness`), then an elite drawn uniformly.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tools.errors import BadInput

PARETO_BLOCK = 256


@dataclass(frozen=True)
class CandidateSummary:
    id: str
    kind: str
    status: str
    parents: tuple[str, ...]
    fitness: float | None
    children: int = 0
    strategy: str = ""
    created_at: str = ""
    reason: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    name: str | None = None  # a source's name
    session: str | None = None  # the search session that proposed it
    verdict: str | None = None  # the review verdict: approved, rejected, or None
    stage: str = "full"  # "cascade": the evaluation cascade cut its measurement short

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "verdict": self.verdict,
            "parents": list(self.parents),
            "fitness": self.fitness,
            "children": self.children,
            "strategy": self.strategy,
            "session": self.session,
            "created_at": self.created_at,
            "reason": self.reason,
            **({"name": self.name} if self.name else {}),
            **({"stage": self.stage} if self.stage != "full" else {}),
            **({"metrics": dict(self.metrics)} if self.metrics else {}),
        }


@dataclass(frozen=True)
class Descriptor:
    """One MAP-Elites axis: a metric (`task/metric` or `fitness`) cut into `bins` cells over [low, high]."""

    name: str
    low: float
    high: float
    bins: int = 10

    def cell(self, value: float) -> int:
        scaled = (value - self.low) / (self.high - self.low) * self.bins
        return min(self.bins - 1, max(0, math.floor(scaled)))


def eligible(candidates: Sequence[CandidateSummary]) -> list[CandidateSummary]:
    """Succeeded candidates with a fitness; those measured in full only, unless none is (a measurement the
    cascade cut short covers the first examples alone, so it never outranks a full one)."""
    pool = [c for c in candidates if c.status == "succeeded" and c.fitness is not None]
    pool = [c for c in pool if c.stage == "full"] or pool
    if not pool:
        raise BadInput("parent selection: no succeeded candidate with a fitness on this split yet; record and evaluate a source first")
    return pool


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def dgm_weights(candidates: Sequence[CandidateSummary], *, lam: float = 10.0, midpoint: float = 0.5) -> dict[str, float]:
    pool = eligible(candidates)
    weights = {c.id: sigmoid(lam * (c.fitness - midpoint)) / (1 + c.children) for c in pool}
    return _normalised(weights)


def dgm_robust_weights(candidates: Sequence[CandidateSummary]) -> dict[str, float]:
    pool = eligible(candidates)
    scores = [c.fitness for c in pool]
    median = statistics.median(scores)
    spread = 1.4826 * statistics.median(abs(s - median) for s in scores)
    spread = spread or statistics.fmean(abs(s - median) for s in scores) or 1.0
    weights = {c.id: sigmoid((c.fitness - median) / spread) / (1 + c.children) for c in pool}
    return _normalised(weights)


def _normalised(weights: dict[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0:  # every sigmoid underflowed: fall back to the novelty term alone
        return {k: 1.0 / len(weights) for k in weights}
    return {k: w / total for k, w in weights.items()}


def dgm(candidates: Sequence[CandidateSummary], k: int, rng: random.Random, **kw: float) -> list[str]:
    weights = dgm_weights(candidates, **kw)
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def dgm_robust(candidates: Sequence[CandidateSummary], k: int, rng: random.Random) -> list[str]:
    weights = dgm_robust_weights(candidates)
    return rng.choices(list(weights), weights=list(weights.values()), k=k)


def tournament(candidates: Sequence[CandidateSummary], k: int, rng: random.Random, *, size: int = 3) -> list[str]:
    pool = eligible(candidates)
    return [max(rng.choices(pool, k=size), key=lambda c: (c.fitness, c.id)).id for _ in range(k)]


def mixed(
    candidates: Sequence[CandidateSummary], k: int, rng: random.Random, *, exploit: float = 0.7, elites: int = 3
) -> list[tuple[str, str]]:
    """`k` parents, each with how it was drawn: ("exploit" | "explore")."""
    pool = eligible(candidates)
    top = [c.id for c in by_rank(pool)[:elites]]
    weights = dgm_robust_weights(pool)
    picks = []
    for _ in range(k):
        if rng.random() < exploit:
            picks.append((rng.choice(top), "exploit"))
        else:
            picks.append((rng.choices(list(weights), weights=list(weights.values()))[0], "explore"))
    return picks


def by_rank(candidates: Sequence[CandidateSummary]) -> list[CandidateSummary]:
    """Eligible candidates, best fitness first (ties by id)."""
    return sorted(eligible(candidates), key=lambda c: (-c.fitness, c.id))


def map_elites_cells(candidates: Sequence[CandidateSummary], descriptors: Sequence[Descriptor]) -> dict[tuple[int, ...], CandidateSummary]:
    """cell -> its elite (highest fitness; ties go to the smaller id)."""
    cells: dict[tuple[int, ...], CandidateSummary] = {}
    for c in eligible(candidates):
        values = [c.fitness if d.name == "fitness" else c.metrics.get(d.name) for d in descriptors]
        if any(v is None for v in values):
            continue
        cell = tuple(d.cell(v) for d, v in zip(descriptors, values))
        best = cells.get(cell)
        if best is None or (c.fitness, -_rank(c.id)) > (best.fitness, -_rank(best.id)):
            cells[cell] = c
    return cells


def _rank(cid: str) -> int:
    return int(cid, 16)


def map_elites(candidates: Sequence[CandidateSummary], descriptors: Sequence[Descriptor], k: int, rng: random.Random) -> list[str]:
    cells = map_elites_cells(candidates, descriptors)
    if not cells:
        raise BadInput(f"MAP-Elites: no eligible candidate has every descriptor ({', '.join(d.name for d in descriptors)})")
    elites = sorted(e.id for e in cells.values())
    return [rng.choice(elites) for _ in range(k)]


def pareto_objectives(candidates: Sequence[CandidateSummary]) -> list[str]:
    """The metric names every candidate has, sorted (the default objectives of `pareto`)."""
    names = [set(c.metrics) for c in candidates]
    return sorted(set.intersection(*names)) if names else []


def pareto_members(candidates: Sequence[CandidateSummary], objectives: Sequence[str] | None = None) -> list[CandidateSummary]:
    """The eligible candidates on the Pareto front over `objectives` (maximised), in id order."""
    pool = eligible(candidates)
    names = list(objectives) if objectives is not None else pareto_objectives(pool)
    if not names:
        raise BadInput("parent selection pareto: the eligible candidates share no per-task metric to compare")
    scored = {c.id: [c.metrics[n] for n in names] for c in pool if all(n in c.metrics for n in names)}
    if not scored:
        raise BadInput(f"parent selection pareto: no eligible candidate has every objective ({', '.join(names)})")
    front = set(pareto_front(scored))
    return [c for c in sorted(pool, key=lambda c: c.id) if c.id in front]


def pareto(candidates: Sequence[CandidateSummary], k: int, rng: random.Random, *, objectives: Sequence[str] | None = None) -> list[str]:
    """`k` parents from the Pareto front, each drawn with probability ∝ 1 / (1 + children)."""
    front = pareto_members(candidates, objectives)
    return rng.choices([c.id for c in front], weights=[1.0 / (1 + c.children) for c in front], k=k)


def pareto_front(points: Mapping[str, Sequence[float]]) -> list[str]:
    """Ids of the points no other point dominates (all objectives maximised).

    Points are taken in decreasing lexicographic order, so a point's dominators come before
    it; each block of 256 is checked against the front so far, and what survives against
    itself (numpy), so 10,000 points with a front of a hundred take tens of milliseconds."""
    import numpy as np

    if not points:
        return []
    names = list(points)
    raw = np.array([points[i] for i in names], dtype=float).reshape(len(names), -1)
    order = np.lexsort(raw.T[::-1])[::-1]  # decreasing lexicographic order of the vectors
    ids = [names[k] for k in order]
    values = raw[order]
    front = np.empty((0, values.shape[1]))
    keep: list[str] = []
    for start in range(0, len(ids), PARETO_BLOCK):
        block = values[start : start + PARETO_BLOCK]
        survivors = np.flatnonzero(~_dominated_by(front, block))  # the front so far removes most
        rest = block[survivors]
        survivors = survivors[~_dominated_by(rest, rest)]
        front = np.vstack([front, block[survivors]])
        keep += [ids[start + k] for k in survivors]
    return sorted(keep)


def _dominated_by(by, points):
    """For each row of `points`: does some row of `by` dominate it (>= on every objective, not equal)?
    One 2-D comparison per objective, combined in place: the 3-D broadcast and its reductions
    over the last axis cost ten times as much."""
    import numpy as np

    ge = np.ones((len(by), len(points)), dtype=bool)
    eq = np.ones_like(ge)
    for d in range(points.shape[1]):
        column, row = by[:, d, None], points[None, :, d]
        ge &= column >= row
        eq &= column == row
    return (ge & ~eq).any(axis=0)


def _dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(x >= y for x, y in zip(a, b)) and any(x > y for x, y in zip(a, b))
