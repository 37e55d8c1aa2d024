"""Intervals over examples: they cover what they should, pair what is paired, and refuse what is not comparable."""

from __future__ import annotations

import math
import random

import pytest

from tools.errors import BadInput
from tools.evaluate.bootstrap import difference_interval, fitness_interval, fitness_of, mean_difference_interval
from tools.evaluate.result import ExampleScores

WEIGHTS = {"add": 1.0, "sort": 1.0}


def binary(p: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [float(rng.random() < p) for _ in range(n)]


def model(p_add: float, p_sort: float, n: int = 200, seed: int = 0) -> dict[str, ExampleScores]:
    return {
        "add": ExampleScores(metric="exact_match", values=binary(p_add, n, seed)),
        "sort": ExampleScores(metric="exact_match", values=binary(p_sort, n, seed + 1)),
    }


def test_fitness_interval_is_centred_and_about_as_wide_as_the_standard_error():
    a = model(0.8, 0.6)
    found = fitness_interval(a, WEIGHTS)
    assert found.estimate == pytest.approx(fitness_of(a, WEIGHTS)) and found.low < found.estimate < found.high
    se = math.sqrt(sum(s.value() * (1 - s.value()) / len(s.values) for s in a.values())) / 2
    assert (found.high - found.low) == pytest.approx(2 * 1.96 * se, rel=0.2) and found.examples == 400


def test_a_paired_difference_is_narrower_than_the_two_intervals_suggest():
    a = model(0.8, 0.6)
    b = {t: s.model_copy(update={"values": [v if i % 10 else 1 - v for i, v in enumerate(s.values)]}) for t, s in a.items()}
    diff = difference_interval(a, b, WEIGHTS)
    assert diff.estimate == pytest.approx(fitness_of(a, WEIGHTS) - fitness_of(b, WEIGHTS))
    assert diff.low <= diff.estimate <= diff.high
    single = fitness_interval(a, WEIGHTS)
    # Unpaired, the difference of two such models would be about 1.4x as wide as one model's interval; paired (90% of
    # their answers are the same) it is narrower than even one.
    assert diff.high - diff.low < 0.75 * (single.high - single.low)


def test_a_clear_difference_excludes_zero_and_a_model_against_itself_is_zero():
    strong, weak = model(0.9, 0.9), model(0.5, 0.5, seed=7)
    assert difference_interval(strong, weak, WEIGHTS).excludes_zero()
    same = difference_interval(strong, strong, WEIGHTS)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    seeds = mean_difference_interval([(strong, weak), (weak, strong)], WEIGHTS)
    assert seeds.estimate == pytest.approx(0.0) and not seeds.excludes_zero()


def test_ratio_metrics_resample_log_likelihoods_with_their_token_counts():
    scores = {"lm": ExampleScores(metric="mean_token_prob", values=[-2.0, -4.0, -1.0], weights=[2.0, 4.0, 1.0], exp=True)}
    found = fitness_interval(scores, {"lm": 1.0}, draws=200)
    assert found.estimate == pytest.approx(math.exp(-1.0)) and found.low == pytest.approx(found.high)  # every example is -1 per token


def test_unpaired_or_missing_scores_are_refused():
    with pytest.raises(BadInput, match="task 'sort' was measured on different numbers of examples"):
        difference_interval(model(0.8, 0.6), {**model(0.8, 0.6), "sort": ExampleScores(metric="exact_match", values=[1.0])}, WEIGHTS)
    with pytest.raises(BadInput, match="task 'sort' has no per-example scores"):
        fitness_interval({"add": model(0.8, 0.6)["add"]}, WEIGHTS)
    with pytest.raises(ValueError, match="3 values but 2 weights"):
        ExampleScores(metric="token_logprob", values=[1.0, 2.0, 3.0], weights=[1.0, 1.0])
