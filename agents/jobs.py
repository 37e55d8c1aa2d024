"""Sandbox jobs for merge candidates (code candidates: agents/code/jobs.py).

A merge candidate's job carries its recipe, the workspace's model directories (mounted
read-only) and the workspace itself (its clade.yaml `evaluation` is the suite). A source
model is measured through the same path with `source_recipe`: a linear merge of the one
model with weight 1, which is that model exactly.
"""

from __future__ import annotations

from typing import Any

from agents.config import Workspace
from sandbox.job import EvaluationSpec, Job


def source_recipe(name: str) -> dict[str, Any]:
    return {"merge_method": "linear", "models": [{"model": name, "parameters": {"weight": 1.0}}]}


def job_id(candidate_id: str, split: str) -> str:
    return f"{candidate_id}-{split}"


def merge_job(workspace: Workspace, candidate_id: str, recipe: dict[str, Any], *, split: str = "search",
              seed: int = 0, gpus: int = 0) -> Job:
    config = workspace.config
    return Job(id=job_id(candidate_id, split), kind="merge", genotype={"recipe": recipe},
               models={name: str(path) for name, path in workspace.model_paths().items()},
               evaluation=EvaluationSpec(workspace=str(workspace.root.resolve()), split=split),
               limits=config.sandbox.limits, device={"gpus": gpus}, seed=seed)
