"""Sessions sharing one archive, and what a session reports about its sources (FakeSandbox, real archive)."""

from __future__ import annotations

import io

import pytest

from agents.budget import BudgetConfig
from agents.evolution.strategy import RandomStrategy
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result
from tests.session.conftest import ScriptedStrategy, fake_sandbox, hashed_sandbox
from tools.errors import BadInput

# source -> (search fitness, test fitness): adder is best on search, sorter on test
SOURCES = {"base": (0.30, 0.30), "adder": (0.80, 0.70), "reverser": (0.60, 0.60), "sorter": (0.75, 0.78)}


def _session(workspace, strategy, backend, candidates=4, seed=0):
    record = records.SessionRecord(
        id=records.new_session_id(), strategy=strategy.name, seed=seed, budget=BudgetConfig(candidates=candidates), backend="local"
    )
    return Session(workspace=workspace, record=record, strategy=strategy, backend=backend, display=PlainDisplay(io.StringIO()))


def _by_source(fail_test: str | None = None) -> FakeSandbox:
    def run(job: Job) -> Result:
        models = job.work.recipe["models"]
        split = job.evaluation.split
        if len(models) > 1:
            return Result(job_id=job.id, status="ok", fitness=0.9, metrics={"fitness": 0.9, "tasks": {}})
        name = models[0]["model"]
        if name == fail_test and split == "test":
            return Result(job_id=job.id, status="failed", reason="worker died: scripted failure")
        score = SOURCES[name][0 if split == "search" else 1]
        return Result(job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": {}})

    return FakeSandbox(run)


def test_a_second_session_explores_anew_instead_of_repeating_the_first(workspace, archive):
    for _ in range(2):
        summary = run_session(_session(workspace, RandomStrategy(workspace.config.planner, workspace), hashed_sandbox()), archive)
        statuses = [archive.get(cid).status for cid in archive.session_candidates(summary.session)]
        assert statuses == ["succeeded"] * 4, statuses  # none rejected as a duplicate of the first session's


def test_best_source_is_chosen_on_search_and_reported_on_held_out(workspace, archive):
    summary = run_session(_session(workspace, ScriptedStrategy([0.5]), _by_source()), archive)
    assert summary.best_source_fitness == 0.70  # adder (best on search), not sorter (best on test)
    assert summary.best_search_source.name == "adder" and summary.best_test_source.name == "sorter"
    assert summary.vs_best_test_source.difference == pytest.approx(0.9 - 0.78)
    assert summary.vs_best_test_source.interval is None  # this fake reports no per-example scores: no interval is made up


def test_a_failed_held_out_measurement_leaves_the_source_usable(workspace, archive):
    run_session(_session(workspace, ScriptedStrategy([0.5]), _by_source(fail_test="adder")), archive)
    adder = next(c for c in map(archive.get, (s.id for s in archive.candidates(kind="source"))) if c.genotype.name == "adder")
    assert adder.status == "succeeded" and adder.fitness("search") == 0.80 and adder.fitness("test") is None


def test_a_session_running_elsewhere_cannot_be_run_again(workspace, archive):
    s = _session(workspace, ScriptedStrategy([0.1]), fake_sandbox())
    with records.hold(workspace, s.record.id):
        with pytest.raises(BadInput, match="being run by another"):
            run_session(s, archive)
    assert archive.session_candidates(s.record.id) == []


def test_a_budget_without_any_limit_is_refused(workspace, capsys):
    from agents.cli import main

    config = workspace.root / "clade.yaml"
    config.write_text(config.read_text() + "planner:\n  budget: {candidates: null}\n")
    assert main(["run", "--workspace", str(workspace.root), "--planner", "evolution"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "planner.budget" in err[0] and "never stop" in err[0]
    assert not (workspace.root / ".clade" / "sessions").exists()


def test_the_llm_key_is_redacted_from_the_archive_whatever_its_variable_is_called(workspace, monkeypatch):
    from agents.llm.config import LLMConfig
    from agents.run_cmd import _open_archive
    from archive.record import Candidate, Proposer

    secret = "plainproxyvalue-8412"  # neither key-shaped nor in a variable whose name says "key"
    monkeypatch.setenv("MYLLM", secret)
    workspace.config.planner.llm = LLMConfig(model="openai/x", api_key_env="MYLLM")
    with _open_archive(workspace) as archive:
        src = archive.record(Candidate(kind="source", genotype={"name": "adder"}))
        cid = archive.record(
            Candidate(
                kind="merge",
                parents=[src],
                genotype={"recipe": {"merge_method": "linear"}},
                proposer=Proposer(strategy="llm", rationale=f"my key is {secret}"),
            )
        )
        assert secret not in archive.get(cid).proposer.rationale and "[REDACTED]" in archive.get(cid).proposer.rationale
