"""One result, three ways in (agents/results.py): the session, `clade sources --remeasure` and chat's run-now
record the same status, reason, metrics (stage and examples included), logs and compute time for it."""

from __future__ import annotations

import io
import json

import pytest

from agents.budget import BudgetConfig
from agents.chat.agent import ChatAgent
from agents.llm.scripted import ScriptedModel
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from agents.session.sources import record_sources
from agents.sources_cmd import remeasure
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result, Timings
from tests.session.conftest import ScriptedStrategy, fake_sandbox, weighted_recipe
from tools.evaluate.result import EvalResult, ExampleScores

CUT = EvalResult(
    fitness=0.55,
    split="search",
    tasks={"add": {"char_accuracy": 0.55, "exact_match": 0.5}},
    stage="cascade",  # cut short: never best, so the session measures nothing more of it
    examples={"add": 2},
    per_example={"add": ExampleScores(metric="char_accuracy", values=[0.6, 0.5])},
)
OK = Result(
    job_id="-",
    status="ok",
    fitness=0.55,
    evaluation=CUT,
    metrics=CUT.model_dump(),
    timings=Timings(total_s=1.25),
    stdout="merged\n" * 900,  # past the log tail: cut, and the cut said
    stderr="a warning\n",
)
FAILED = Result(job_id="-", status="failed", reason="worker died: out of memory", timings=Timings(total_s=0.5), stderr="Killed\n")


def _recorded(c) -> dict:
    return {"status": c.status, "reason": c.reason, "search": c.metrics.get("search"), "logs": c.logs}


@pytest.mark.parametrize("result", [OK, FAILED], ids=["succeeded", "failed"])
def test_the_session_clade_sources_and_chat_record_one_result_alike(workspace, archive, result):
    def scripted(job: Job) -> Result:
        return result.model_copy(update={"job_id": job.id})

    def merges_scripted(job: Job) -> Result:  # the session's sources measure as usual; its merge gets `result`
        return scripted(job) if len(job.work.recipe["models"]) > 1 else fake_sandbox().execute(job)

    sources = record_sources(workspace, archive)
    remeasure(workspace, archive, sources[:1], FakeSandbox(scripted))
    by_sources = archive.get(sources[0].id)

    record = records.SessionRecord(
        id=records.new_session_id(), strategy="scripted", seed=0, budget=BudgetConfig(candidates=1), backend="local"
    )
    display = PlainDisplay(io.StringIO())
    session = Session(
        workspace=workspace, record=record, strategy=ScriptedStrategy([0.7]), backend=FakeSandbox(merges_scripted), display=display
    )
    run_session(session, archive)
    [by_session] = (archive.get(cid) for cid in archive.session_candidates(record.id))

    script = [json.dumps({"tool": "propose", "args": {"recipe": weighted_recipe(0.3), "run_now": True}}), '{"answer": "ran"}']
    chat = ChatAgent(ScriptedModel(script), workspace, archive, who="ana", sandbox=FakeSandbox(scripted))
    by_chat = archive.get(chat.send("run 30/70 now").actions[0].result["id"])

    assert _recorded(by_session) == _recorded(by_sources) == _recorded(by_chat)
    assert by_session.cost.compute_s == by_chat.cost.compute_s == result.timings.total_s
    assert by_sources.cost.compute_s == 2 * result.timings.total_s  # measured on the search and the held-out split
    if result is OK:
        m = by_chat.metrics["search"]
        assert by_chat.status == "succeeded" and m.stage == "cascade" and m.examples == {"add": 2} and m.tasks == CUT.tasks
        assert m.per_example == {}  # kept for the held-out split only
        assert by_sources.metrics["test"].per_example["add"].values == [0.6, 0.5]
        assert by_chat.logs.startswith("[stdout, last 4000 of 6300 characters]") and by_chat.logs.endswith("[stderr]\na warning\n\n")
    else:
        assert by_chat.status == "failed" and by_chat.reason == "worker died: out of memory" and "test" not in by_sources.metrics
        assert by_chat.logs == "[stderr]\nKilled\n\n"
