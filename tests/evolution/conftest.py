"""Fixtures for the evolution tests: the tiny-zoo workspace, and fake session histories."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agents.budget import Budget, BudgetConfig
from agents.strategy import Context
from agents.workspace import load_workspace
from archive.record import Candidate, Proposer, SplitMetrics

ZOO = Path(__file__).resolve().parents[2] / "examples" / "tiny-zoo"
SOURCES = ("base", "adder", "reverser", "sorter")


@pytest.fixture(scope="session")
def zoo():
    """The committed tiny zoo, read in place (nothing here writes into it)."""
    return load_workspace(ZOO)


def source_candidates() -> list[Candidate]:
    return [Candidate(id=f"src-{n}", kind="source", genotype={"name": n, "path": f"models/{n}"}, status="succeeded") for n in SOURCES]


def make_context(workspace, history=None, wanted: int = 100) -> Context:
    return Context(
        workspace=workspace,
        archive=None,
        session="s1",
        budget=Budget(BudgetConfig(candidates=None)),
        rng=random.Random(0),
        wanted=wanted,
        history=list(history or []),
        sources=source_candidates(),
    )


def record(proposal, number: int, *, status: str = "proposed", fitness: float | None = None) -> Candidate:
    """The candidate a session would record for `proposal`, with a result when `status` is final."""
    metrics = {"search": SplitMetrics(fitness=fitness)} if fitness is not None else {}
    return Candidate(
        id=f"c{number:04d}",
        kind="merge",
        parents=proposal.parents,
        genotype=proposal.genotype,
        proposer=Proposer(strategy=proposal.strategy, session="s1", params=proposal.params),
        status=status,
        reason="it broke" if status == "failed" else None,
        metrics=metrics,
    )


def finish(candidate: Candidate, fitness: float | None, status: str = "succeeded") -> Candidate:
    update = {"status": status, "metrics": {"search": SplitMetrics(fitness=fitness)} if fitness is not None else {}}
    if status == "failed":
        update["reason"] = "it broke"
    return candidate.model_copy(update=update)


@pytest.fixture
def context(zoo):
    return lambda history=None, wanted=100: make_context(zoo, history, wanted)
