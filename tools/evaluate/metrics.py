"""Metric math: answer extraction, per-example scores, per-task aggregates, the fitness (no torch).

A task's evaluation yields per-example columns (lists of floats, one entry per example); the
aggregates below turn them into the task's metrics. Keeping columns lets a cascade's first
pass be extended by the rest of the split instead of being run again.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from tools.evaluate.result import ExampleScores

Columns = dict[str, list[float]]
RATIO_METRICS = {"target_logprob": False, "token_logprob": False, "mean_token_prob": True}  # name -> exp


def extract_answer(text: str, pattern: str | None) -> str:
    """The first match of `pattern` (its group 1 when it has one), stripped; "" when none."""
    if pattern is None:
        return text.strip()
    match = re.search(pattern, text)
    if match is None:
        return ""
    return (match.group(1) if match.re.groups else match.group(0)).strip()


def char_accuracy(prediction: str, target: str) -> float:
    """Characters equal at the same position, over the longer of the two lengths."""
    width = max(len(prediction), len(target))
    if width == 0:
        return 1.0
    return sum(a == b for a, b in zip(prediction, target)) / width


def generation_columns(predictions: Sequence[str], targets: Sequence[str]) -> Columns:
    return {
        "exact_match": [float(p == t.strip()) for p, t in zip(predictions, targets)],
        "char_accuracy": [char_accuracy(p, t.strip()) for p, t in zip(predictions, targets)],
    }


def choice_columns(logprobs: Sequence[Sequence[float]], lengths: Sequence[Sequence[int]], golds: Sequence[int]) -> Columns:
    """acc: the most likely option is gold; acc_norm: the same with log-likelihood per character."""
    acc, acc_norm = [], []
    for scores, chars, gold in zip(logprobs, lengths, golds):
        acc.append(float(_argmax(scores) == gold))
        acc_norm.append(float(_argmax([s / max(1, n) for s, n in zip(scores, chars)]) == gold))
    return {"acc": acc, "acc_norm": acc_norm}


def _argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def aggregate(kind: str, columns: Columns) -> dict[str, float]:
    """A task's metrics from its per-example columns."""
    if kind == "perplexity":
        return _perplexity(columns)
    metrics = {name: _mean(values) for name, values in columns.items() if name not in ("logprob", "tokens")}
    if "logprob" in columns:
        metrics["target_logprob"] = sum(columns["logprob"]) / max(1.0, sum(columns["tokens"]))
    return metrics


def _perplexity(columns: Columns) -> dict[str, float]:
    logprob, tokens, chars = sum(columns["logprob"]), sum(columns["tokens"]), sum(columns["chars"])
    per_token = logprob / max(1.0, tokens)
    return {
        "perplexity": math.exp(-per_token),
        "bits_per_char": -logprob / math.log(2) / max(1.0, chars),
        "token_logprob": per_token,
        "mean_token_prob": math.exp(per_token),
    }


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def example_scores(metric: str, columns: Columns) -> ExampleScores:
    """The fitness metric `metric` of one task, example by example, from the task's columns."""
    if metric in RATIO_METRICS:
        return ExampleScores(metric=metric, values=list(columns["logprob"]), weights=list(columns["tokens"]), exp=RATIO_METRICS[metric])
    return ExampleScores(metric=metric, values=list(columns[metric]))


def concat(first: Columns, rest: Columns) -> Columns:
    return {name: first[name] + rest[name] for name in first}


def fitness(task_metrics: Mapping[str, Mapping[str, float]], metric_of: Mapping[str, str], weights: Mapping[str, float]) -> float:
    """Weighted mean, over tasks, of each task's fitness metric. The weights are scaled by the largest first,
    so weights near the float limit (1e308) neither overflow their sum nor turn every fitness into 0."""
    scale = max(weights[name] for name in task_metrics)
    share = {name: weights[name] / scale for name in task_metrics}
    total = sum(share.values())
    return sum(share[name] * task_metrics[name][metric_of[name]] for name in task_metrics) / total
