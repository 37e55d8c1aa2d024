"""The job contract: job.json in, result.json out, through the worker, on every backend."""

from __future__ import annotations

import json

import pytest

from sandbox.config import Limits
from sandbox.job import RESULT_FILE, CodeGenotype, EvaluationSpec, Job, Result, read_model, write_json_atomic
from sandbox.outcome import RunOutcome
from sandbox.runner import finish, prepare
from tests.sandbox.conftest import PY
from tools.errors import BadInput

EVAL = "import json\nprint('evaluating')\nprint(json.dumps({'fitness': %s, 'loss': 1.5}))\n"


def code_job(tree, files=None, **changes) -> Job:
    fields = dict(
        id="code-1",
        kind="code",
        genotype=CodeGenotype(tree=str(tree), files=files or {}).model_dump(),
        evaluation=EvaluationSpec(command=[PY, "eval.py"]),
        limits=Limits(wall_s=60, memory_mb=1024),
    )
    return Job(**{**fields, **changes})


@pytest.fixture
def tree(tmp_path):
    path = tmp_path / "tree"
    path.mkdir()
    (path / "eval.py").write_text(EVAL % "0.5")
    return path


def test_job_schema_round_trip_and_errors(tmp_path, tree):
    job = code_job(tree)
    write_json_atomic(tmp_path / "job.json", job)
    assert read_model(tmp_path / "job.json", Job) == job
    (tmp_path / "bad.json").write_text(json.dumps({**job.model_dump(mode="json"), "kind": "poem"}))
    with pytest.raises(BadInput, match=r"bad.json: field kind"):
        read_model(tmp_path / "bad.json", Job)
    with pytest.raises(ValueError):
        Job(id="../escape", kind="command", genotype={})
    with pytest.raises(ValueError, match="models.a is 'models/a'; give an absolute path"):
        Job(id="rel", kind="merge", genotype={}, models={"a": "models/a"})
    assert str(tree.resolve()) in job.read_only_paths()


def outcome(status="ok", reason="exited with code 0", code=0) -> RunOutcome:
    return RunOutcome(status=status, exit_code=code, reason=reason, stdout="out", stderr="err", wall_s=2.0, peak_memory_mb=10.0)


def test_finish_keeps_worker_result_when_the_sandbox_saw_no_breach(tmp_path, tree):
    job = code_job(tree)
    job_dir = prepare(job, tmp_path / "jobs")
    write_json_atomic(job_dir / RESULT_FILE, Result(job_id=job.id, status="ok", fitness=0.5, metrics={"fitness": 0.5}))
    result = finish(job, job_dir, outcome())
    assert (result.status, result.fitness, result.stdout, result.peak_memory_mb, result.timings.total_s) == ("ok", 0.5, "out", 10.0, 2.0)
    assert Result.model_validate_json((job_dir / RESULT_FILE).read_text()) == result


def test_finish_overrules_worker_on_a_breach_and_names_missing_result(tmp_path, tree):
    job = code_job(tree)
    job_dir = prepare(job, tmp_path / "jobs")
    write_json_atomic(job_dir / RESULT_FILE, Result(job_id=job.id, status="ok", fitness=9.0))
    result = finish(job, job_dir, outcome("timeout", "exceeded the wall-clock limit of 1 s; killed the whole job", None))
    assert (result.status, result.fitness) == ("timeout", None) and "wall-clock" in result.reason
    (job_dir / RESULT_FILE).unlink()
    result = finish(job, job_dir, outcome())
    assert result.status == "failed" and "without writing result.json" in result.reason
    (job_dir / RESULT_FILE).write_text("{not json")
    assert "not a valid result" in finish(job, job_dir, outcome()).reason


def test_result_logs_keep_head_and_tail(tmp_path, tree):
    job = code_job(tree)
    job_dir = prepare(job, tmp_path / "jobs")
    long = outcome().model_copy(update={"stderr": "START" + "x" * 50_000 + "Traceback: END"})
    result = finish(job, job_dir, long)
    assert result.truncated and result.stderr.startswith("START") and result.stderr.endswith("Traceback: END")
    assert "clade cut" in result.stderr and len(result.stderr) < 9000


def test_code_job_applies_files_and_reports_metrics(backend, tree):
    result = backend.execute(code_job(tree, files={"eval.py": EVAL % "0.75", "notes/new.txt": "hi"}))
    assert (result.status, result.fitness, result.metrics["loss"]) == ("ok", 0.75, 1.5), result
    assert result.device == "cpu" and result.timings.total_s > 0
    assert (tree / "eval.py").read_text() == EVAL % "0.5"  # the parent tree is never written


def test_code_job_failures_have_reasons(local_backend, tree):
    result = local_backend.execute(code_job(tree, files={"../../escape.py": "x"}))
    assert result.status == "failed" and "outside the work tree" in result.reason
    result = local_backend.execute(code_job(tree, files={"eval.py": "raise SystemExit('no metrics today')"}))
    assert result.status == "failed" and result.reason
    result = local_backend.execute(code_job(tree, files={"eval.py": "import time; time.sleep(60)"}, limits=Limits(wall_s=2)))
    assert result.status == "timeout" and "wall-clock" in result.reason


def test_command_job_without_fitness_fails_clearly(local_backend):
    job = Job(id="cmd-1", kind="command", genotype={"argv": [PY, "-c", "print('{\"acc\": 1}')"]})
    result = local_backend.execute(job)
    assert result.status == "failed" and "'fitness'" in result.reason
