"""Fixtures for the LLM client and the llm/hybrid strategies: the stub server, client configs, workspaces."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from agents.budget import Budget, BudgetConfig
from agents.llm.config import LLMConfig
from agents.planner_config import PlannerConfig
from agents.strategy import Context
from agents.workspace import load_workspace
from archive.record import Candidate, Proposer, SplitMetrics
from tests.llm_stub import StubServer

FAKE_KEY = "sk-clade-test-0123456789-SECRET"
KEY_ENV = "CLADE_TEST_LLM_KEY"


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server


@pytest.fixture
def llm_config(stub) -> LLMConfig:
    return LLMConfig(
        model="openai/stub-model",
        api_base=stub.url,
        api_key_env=KEY_ENV,
        timeout_s=5,
        max_retries=3,
        backoff_s=0.5,
        input_per_mtok=1.0,
        output_per_mtok=2.0,
    )


class SleepLog(list):
    """A sleep that records how long it was asked to wait and returns at once (the retries' clock)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> SleepLog:
    return SleepLog()


ZOO = Path(__file__).resolve().parents[2] / "examples" / "tiny-zoo"
SOURCES = ("base", "adder", "reverser", "sorter")
SOURCE_FITNESS = {"base": 0.30, "adder": 0.55, "reverser": 0.50, "sorter": 0.52}


@pytest.fixture(scope="session")
def zoo():
    """The committed tiny zoo, read in place (nothing here writes into it)."""
    return load_workspace(ZOO)


def source_candidates() -> list[Candidate]:
    return [
        Candidate(
            id=f"src-{n}",
            kind="source",
            genotype={"name": n, "path": f"models/{n}"},
            status="succeeded",
            metrics={"search": SplitMetrics(fitness=SOURCE_FITNESS[n])},
        )
        for n in SOURCES
    ]


def planner(**overrides) -> PlannerConfig:
    return PlannerConfig(llm=LLMConfig(model="openai/stub-model"), **overrides)


def make_context(workspace, model, *, history=(), wanted: int = 1, budget: BudgetConfig | None = None, parents=(), archive=None) -> Context:
    return Context(
        workspace=workspace,
        archive=archive,
        session="s1",
        budget=Budget(budget or BudgetConfig(candidates=None)),
        rng=random.Random(0),
        wanted=wanted,
        history=list(history),
        sources=source_candidates(),
        parents=list(parents),
        summary="Archive: 4 candidates (succeeded 4).",
        brief="Beat every source on all three tasks.",
        lessons=["ties over all three experts at density 0.5 beat the best source by 0.02"],
        model=model,
    )


def record(proposal, number: int, *, status: str | None = None, fitness: float | None = None) -> Candidate:
    """The candidate a session would record for `proposal`, succeeded with `fitness` when one is given."""
    status = status or ("succeeded" if fitness is not None else "proposed")
    metrics = {"search": SplitMetrics(fitness=fitness)} if fitness is not None else {}
    if proposal.invalid:
        status = "invalid"
    return Candidate(
        id=f"c{number:04d}",
        kind="merge",
        parents=proposal.parents,
        genotype=proposal.genotype,
        proposer=Proposer(
            strategy=proposal.strategy, session="s1", params=proposal.params, rationale=proposal.rationale, model=proposal.model
        ),
        status=status,
        reason=proposal.invalid or ("it broke" if status == "failed" else None),
        metrics=metrics,
        cost=proposal.cost,
    )
