"""`planner.evolution.space: both` in real sessions (graph, archive, executor; a fake sandbox scoring the recipe's
text, so that the phases and the resume are quick): phase 1 in parameter space, phase 2 layer paths through the
best phase-1 candidate named `candidate:<id>`, resumed exactly; its configuration mistakes are one-line bad input."""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import time

import pytest

from agents.budget import BudgetConfig
from agents.cli import main
from agents.evolution.cmaes import run_members
from agents.evolution.strategy import EvolutionStrategy, RandomStrategy
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
from tools.errors import BadInput

PHASE1, PHASE2 = "evolution/parameters", "evolution/both"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    target = tmp_path_factory.mktemp("zoo") / "ws"
    copy_example("tiny-zoo", target)
    return target


@pytest.fixture
def copies(template, tmp_path):
    def make(name):
        shutil.copytree(template, tmp_path / name, symlinks=True)
        return load_workspace(tmp_path / name)

    return make


def sandbox(jobs: list | None = None) -> FakeSandbox:
    """A score from the recipe's text; about half the jobs take 4x as long as the others (never asserted on)."""

    def run(job: Job) -> Result:
        if jobs is not None:
            jobs.append(job)
        text = re.sub(r"candidate:[0-9a-f]+", "candidate:M", json.dumps(job.work.recipe, sort_keys=True))  # ids differ per archive
        digest = hashlib.sha256(text.encode()).digest()
        time.sleep(0.06 if digest[1] % 2 else 0.015)
        score = 0.5 + 0.4 * digest[0] / 256
        return Result(job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": {}})

    return FakeSandbox(run)


def planner(strategy: str = "evolution", **evolution) -> PlannerConfig:
    return PlannerConfig(strategy=strategy, evolution={"population": 3, "space": "both", **evolution})


def new_record(sid: str, budget: int, strategy: str = "evolution") -> records.SessionRecord:
    return records.SessionRecord(id=sid, strategy=strategy, seed=0, budget=BudgetConfig(candidates=budget), backend="local")


def run(workspace, strategy, record, jobs=None):
    with Archive.open(workspace.path("archive"), create=True, redactor=Redactor()) as archive:
        session = Session(workspace=workspace, record=record, strategy=strategy, backend=sandbox(jobs), display=PlainDisplay(io.StringIO()))
        return run_session(session, archive)


def candidates(workspace, sid: str) -> list:
    with Archive.open(workspace.path("archive"), redactor=Redactor()) as archive:
        return [archive.get(c) for c in archive.session_candidates(sid)]


class InterruptInPhase2:
    """The strategy, with a Ctrl-C on the first call that finds two phase-2 members recorded."""

    name = "evolution"

    def __init__(self, inner):
        self.inner = inner

    def propose(self, ctx):
        if len(run_members(PHASE2, ctx.history)) >= 2:
            raise KeyboardInterrupt
        return self.inner.propose(ctx)


def test_phase_2_paths_run_through_the_best_phase_1_candidate(copies):
    ws, sid, jobs = copies("both"), records.new_session_id(), []
    summary = run(ws, EvolutionStrategy(planner(), ws), new_record(sid, 12), jobs)
    got = candidates(ws, sid)
    first = [c for c in got if c.proposer.params["run"] == PHASE1]
    second = [c for c in got if c.proposer.params["run"] == PHASE2]
    assert summary.candidates == 12 and len(first) == 6 and len(second) == 6  # both_split 0.5 of 12
    assert all(c.status == "succeeded" for c in got)
    best = max(first, key=lambda c: c.fitness("search"))
    name = f"candidate:{best.id}"
    assert {c.proposer.params["merged"] for c in second} == {best.id}
    for c in second:
        steps = c.genotype.recipe["layer_path"]
        assert (best.id in c.parents) == any(s["model"] == name for s in steps)  # M is a parent when the path goes through it
        assert all(s["model"] in (name, "base", "adder", "reverser", "sorter") for s in steps)
    # x0 is M's layers in order: generation 0's mean; every phase-2 recipe names M or a source, and M's appear
    assert any(s["model"] == name for c in second for s in c.genotype.recipe["layer_path"])
    # phase 1 finished before phase 2 started (M is chosen from complete results)
    assert max(got.index(c) for c in first) < min(got.index(c) for c in second)
    # the jobs of phase 2 carry M's recipe to materialise in the workspace's merge cache
    derived = [j for j in jobs if j.work.derived]
    assert derived and all(j.cache == str(ws.root.resolve() / ".clade" / "cache" / "merges") for j in derived)
    assert all(j.work.derived[name].recipe == best.genotype.recipe for j in derived if name in j.work.derived)
    assert len({j.work.derived[name].key for j in derived if name in j.work.derived}) == 1


def test_ctrl_c_in_phase_2_resumes_with_the_same_merge_and_genomes(copies):
    sid, budget = records.new_session_id(), 12
    unbroken_ws = copies("unbroken")
    run(unbroken_ws, EvolutionStrategy(planner(), unbroken_ws), new_record(sid, budget))
    unbroken = candidates(unbroken_ws, sid)

    ws = copies("broken")
    with pytest.raises(KeyboardInterrupt):
        run(ws, InterruptInPhase2(EvolutionStrategy(planner(), ws)), new_record(sid, budget))
    before = candidates(ws, sid)
    summary = run(ws, EvolutionStrategy(planner(), ws), records.newest_unfinished(ws))
    after = candidates(ws, sid)
    assert summary.candidates == budget and all(c.status == "succeeded" for c in after)
    assert {c.id for c in before} <= {c.id for c in after}

    def key(c):
        p = c.proposer.params
        return p["run"], p["generation"], p["index"]

    # M is the same candidate (its genome, as ids differ per archive), and members at the same place share genomes
    def merged_genome(cs):
        by_id = {c.id: c for c in cs}
        return {by_id[c.proposer.params["merged"]].proposer.params["x"].__repr__() for c in cs if c.proposer.params.get("merged")}

    assert merged_genome(after) == merged_genome(unbroken) and len(merged_genome(after)) == 1
    mine, theirs = {key(c): c for c in after}, {key(c): c for c in unbroken}
    shared = set(mine) & set(theirs)
    assert {k for k in shared if k[0] == PHASE2} and all(mine[k].proposer.params["x"] == theirs[k].proposer.params["x"] for k in shared)


def test_random_both_draws_parameters_then_paths_through_the_best(copies):
    ws, sid = copies("random"), records.new_session_id()
    run(ws, RandomStrategy(planner("random", both_split=0.25), ws), new_record(sid, 8, "random"))
    got = candidates(ws, sid)
    first = [c for c in got if c.proposer.params["run"] == "random"]
    second = [c for c in got if c.proposer.params["run"] == "random/both"]
    assert len(first) == 2 and len(second) == 6
    best = max(first, key=lambda c: c.fitness("search"))
    assert all(c.proposer.params["merged"] == best.id for c in second)
    uses = [c for c in second if f"candidate:{best.id}" in json.dumps(c.genotype.recipe)]
    assert uses and all(best.id in c.parents for c in uses) and all(best.id not in c.parents for c in second if c not in uses)


def test_without_a_successful_phase_1_candidate_phase_2_runs_over_the_sources(copies):
    ws, sid = copies("failing"), records.new_session_id()

    def fail_phase_1(job: Job) -> Result:
        if "layer_path" in job.work.recipe:
            return Result(job_id=job.id, status="ok", fitness=0.6, metrics={"fitness": 0.6, "tasks": {}})
        return Result(job_id=job.id, status="failed", reason="it broke")

    with Archive.open(ws.path("archive"), create=True, redactor=Redactor()) as archive:
        strategy = EvolutionStrategy(planner(), ws)
        session = Session(
            workspace=ws,
            record=new_record(sid, 6),
            strategy=strategy,
            backend=FakeSandbox(fail_phase_1),
            display=PlainDisplay(io.StringIO()),
        )
        run_session(session, archive)
    second = [c for c in candidates(ws, sid) if c.proposer.params["run"] == PHASE2]
    assert len(second) == 3 and all(c.proposer.params["merged"] is None for c in second)
    assert all("phase 1 has no successful" in c.proposer.rationale for c in second)
    assert all(not s["model"].startswith("candidate:") for c in second for s in c.genotype.recipe["layer_path"])


def test_both_needs_a_candidate_budget_or_generations(zoo, context):
    with pytest.raises(BadInput, match="space `both` needs planner.budget.candidates"):
        EvolutionStrategy(planner(), zoo).propose(context())


def test_both_is_refused_on_the_session_s_ray_backend_not_on_clade_yaml_s(copies):
    from agents.evolution.strategy import check_space

    ws = copies("ray")
    ws.config.sandbox.backend = "ray"  # clade.yaml's; `clade run --backend local` overrides it, so the strategy builds
    EvolutionStrategy(planner(), ws)
    with pytest.raises(BadInput, match="space `both` needs the workspace's merge cache.*sandbox.backend ray"):
        check_space(planner().evolution, "ray", 10)
    check_space(planner().evolution, "local", 10)


def test_random_both_needs_a_candidate_budget_even_with_generations():
    from agents.evolution.config import EvolutionConfig
    from agents.evolution.strategy import check_space

    config = EvolutionConfig(space="both", generations=2)
    check_space(config, "local", None, "evolution")  # evolution's phase 1 ends after its generations
    with pytest.raises(BadInput, match="needs planner.budget.candidates") as found:
        check_space(config, "local", None, "random")
    assert "generations" not in str(found.value)


@pytest.mark.parametrize("value", ["0", "1", "1.5", "half"])
def test_a_bad_both_split_is_one_line_exit_2(copies, capsys, value):
    ws = copies("bad")
    text = (ws.root / "clade.yaml").read_text()
    assert "\nplanner:" not in text
    (ws.root / "clade.yaml").write_text(text + f"planner:\n  evolution: {{space: both, both_split: {value}}}\n")
    assert main(["run", str(ws.root), "--planner", "evolution", "--budget", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "both_split" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "flags, yaml_extra, message",
    [
        (["--backend", "ray"], "", "space `both` needs the workspace's merge cache"),
        ([], "  budget: {candidates: null, wall_s: 60}\n", "space `both` needs planner.budget.candidates"),
    ],
)
def test_clade_run_refuses_both_where_it_cannot_run_before_any_job(copies, capsys, flags, yaml_extra, message):
    ws = copies("refused")
    (ws.root / "clade.yaml").write_text((ws.root / "clade.yaml").read_text() + "planner:\n  evolution: {space: both}\n" + yaml_extra)
    assert main(["run", str(ws.root), "--planner", "evolution", *flags]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and not (ws.root / ".clade" / "sessions").exists()


def test_m_is_the_best_fully_measured_succeeded_member_never_a_cut_one():
    from agents.evolution.both import best
    from archive.record import Candidate, Proposer, SplitMetrics

    def member(i, fitness, status="succeeded", stage="full"):
        metrics = {"search": SplitMetrics(fitness=fitness, stage=stage)} if fitness is not None else {}
        reason = "it broke" if status == "failed" else None
        proposer = Proposer(strategy="evolution", session="s1", params={"run": PHASE1, "generation": 0, "index": i})
        return Candidate(
            id=f"c{i}",
            kind="merge",
            parents=["src"],
            genotype={"recipe": {"merge_method": "linear"}},
            proposer=proposer,
            status=status,
            reason=reason,
            metrics=metrics,
        )

    members = [member(0, 0.7), member(1, 0.95, stage="cascade"), member(2, None, "failed"), member(3, 0.8), member(4, 0.8)]
    assert best(members).id == "c3"  # the cut 0.95 is never M; of two equals the earlier
    assert best([member(1, 0.95, stage="cascade"), member(2, None, "failed")]) is None


def test_with_generations_phase_1_ends_when_they_are_told(copies):
    ws, sid = copies("generations"), records.new_session_id()
    run(ws, EvolutionStrategy(planner(generations=1, extras=0), ws), new_record(sid, 8))
    got = candidates(ws, sid)
    assert [c.proposer.params["run"] for c in got] == [PHASE1] * 3 + [PHASE2] * 5  # generation 0 of 3, then paths
