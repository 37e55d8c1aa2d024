"""Materialize and evaluate a merge job inside a worker (imports torch; workers only).

The merge is built in memory with `tools.merge.api.ResidentMerger` (the same tensors as
`merge_to_dir`, without writing weights to disk) and measured with
`tools.evaluate.api.evaluate_module` on the suite the job carries (the workspace's evaluation
configuration as the session started with it: nothing is re-read from clade.yaml).

Both workers call `merge_and_evaluate`: the one-shot worker (sandbox/worker.py) with fresh,
empty `MergeCaches`, the resident worker (sandbox/resident_worker.py) with one `MergeCaches`
kept across jobs, so a second job reuses the opened sources and the tensors already read, the
loaded suite (its data and tokenised prompts) and the tokenizer. The computation is the same
either way; only what is already in memory differs.

A recipe may name a merged candidate as a model (`work.derived`, `space: both`): that merge is
materialised first into the job's content-addressed `cache` (tools/merge/cache.py), once for all
jobs, and its directory used as a model of the recipe.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sandbox.job import Job, MergeWork, Timings
from tools.errors import BadInput


@dataclass
class MergeCaches:
    """What a worker keeps between merge jobs: mergers per (models, device), suites, tokenizers."""

    mergers: dict[tuple, Any] = field(default_factory=dict)
    suites: dict[str, Any] = field(default_factory=dict)
    tokenizers: dict[str, Any] = field(default_factory=dict)

    def merger(self, models: dict[str, Path], device: str) -> tuple[Any, bool]:
        """The ResidentMerger for these sources on `device`, and whether it already existed."""
        from tools.merge.api import ResidentMerger

        key = (tuple(sorted((name, str(path)) for name, path in models.items())), device)
        cached = key in self.mergers
        if not cached:
            # one merger per device: a job over other models (a merged candidate added, space `both`) replaces the
            # earlier one instead of keeping both sets of sources in memory
            for other in [k for k in self.mergers if k[1] == device]:
                del self.mergers[other]
            self.mergers[key] = ResidentMerger(models, device=device)
        return self.mergers[key], cached

    def suite(self, job: Job) -> tuple[Any, bool]:
        """The loaded suite the job carries, kept by the configuration's content (its data is read once)."""
        from tools.evaluate.suite import suite_from_config

        config = job.evaluation.suite
        key = hashlib.sha256(config.model_dump_json().encode()).hexdigest()
        cached = key in self.suites
        if not cached:
            self.suites[key] = suite_from_config(config, Path("/"), where=f"job {job.id} evaluation.suite")
        return self.suites[key], cached

    def tokenizer(self, directory: Path) -> tuple[Any, bool]:
        from transformers import AutoTokenizer

        key = str(directory)
        cached = key in self.tokenizers
        if not cached:
            self.tokenizers[key] = AutoTokenizer.from_pretrained(key)
        return self.tokenizers[key], cached


def check_merge_job(job: Job) -> None:
    if not isinstance(job.work, MergeWork):
        raise BadInput(f"job {job.id}: a {job.kind} job is not a merge job (work.kind must be merge)")
    if job.evaluation.suite is None:
        raise BadInput(f"job {job.id}: a merge job needs evaluation.suite (the evaluation configuration that measures it)")


def derived_models(job: Job, device: str) -> dict[str, Path]:
    """Each derived model (a merged candidate the recipe names) materialised once in the job's cache:
    name -> its cache entry (tools/merge/cache.py: built here when missing or damaged, else reused)."""
    from tools.merge.cache import materialise

    work, out = job.work, {}
    assert isinstance(work, MergeWork)
    sources = {name: Path(path) for name, path in job.models.items()}
    for name, derived in work.derived.items():
        if job.cache is None:
            raise BadInput(f"job {job.id}: work.derived names {name} but the job has no cache")
        out[name], _ = materialise(Path(job.cache), derived.key, derived.recipe, sources, seed=derived.seed, device=device)
    return out


def merge_and_evaluate(job: Job, device: str, timings: Timings, caches: MergeCaches | None = None) -> tuple[Any, dict[str, Any]]:
    """The evaluation of the job's merge (an EvalResult) and its metrics as a mapping; with `caches`,
    `metrics["resident"]` says what was reused."""
    check_merge_job(job)
    import torch

    from tools.evaluate.api import evaluate_module
    from tools.merge.api import load_recipe

    resident, start = caches is not None, time.monotonic()
    caches = caches if caches is not None else MergeCaches()
    torch.manual_seed(job.seed)  # the same global RNG state for every job, fresh process or not
    models = {name: Path(path) for name, path in job.models.items()}
    models.update(derived_models(job, device))
    suite_first = caches.suite(job) if "calibration" in job.work.recipe else None
    tasks = {task.name: task for task in suite_first[0].tasks} if suite_first else {}  # what a calibration section names
    recipe = load_recipe(job.work.recipe, models=models, tasks=tasks)
    merger, sources_cached = caches.merger(models, device)
    prepared = merger.prepare(recipe)  # planned once: the merge and its tokenizer share the plan
    model = merger.apply(prepared, seed=job.seed)
    tokenizer, tokenizer_cached = caches.tokenizer(merger.tokenizer_dir(prepared))
    timings.materialize_s = time.monotonic() - start
    suite, suite_cached = suite_first or caches.suite(job)
    evaluated = evaluate_module(model, tokenizer, suite, split=job.evaluation.split, device=device)
    timings.evaluate_s = time.monotonic() - start - timings.materialize_s
    # The whole EvalResult, `stage` included: a result cut short by the cascade must not pass for a full one.
    metrics = evaluated.model_dump()
    if resident:
        metrics["resident"] = {"sources_cached": sources_cached, "suite_cached": suite_cached, "tokenizer_cached": tokenizer_cached}
    return evaluated, metrics
