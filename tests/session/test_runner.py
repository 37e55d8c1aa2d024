"""run_session: Ctrl-C leaves a resumable session; resuming counts the budget across runs (FakeSandbox)."""

from __future__ import annotations

import io

import pytest

from agents.budget import BudgetConfig
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from tests.session.conftest import ScriptedStrategy, fake_sandbox


def session(workspace, strategy, record=None, out=None):
    record = record or records.SessionRecord(
        id=records.new_session_id(), strategy=strategy.name, seed=0, budget=BudgetConfig(candidates=4), backend="local"
    )
    return Session(
        workspace=workspace, record=record, strategy=strategy, backend=fake_sandbox(), display=PlainDisplay(out or io.StringIO())
    )


def test_ctrl_c_stops_resumably_and_resume_counts_the_budget_across_runs(workspace, archive):
    first = ScriptedStrategy([0.1, 0.2, KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        run_session(session(workspace, first), archive)
    record = records.newest_unfinished(workspace)
    assert record.status == "stopped" and record.runs[0].ended and len(archive.session_candidates(record.id)) == 2
    second, out = ScriptedStrategy([0.3, 0.4, 0.5]), io.StringIO()
    summary = run_session(session(workspace, second, record, out), archive)
    assert summary.candidates == 4 and second.items == [0.5]
    assert f"resuming session {record.id} at node propose" in out.getvalue()
    assert records.load(records.sessions_dir(workspace) / f"{record.id}.json").status == "finished"
    assert summary.best_fitness == archive.get(summary.best_id).fitness("test") == 0.9


def test_strategy_with_nothing_more_finishes_the_session(workspace, archive):
    summary = run_session(session(workspace, ScriptedStrategy([0.2])), archive)
    record = records.load(records.sessions_dir(workspace) / f"{summary.session}.json")
    assert summary.candidates == 1 and record.stop_reason == "strategy scripted has nothing more to propose"
    with pytest.raises(Exception, match="no unfinished session"):
        records.newest_unfinished(workspace)
