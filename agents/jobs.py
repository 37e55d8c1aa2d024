"""Sandbox jobs for merge candidates (code candidates: agents/code/jobs.py).

A merge candidate's job carries its recipe, the workspace's model directories (mounted
read-only) and the evaluation configuration itself (`evaluation_config`: clade.yaml's
`evaluation:` with every task inline and every data path absolute), read once when the
session starts, so editing clade.yaml mid-session changes nothing for its jobs. A source
model is measured through the same path with `source_recipe`: a linear merge of the one
model with weight 1, which is that model exactly. A recipe naming an archived merge candidate
(`candidate:<id>`, agents/derived.py) needs `archive`: the job then carries that candidate's
recipe in `work.derived` and the workspace's merge cache, where the worker materialises it once.
"""

from __future__ import annotations

from typing import Any

from agents.config import Workspace
from agents.derived import cache_dir, candidate_refs, derived_models
from sandbox.job import EvaluationSpec, Job, MergeWork
from tools.evaluate.spec import EvaluationConfig
from tools.evaluate.suite import load_task_file


def source_recipe(name: str) -> dict[str, Any]:
    return {"merge_method": "linear", "models": [{"model": name, "parameters": {"weight": 1.0}}]}


def job_id(candidate_id: str, split: str) -> str:
    return f"{candidate_id}-{split}"


def evaluation_config(workspace: Workspace) -> EvaluationConfig:
    """clade.yaml's `evaluation:` as a job carries it: task files read into inline specs, data paths absolute."""
    config, root = workspace.config.evaluation, workspace.root.resolve()
    tasks = []
    for entry in config.tasks:
        spec, base = (
            (load_task_file((root / entry).resolve()), (root / entry).resolve().parent) if isinstance(entry, str) else (entry, root)
        )
        tasks.append(spec.model_copy(update={"data": {split: str((base / path).resolve()) for split, path in spec.data.items()}}))
    return config.model_copy(update={"tasks": tasks})


def merge_job(
    workspace: Workspace,
    candidate_id: str,
    recipe: dict[str, Any],
    *,
    split: str = "search",
    seed: int = 0,
    gpus: int = 0,
    evaluation: EvaluationConfig | None = None,
    archive: Any = None,
) -> Job:
    """The job measuring `recipe` on `split`; `evaluation` is the session's configuration (read now when not given);
    `archive` resolves the merged candidates the recipe names as models (`candidate:<id>`)."""
    config = workspace.config
    derived = derived_models(workspace, archive, recipe) if candidate_refs(recipe) else {}
    return Job(
        id=job_id(candidate_id, split),
        work=MergeWork(recipe=recipe, derived=derived),
        cache=str(cache_dir(workspace)) if derived else None,
        models={name: str(path) for name, path in workspace.model_paths().items()},
        evaluation=EvaluationSpec(suite=evaluation or evaluation_config(workspace), split=split),
        limits=config.sandbox.limits,
        device={"gpus": gpus},
        seed=seed,
    )
