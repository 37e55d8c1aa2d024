"""Intervals over examples: how sure a held-out fitness, or a difference of two, is (numpy, no torch).

A fitness is the weighted mean over tasks of each task's metric, and each task's metric is
computed from its examples (`ExampleScores`). A bootstrap draw resamples every task's examples
with replacement (stratified by task, so each task keeps its weight and its size) and computes
the fitness again; the interval is the 2.5th to 97.5th percentile of `draws` such fitnesses.
A difference between models measured on the same examples is paired: every draw resamples the
same example indices for all of them, so what they share (hard and easy examples) cancels.

    fitness_interval(scores, weights)            -> Interval of one model's fitness
    difference_interval(a, b, weights)           -> Interval of fitness(a) - fitness(b)
    mean_difference_interval(pairs, weights)     -> Interval of the mean over pairs of fitness(a) - fitness(b)
                                                    (e.g. one strategy's best against another's, over seeds)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tools.errors import BadInput
from tools.evaluate.result import ExampleScores

Scores = Mapping[str, ExampleScores]
DRAWS = 2000
LEVEL = 0.95
CHUNK = 200  # draws resampled at once: memory is CHUNK x examples per task


@dataclass(frozen=True)
class Interval:
    estimate: float  # on the examples as measured (not the bootstrap mean)
    low: float
    high: float
    level: float = LEVEL
    draws: int = DRAWS
    examples: int = 0  # examples per model, over all tasks

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def text(self, signed: bool = False) -> str:
        f = "{:+.4f}" if signed else "{:.4f}"
        return f"{f.format(self.estimate)} (95% CI {f.format(self.low)} to {f.format(self.high)})"

    def to_json(self) -> dict:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "draws": self.draws,
            "examples": self.examples,
        }


def fitness_interval(scores: Scores, weights: Mapping[str, float], *, draws: int = DRAWS, seed: int = 0) -> Interval:
    return mean_difference_interval([(scores, None)], weights, draws=draws, seed=seed)


def difference_interval(a: Scores, b: Scores, weights: Mapping[str, float], *, draws: int = DRAWS, seed: int = 0) -> Interval:
    return mean_difference_interval([(a, b)], weights, draws=draws, seed=seed)


def mean_difference_interval(
    pairs: Sequence[tuple[Scores, Scores | None]], weights: Mapping[str, float], *, draws: int = DRAWS, seed: int = 0
) -> Interval:
    """The mean over `pairs` of fitness(a) - fitness(b) (b None: 0), every model resampled on the same examples."""
    import numpy as np

    models = [m for pair in pairs for m in pair if m is not None]
    sizes = _sizes(models, weights)
    signs = _signs(pairs)
    estimate = sum(s * fitness_of(models[i], weights) for i, s in signs) / len(pairs)
    rng, out = np.random.default_rng(seed), []
    for start in range(0, draws, CHUNK):
        n = min(CHUNK, draws - start)
        counts = {t: rng.multinomial(k, np.full(k, 1.0 / k), size=n).astype(float) for t, k in sizes.items()}
        values = [_fitness_draws(m, weights, counts) for m in models]
        out.append(sum(s * values[i] for i, s in signs) / len(pairs))
    every = np.concatenate(out)
    low, high = np.percentile(every, [100 * (1 - LEVEL) / 2, 100 * (1 + LEVEL) / 2])
    return Interval(float(estimate), float(low), float(high), LEVEL, draws, sum(sizes.values()))


def _signs(pairs) -> list[tuple[int, float]]:
    signs, i = [], 0
    for _a, b in pairs:
        signs.append((i, 1.0))
        i += 1
        if b is not None:
            signs.append((i, -1.0))
            i += 1
    return signs


def _sizes(models: Sequence[Scores], weights: Mapping[str, float]) -> dict[str, int]:
    """Examples per task, the same for every model (else the comparison is not paired: BadInput)."""
    if not models:
        raise BadInput("bootstrap: no model to resample")
    tasks = sorted(weights)
    sizes = {}
    for t in tasks:
        found = {len(m[t].values) if t in m else None for m in models}
        if None in found:
            raise BadInput(f"bootstrap: task {t!r} has no per-example scores for every model (measure them on the same split)")
        if len(found) > 1:
            raise BadInput(
                f"bootstrap: task {t!r} was measured on different numbers of examples {sorted(found)}; the comparison is not paired"
            )
        (n,) = found
        if n == 0:
            raise BadInput(f"bootstrap: task {t!r} has no examples")
        sizes[t] = n
    return sizes


def fitness_of(scores: Scores, weights: Mapping[str, float]) -> float:
    total = sum(weights.values())
    return sum(w * scores[t].value() for t, w in weights.items()) / total


def _fitness_draws(scores: Scores, weights: Mapping[str, float], counts) -> "object":
    """The fitness under each draw: counts[t] is (draws, examples) of how often each example was drawn."""
    import numpy as np

    total = sum(weights.values())
    out = 0.0
    for t, w in weights.items():
        s = scores[t]
        num = counts[t] @ np.asarray(s.values, dtype=float)
        den = counts[t].sum(axis=1) if s.weights is None else counts[t] @ np.asarray(s.weights, dtype=float)
        ratio = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
        out = out + w * (np.exp(ratio) if s.exp else ratio)
    return out / total
