"""Trust items of a session (issue 12): nothing silently wrong, nothing lost, failures said by the exit code."""

from __future__ import annotations

import io

from agents.budget import BudgetConfig
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result
from tests.session.conftest import ScriptedStrategy, fitness_of, per_example_values


def session(workspace, strategy, backend, out=None, candidates=4):
    record = records.SessionRecord(id=records.new_session_id(), strategy=strategy.name, seed=0,
                                   budget=BudgetConfig(candidates=candidates), backend="local")
    return Session(workspace=workspace, record=record, strategy=strategy, backend=backend, display=PlainDisplay(out or io.StringIO()))


def cascade_sandbox(cut: float) -> FakeSandbox:
    """Scores as the session fake does; the candidate with adder weight `cut` is cut short by the cascade
    (a first pass on 2 examples, with a fitness above everyone else's)."""

    def run(job: Job) -> Result:
        score = fitness_of(job)
        stage, examples = "full", 20
        if round(score - 0.5, 6) == cut and job.evaluation.split == "search":
            score, stage, examples = 0.99, "cascade", 2
        metrics = {"fitness": score, "tasks": {"add": {"char_accuracy": score}}, "stage": stage, "examples": {"add": examples},
                   "per_example": {"add": {"metric": "char_accuracy", "values": per_example_values(score)}}}
        return Result(job_id=job.id, status="ok", fitness=score, metrics=metrics)

    return FakeSandbox(run)


def test_a_candidate_cut_by_the_cascade_keeps_its_stage_and_is_never_best(workspace, archive):
    out = io.StringIO()
    summary = run_session(session(workspace, ScriptedStrategy([0.2, 0.3]), cascade_sandbox(cut=0.3), out), archive)
    cut = next(c for c in (archive.get(i) for i in archive.session_candidates(summary.session)) if c.cut("search"))
    assert cut.metrics["search"].stage == "cascade" and cut.metrics["search"].examples == {"add": 2}
    assert cut.fitness("search") == 0.99 and summary.best_id != cut.id and summary.best_search_fitness == 0.7
    assert f"{cut.id} succeeded search fitness 0.9900 (cut by the evaluation cascade after 2 example(s) per task)" in out.getvalue()
    listed = archive.candidates(status="succeeded", kind="merge")
    assert listed[-1].id == cut.id and listed[-1].stage == "cascade" and listed[-1].to_json()["stage"] == "cascade"
    assert archive.top(1)[0].id != cut.id
    from archive.selection import eligible

    assert cut.id not in {c.id for c in eligible(archive.candidates())}
