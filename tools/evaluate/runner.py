"""Evaluating a resident model on a suite: the cascade, per-task dispatch, the fitness.

Tokenised batches are cached on the suite per (task, split, slice, tokenizer, device): the
search loop evaluates thousands of models on the same prompts and pays for tokenising once.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tools.errors import BadInput
from tools.evaluate import metrics
from tools.evaluate.inference import greedy_generate, score
from tools.evaluate.prepare import Prepared, check_fits, prepare
from tools.evaluate.result import EvalResult
from tools.evaluate.spec import SPLITS, ChoiceTask, GenerationTask
from tools.evaluate.suite import Suite, Task

MAX_TOKENIZERS = 4
Progress = Callable[..., None]  # progress(examples done, note=task name, total=examples of the split): see tools/progress.py


def evaluate_module(
    model, tokenizer, suite: Suite, *, split: str = "search", device: str = "cpu", progress: Progress | None = None
) -> EvalResult:
    """Score a loaded causal LM (already on `device`) on every task of the suite; `progress` hears of each batch."""
    if split not in SPLITS:
        raise BadInput(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    model.eval()
    tick = _ticker(suite, split, progress)
    cascade = suite.cascade if split == "search" else None
    if cascade is None:
        return _result(suite, split, _columns_all(model, tokenizer, suite, split, 0, None, device, tick), "full")
    first = _columns_all(model, tokenizer, suite, split, 0, cascade.examples, device, tick)
    quick = _result(suite, split, first, "cascade")
    if quick.fitness < cascade.threshold:
        return quick
    rest = _columns_all(model, tokenizer, suite, split, cascade.examples, None, device, tick)
    return _result(suite, split, {name: metrics.concat(first[name], rest[name]) for name in first}, "full")


def _ticker(suite: Suite, split: str, progress: Progress | None) -> Callable[[str, int], None]:
    if progress is None:
        return lambda task, done: None
    total = sum(len(task.examples(split)) for task in suite.tasks)
    return lambda task, done: progress(done, note=task, total=total)


def _columns_all(model, tokenizer, suite: Suite, split: str, start: int, stop: int | None, device: str, tick):
    return {task.name: _columns(model, tokenizer, suite, task, split, start, stop, device, tick) for task in suite.tasks}


def _result(suite: Suite, split: str, columns: dict[str, metrics.Columns], stage: str) -> EvalResult:
    kinds = {t.name: t.spec.kind for t in suite.tasks}
    tasks = {name: metrics.aggregate(kinds[name], cols) for name, cols in columns.items()}
    fitness = metrics.fitness(tasks, {t.name: t.spec.fitness_metric for t in suite.tasks}, {t.name: t.weight for t in suite.tasks})
    examples = {name: len(next(iter(cols.values()))) for name, cols in columns.items()}
    per_example = {t.name: metrics.example_scores(t.spec.fitness_metric, columns[t.name]) for t in suite.tasks}
    return EvalResult(
        fitness=fitness,
        split=split,
        tasks=tasks,
        stage=stage,
        examples=examples,
        per_example=per_example,
        weights={t.name: t.weight for t in suite.tasks},
    )


def _columns(model, tokenizer, suite: Suite, task: Task, split: str, start: int, stop: int | None, device: str, tick) -> metrics.Columns:
    prepared = _prepared(tokenizer, suite, task, split, start, stop, device)
    if not prepared.examples:
        return _empty(task)
    check_fits(task.name, prepared, model)
    if isinstance(task.spec, GenerationTask):
        columns = _generation(model, tokenizer, task.spec, prepared)
    elif isinstance(task.spec, ChoiceTask):
        columns = _choices(model, prepared)
    else:
        chars = [float(len(ex.prompt)) for ex in prepared.examples]
        columns = {"logprob": _scores(model, prepared), "tokens": [float(n) for n in prepared.tokens], "chars": chars}
    tick(task.name, len(prepared.examples))
    return columns


def _prepared(tokenizer, suite: Suite, task: Task, split: str, start: int, stop: int | None, device: str) -> Prepared:
    key = (task.name, split, start, stop, id(tokenizer), str(device))
    if key not in suite.cache:
        _evict_old_tokenizers(suite.cache, id(tokenizer))
        examples = task.examples(split)[start:stop]
        prepared = prepare(task, examples, tokenizer, suite.batch_size, device) if examples else Prepared(())
        suite.cache[key] = (tokenizer, prepared)  # holding the tokenizer keeps its id() unique
    return suite.cache[key][1]


def _evict_old_tokenizers(cache: dict, current: int) -> None:
    """Keep the batches of at most MAX_TOKENIZERS tokenizers (a loop that reloads its tokenizer
    every step must not grow the cache); the oldest tokenizer's entries go first."""
    tokenizers = list(dict.fromkeys(key[4] for key in cache))
    if current not in tokenizers and len(tokenizers) >= MAX_TOKENIZERS:
        for key in [key for key in cache if key[4] == tokenizers[0]]:
            del cache[key]


def _empty(task: Task) -> metrics.Columns:
    names = {
        "generation": ("exact_match", "char_accuracy"),
        "multiple_choice": ("acc", "acc_norm"),
        "perplexity": ("logprob", "tokens", "chars"),
    }[task.spec.kind]
    extra = ("logprob", "tokens") if getattr(task.spec, "score_target", False) else ()
    return {name: [] for name in (*names, *extra)}


def _generation(model, tokenizer, spec: GenerationTask, prepared: Prepared) -> metrics.Columns:
    outputs: list[list[int]] = [[] for _ in prepared.examples]
    for batch in prepared.gen:
        for row, tokens in zip(batch.rows, greedy_generate(model, batch, spec.max_new_tokens, prepared.stop_ids)):
            outputs[row] = tokens
    texts = tokenizer.batch_decode(outputs, skip_special_tokens=True)
    predictions = [metrics.extract_answer(_cut_at_stop(text, spec.stop), spec.answer_pattern) for text in texts]
    columns = metrics.generation_columns(predictions, [ex.target for ex in prepared.examples])
    if spec.score_target:
        columns["logprob"] = _scores(model, prepared)
        columns["tokens"] = [float(n) for n in prepared.tokens]
    return columns


def _cut_at_stop(text: str, stops: list[str]) -> str:
    if not stops:
        return text
    return re.split("|".join(map(re.escape, stops)), text, maxsplit=1)[0]


def _choices(model, prepared: Prepared) -> metrics.Columns:
    flat = _scores(model, prepared)
    logprobs = [[flat[i] for i in rows] for rows in prepared.choice_rows]
    lengths = [[len(c) for c in ex.choices] for ex in prepared.examples]
    return metrics.choice_columns(logprobs, lengths, [ex.gold for ex in prepared.examples])


def _scores(model, prepared: Prepared) -> list[float]:
    """Continuation log-likelihood of every scored pair, in the pairs' original order."""
    flat = [0.0] * len(prepared.tokens)
    for batch in prepared.score:
        for row, (logprob, _) in zip(batch.rows, score(model, batch)):
            flat[row] = logprob
    return flat


__all__ = ["evaluate_module"]
