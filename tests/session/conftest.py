"""Fixtures for the session tests: a tiny-zoo workspace, a real archive, scripted strategies, a fake sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.budget import Budget, BudgetConfig
from agents.init_cmd import copy_example
from agents.strategy import Context, Proposal
from agents.workspace import load_workspace
from archive.secrets import Redactor
from archive.store import Archive
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result


@pytest.fixture(scope="session")
def zoo_template(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("zoo") / "ws"
    copy_example("tiny-zoo", target)
    return target


@pytest.fixture
def workspace(zoo_template, tmp_path):
    import shutil

    shutil.copytree(zoo_template, tmp_path / "ws", symlinks=True)
    return load_workspace(tmp_path / "ws")


@pytest.fixture
def archive(workspace):
    with Archive.open(workspace.path("archive"), create=True, redactor=Redactor()) as a:
        yield a


def weighted_recipe(weight: float) -> dict:
    return {
        "merge_method": "linear",
        "models": [{"model": "adder", "parameters": {"weight": weight}}, {"model": "sorter", "parameters": {"weight": 1.0 - weight}}],
    }


def fitness_of(job: Job) -> float:
    """The fake sandbox's score: 0.5 + the adder weight of a linear recipe (sources: 0.6)."""
    models = job.work.recipe["models"]
    return 0.5 + (models[0]["parameters"]["weight"] if len(models) > 1 else 0.1)


def fake_sandbox(fail: set[float] = frozenset()) -> FakeSandbox:
    def run(job: Job) -> Result:
        score = fitness_of(job)
        if round(score - 0.5, 6) in fail:
            return Result(job_id=job.id, status="failed", reason="worker died: scripted failure")
        tasks = {"add": {"char_accuracy": score}}
        per_example = {"add": {"metric": "char_accuracy", "values": per_example_values(score)}}
        return Result(
            job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": tasks, "per_example": per_example}, stdout="ok\n"
        )

    return FakeSandbox(run)


def per_example_values(score: float, n: int = 20) -> list[float]:
    """n example scores in [0, 1] whose mean is `score` (as a real evaluation would report them)."""
    whole = min(n, round(score * n))
    return [1.0] * whole + [0.0] * (n - whole - 1) + [round(score * n - whole, 6)] if whole < n else [1.0] * n


class ScriptedStrategy:
    """Replays proposals: each item a weight (a linear recipe), "invalid:<why>", or an exception to raise."""

    name = "scripted"

    def __init__(self, items):
        self.items, self.contexts = list(items), []

    def propose(self, ctx: Context) -> list[Proposal]:
        self.contexts.append(ctx)
        out = []
        while self.items and len(out) < ctx.wanted:
            item = self.items.pop(0)
            if isinstance(item, BaseException):
                raise item
            out.append(self._proposal(item, ctx))
        return out

    def _proposal(self, item, ctx: Context) -> Proposal:
        parents = ctx.parents or [ctx.sources[0].id]
        if isinstance(item, str):
            return Proposal(kind="merge", parents=parents, genotype={"recipe": {}}, strategy=self.name, invalid=item)
        return Proposal(
            kind="merge", parents=parents, genotype={"recipe": weighted_recipe(item)}, strategy=self.name, params={"weight": item}
        )


class LLMStrategy(ScriptedStrategy):
    """Asks the model before each proposal; the model's LLMUnavailable propagates (as the real LLM strategy's does)."""

    name = "llm-scripted"

    def propose(self, ctx: Context) -> list[Proposal]:
        ctx.budget.check_llm()
        reply = ctx.model.query([{"role": "user", "content": "propose"}])
        ctx.budget.charge_llm(reply.tokens, reply.dollars)
        return super().propose(ctx)


def budget(n: int | None) -> Budget:
    return Budget(BudgetConfig(candidates=n))


def hashed_sandbox() -> FakeSandbox:
    """Any recipe gets a fitness in [0.5, 0.9) derived from its text: for real strategies' recipes."""
    import hashlib
    import json

    def run(job: Job) -> Result:
        digest = hashlib.sha256(json.dumps({"recipe": job.work.recipe}, sort_keys=True).encode()).digest()
        score = 0.5 + 0.4 * digest[0] / 256
        return Result(job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": {}})

    return FakeSandbox(run)
