"""The evolution strategy in a real session (graph, archive, executor, two slots; a fake sandbox with mixed
durations): generations are asked member by member, extras fill the slots, a Ctrl-C mid-generation resumes
the same run without proposing a member twice."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time

import pytest

from agents.budget import BudgetConfig
from agents.evolution.cmaes import run_members
from agents.evolution.strategy import EvolutionStrategy
from agents.init_cmd import copy_example
from agents.planner_config import PlannerConfig
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from agents.workspace import load_workspace
from archive.secrets import Redactor
from archive.store import Archive
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result

RUN = "evolution/parameters"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    target = tmp_path_factory.mktemp("zoo") / "ws"
    copy_example("tiny-zoo", target)
    return target


@pytest.fixture
def copies(template, tmp_path):
    """Fresh workspace copies of the tiny zoo (two slots each)."""

    def make(name):
        shutil.copytree(template, tmp_path / name, symlinks=True)
        return load_workspace(tmp_path / name)

    return make


def sandbox() -> FakeSandbox:
    """A score from the recipe's text; about half the jobs take 4x as long as the others (never asserted on)."""

    def run(job: Job) -> Result:
        digest = hashlib.sha256(json.dumps(job.work.model_dump(), sort_keys=True).encode()).digest()
        time.sleep(0.08 if digest[1] % 2 else 0.02)
        score = 0.5 + 0.4 * digest[0] / 256
        return Result(job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": {}})

    return FakeSandbox(run)


class InterruptMidGeneration:
    """The evolution strategy, with a Ctrl-C on the first call that finds generation 1 partly asked."""

    name = "evolution"

    def __init__(self, inner):
        self.inner = inner

    def propose(self, ctx):
        if any(g == 1 for g, _ in run_members(RUN, ctx.history)):
            raise KeyboardInterrupt
        return self.inner.propose(ctx)


def session(workspace, strategy, record) -> Session:
    return Session(workspace=workspace, record=record, strategy=strategy, backend=sandbox(), display=PlainDisplay(io.StringIO()))


def members(workspace, sid: str) -> dict:
    """(generation, index) -> candidate, asserting that no member was recorded twice."""
    with Archive.open(workspace.path("archive"), redactor=Redactor()) as archive:
        mine = [archive.get(c) for c in archive.session_candidates(sid)]
    keys = [(c.proposer.params["generation"], c.proposer.params["index"]) for c in mine]
    assert len(keys) == len(set(keys)) and len({c.genotype_hash() for c in mine}) == len(mine)
    return dict(zip(keys, mine))


def run(workspace, strategy, record):
    with Archive.open(workspace.path("archive"), create=True, redactor=Redactor()) as archive:
        return run_session(session(workspace, strategy, record), archive)


def new_record(sid: str, budget: int) -> records.SessionRecord:
    return records.SessionRecord(id=sid, strategy="evolution", seed=0, budget=BudgetConfig(candidates=budget), backend="local")


def planner(**evolution) -> PlannerConfig:
    return PlannerConfig(evolution={"population": 4, **evolution})


def test_without_extras_free_slots_wait_for_the_generation_and_the_session_runs_its_budget(copies):
    ws = copies("strict")
    summary = run(ws, EvolutionStrategy(planner(extras=0), ws), new_record(records.new_session_id(), 10))
    got = members(ws, summary.session)
    assert summary.candidates == 10 and sorted(got) == [(g, i) for g in range(3) for i in range(4)][:10]
    assert all(c.status == "succeeded" for c in got.values())


def test_ctrl_c_mid_generation_resumes_the_run_an_unbroken_session_makes(copies):
    sid, budget = records.new_session_id(), 14
    unbroken_ws = copies("unbroken")
    run(unbroken_ws, EvolutionStrategy(planner(), unbroken_ws), new_record(sid, budget))
    unbroken = members(unbroken_ws, sid)

    ws = copies("broken")
    record = new_record(sid, budget)
    with pytest.raises(KeyboardInterrupt):
        run(ws, InterruptMidGeneration(EvolutionStrategy(planner(), ws)), record)
    before = members(ws, sid)
    assert any(g == 1 for g, _ in before) and not all((1, i) in before for i in range(4))  # generation 1 partly asked
    summary = run(ws, EvolutionStrategy(planner(), ws), records.newest_unfinished(ws))
    after = members(ws, sid)
    assert summary.candidates == budget and all(c.status == "succeeded" for c in after.values())
    assert all(after[k].id == c.id for k, c in before.items())  # what was recorded before the kill is kept, not re-proposed
    # a member (told or extra) with the same place in the run has the same genome in both sessions; the told members of
    # every generation both sessions finished are the same (only how many extras a generation got depends on timing)
    shared = set(after) & set(unbroken)
    assert all(after[k].proposer.params["x"] == unbroken[k].proposer.params["x"] for k in shared)
    told = {k for k in shared if k[1] < 4}
    assert {(0, i) for i in range(4)} | {(1, i) for i in range(4)} <= told
