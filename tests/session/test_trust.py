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
    record = records.SessionRecord(
        id=records.new_session_id(), strategy=strategy.name, seed=0, budget=BudgetConfig(candidates=candidates), backend="local"
    )
    return Session(workspace=workspace, record=record, strategy=strategy, backend=backend, display=PlainDisplay(out or io.StringIO()))


def cascade_sandbox(cut: float) -> FakeSandbox:
    """Scores as the session fake does; the candidate with adder weight `cut` is cut short by the cascade
    (a first pass on 2 examples, with a fitness above everyone else's)."""

    def run(job: Job) -> Result:
        score = fitness_of(job)
        stage, examples = "full", 20
        if round(score - 0.5, 6) == cut and job.evaluation.split == "search":
            score, stage, examples = 0.99, "cascade", 2
        metrics = {
            "fitness": score,
            "tasks": {"add": {"char_accuracy": score}},
            "stage": stage,
            "examples": {"add": examples},
            "per_example": {"add": {"metric": "char_accuracy", "values": per_example_values(score)}},
        }
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


class EditingStrategy(ScriptedStrategy):
    """Edits clade.yaml's evaluation weights before its first proposal (a person changing the file mid-session)."""

    def __init__(self, items, workspace):
        super().__init__(items)
        self.workspace = workspace

    def propose(self, ctx):
        path = self.workspace.root / "clade.yaml"
        path.write_text(
            path.read_text().replace("weights: {add: 1.0, reverse: 1.0, sort: 1.0}", "weights: {add: 1.0, reverse: 0.0, sort: 0.0}")
        )
        return super().propose(ctx)


def test_every_job_of_a_session_carries_the_evaluation_it_started_with(workspace, archive):
    jobs = []

    def run(job: Job) -> Result:
        jobs.append(job)
        score = fitness_of(job)
        return Result(job_id=job.id, status="ok", fitness=score, metrics={"fitness": score, "tasks": {}})

    run_session(session(workspace, EditingStrategy([0.2, 0.3], workspace), FakeSandbox(run)), archive)
    assert "reverse: 0.0" in (workspace.root / "clade.yaml").read_text()
    suites = {job.evaluation.suite.model_dump_json() for job in jobs if job.kind == "merge"}
    [suite] = suites
    assert '"weights":{"add":1.0,"reverse":1.0,"sort":1.0}' in suite and len(jobs) >= 4
    assert all(not isinstance(task, str) and task.data["search"].startswith("/") for task in jobs[0].evaluation.suite.tasks)


def test_a_session_that_cannot_start_is_failed_and_not_offered_for_resume(workspace, archive):
    import pytest

    from tools.errors import BadInput

    path = workspace.root / "clade.yaml"
    path.write_text(path.read_text().replace("tasks/add.yaml", "tasks/gone.yaml"))
    from agents.workspace import load_workspace

    broken = load_workspace(workspace.root)
    s = session(broken, ScriptedStrategy([0.2]), cascade_sandbox(cut=-1))
    with pytest.raises(BadInput, match="gone.yaml"):
        run_session(s, archive)
    record = records.load(records.sessions_dir(broken) / f"{s.record.id}.json")
    assert record.status == "failed" and "could not start" in record.stop_reason and "gone.yaml" in record.stop_reason
    assert records.unfinished(broken) == [] and archive.session_candidates(s.record.id) == []


def test_a_session_in_which_every_job_failed_exits_non_zero(zoo_template, tmp_path, capsys):
    """A real `clade run` on the local sandbox whose models pass every check made before the first
    job (their files are sound) but hold non-finite weights, which only a job finds: every job
    (sources and candidates) fails, the report is printed, and the exit code is 1."""
    import json
    import shutil

    from safetensors.torch import load_file, save_file

    from agents.cli import main

    ws = tmp_path / "zoo"
    shutil.copytree(zoo_template, ws, symlinks=True)
    for name in ("base", "adder"):
        weights = ws / "models" / name / "model.safetensors"
        tensors = {key: value.clone().fill_(float("nan")) for key, value in load_file(weights).items()}
        weights.unlink()  # a link to the template's file stays the template's
        save_file(tensors, weights, metadata={"format": "pt"})
    config = (ws / "clade.yaml").read_text().replace("  - {name: reverser, path: models/reverser}\n", "")
    (ws / "clade.yaml").write_text(config.replace("  - {name: sorter, path: models/sorter}\n", ""))
    code = main(["run", str(ws), "--planner", "random", "--budget", "1", "--json"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1 and summary["succeeded"] == 0 and summary["failed"] == 1, captured.err[-2000:]
    assert f"every job of session {summary['session']} failed" in captured.err


class Greedy(ScriptedStrategy):
    """Returns one proposal more than wanted, each having cost 7 tokens."""

    def propose(self, ctx):
        from archive.record import Cost

        ctx.wanted += 1
        try:
            return [p.model_copy(update={"cost": Cost(llm_tokens=7)}) for p in super().propose(ctx)]
        finally:
            ctx.wanted -= 1


def test_proposals_beyond_wanted_are_not_dropped_with_their_cost(workspace, archive):
    out = io.StringIO()
    summary = run_session(session(workspace, Greedy([0.1, 0.2, 0.3]), cascade_sandbox(cut=-1), out, candidates=2), archive)
    mine = [archive.get(i) for i in archive.session_candidates(summary.session)]
    assert len(mine) == 2 and sum(c.cost.llm_tokens for c in mine) == 21
    assert "keeping the first 2, their cost charged to the last one kept" in out.getvalue()


def test_a_source_whose_measurement_failed_is_measured_again_by_the_next_session(workspace, archive):
    from tests.session.conftest import fake_sandbox

    broken = {"on": True}

    def run(job: Job) -> Result:
        if broken["on"] and job.id.endswith("-search"):
            return Result(job_id=job.id, status="failed", reason="worker died: a transient fault")
        return fake_sandbox().execute(job)

    first = run_session(session(workspace, ScriptedStrategy([]), FakeSandbox(run)), archive)
    sources = archive.candidates(kind="source")
    assert first.candidates == 0 and {s.status for s in sources} == {"failed"}
    broken["on"] = False
    run_session(session(workspace, ScriptedStrategy([]), FakeSandbox(run)), archive)
    assert {s.status for s in archive.candidates(kind="source")} == {"succeeded"}


def test_clade_sources_lists_and_remeasures_them(zoo_template, tmp_path, capsys):
    """`clade sources --remeasure` on the real local sandbox: broken data fails the measurement, fixed data
    measured again succeeds; the listing shows status, fitness per split and the reason."""
    import json
    import shutil

    from agents.cli import main

    ws = tmp_path / "zoo"
    shutil.copytree(zoo_template, ws, symlinks=True)
    saved = {p: p.read_text() for p in (ws / "data").glob("*.jsonl")}
    for data in saved:
        data.write_text('{"unrelated": 1}\n' * 2)
    config = (ws / "clade.yaml").read_text().replace("  - {name: reverser, path: models/reverser}\n", "")
    (ws / "clade.yaml").write_text(config.replace("  - {name: sorter, path: models/sorter}\n", "").replace("base: models/base\n", ""))
    assert main(["--workspace", str(ws), "sources", "--remeasure", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["name"] == "adder" and row["status"] == "failed" and row["search_fitness"] is None and row["reason"]
    for data, text in saved.items():
        data.write_text("".join(text.splitlines(keepends=True)[:4]))
    assert main(["--workspace", str(ws), "sources", "--remeasure", "adder"]) == 0
    table = capsys.readouterr().out
    assert "succeeded" in table and "adder" in table and "FITNESS(test)" in table
    assert main(["--workspace", str(ws), "sources", "--remeasure", "nobody"]) == 2
    assert "--remeasure nobody: no such source (sources: adder)" in capsys.readouterr().err


def test_a_result_is_attached_as_its_job_ends_so_an_interrupt_never_runs_it_again(workspace, archive):
    """The strategy is interrupted (Ctrl-C) after the first job ended but before any later step recorded it:
    its result is already in the archive, and the resumed session runs only what never finished."""
    import pytest

    from tests.session.conftest import fake_sandbox

    runs = []
    inner = fake_sandbox()

    def run(job: Job) -> Result:
        runs.append(job.id)
        return inner.execute(job)

    class InterruptOnce(ScriptedStrategy):
        def propose(self, ctx):
            if len(self.contexts) == 1:
                self.contexts.append(ctx)
                import time

                [cid] = ctx.archive.session_candidates(ctx.session)
                for _ in range(3000):  # the job ends on its own thread; its result lands without any step of the loop
                    if ctx.archive.get(cid).status == "succeeded":
                        break
                    time.sleep(0.01)
                raise KeyboardInterrupt
            return super().propose(ctx)

    first = session(workspace, InterruptOnce([0.2]), FakeSandbox(run), candidates=2)
    with pytest.raises(KeyboardInterrupt):
        run_session(first, archive)
    [cid] = archive.session_candidates(first.record.id)
    assert archive.get(cid).status == "succeeded" and runs.count(f"{cid}-search") == 1
    resumed = session(workspace, ScriptedStrategy([0.3]), FakeSandbox(run), candidates=2)
    resumed.record = records.newest_unfinished(workspace)
    summary = run_session(resumed, archive)
    assert summary.candidates == 2 and runs.count(f"{cid}-search") == 1
