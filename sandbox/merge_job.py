"""Materialize and evaluate a merge job inside the worker (imports torch; worker only).

The merge is built in memory with `tools.merge.api.ResidentMerger` (the same tensors as
`merge_to_dir`, without writing weights to disk) and measured with
`tools.evaluate.api.evaluate_module` on the suite of the workspace the job names.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sandbox.job import Job, Timings
from tools.errors import BadInput


def merge_and_evaluate(job: Job, device: str, timings: Timings) -> tuple[float, dict[str, Any]]:
    if not isinstance(job.genotype.get("recipe"), dict):
        raise BadInput(f"job {job.id}: a merge job needs genotype.recipe (the merge recipe as a mapping)")
    if not job.evaluation.workspace:
        raise BadInput(f"job {job.id}: a merge job needs evaluation.workspace (the workspace whose suite measures it)")
    from transformers import AutoTokenizer

    from agents.workspace import load_workspace
    from tools.evaluate.api import evaluate_module, load_suite
    from tools.merge.api import ResidentMerger, load_recipe
    start = time.monotonic()
    models = {name: Path(path) for name, path in job.models.items()}
    recipe = load_recipe(job.genotype["recipe"], models=models)
    merger = ResidentMerger(models, device=device)
    model = merger.apply(recipe, seed=job.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(merger.tokenizer_dir(recipe)))
    timings.materialize_s = time.monotonic() - start
    suite = load_suite(load_workspace(job.evaluation.workspace))
    evaluated = evaluate_module(model, tokenizer, suite, split=job.evaluation.split, device=device)
    timings.evaluate_s = time.monotonic() - start - timings.materialize_s
    # The whole EvalResult, `stage` included: a result cut short by the cascade must not pass for a full one.
    return evaluated.fitness, evaluated.model_dump()
