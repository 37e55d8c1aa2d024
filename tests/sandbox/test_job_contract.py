"""The job contract: job.json in, result.json out, through the worker, on every backend."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sandbox.config import Limits
from sandbox.job import (
    JOB_FILE,
    RESULT_FILE,
    WORK_KINDS,
    CodeWork,
    CommandWork,
    EvaluationSpec,
    Job,
    MergeWork,
    Result,
    read_job,
    write_json_atomic,
)
from sandbox.outcome import RunOutcome
from sandbox.runner import finish, prepare
from tests.sandbox.conftest import PY
from tools.errors import BadInput

EVAL = "import json\nprint('evaluating')\nprint(json.dumps({'fitness': %s, 'loss': 1.5}))\n"


def code_job(tree, files=None, **changes) -> Job:
    fields = dict(
        id="code-1",
        work=CodeWork(tree=str(tree), files=files or {}),
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
    assert read_job(tmp_path / "job.json") == job and job.kind == "code"
    (tmp_path / "bad.json").write_text(json.dumps({**job.model_dump(mode="json"), "work": {"kind": "poem"}}))
    with pytest.raises(BadInput, match=r"bad.json: field work.kind: 'poem' is none of 'merge', 'code', 'command'"):
        read_job(tmp_path / "bad.json")
    with pytest.raises(ValueError):
        Job(id="../escape", work=CommandWork(argv=["true"]))
    with pytest.raises(ValueError, match="models.a is 'models/a'; give an absolute path"):
        Job(id="rel", work=MergeWork(recipe={}), models={"a": "models/a"})
    with pytest.raises(ValueError, match="work.tree is 'tree'; give an absolute path"):
        Job(id="rel", work=CodeWork(tree="tree"))
    assert str(tree.resolve()) in job.read_only_paths()
    assert {form.model_fields["kind"].default for form in (MergeWork, CodeWork, CommandWork)} == WORK_KINDS


GOOD = {"id": "j1", "work": {"kind": "command", "argv": ["true"]}}
MALFORMED = {
    "unknown kind": ({**GOOD, "work": {"kind": "poem"}}, "field work.kind: 'poem' is none of 'merge', 'code', 'command'"),
    "no kind": ({**GOOD, "work": {"argv": ["true"]}}, "field work.kind: is missing"),
    "no work": ({"id": "j1"}, "field work: Field required"),
    "missing recipe": ({**GOOD, "work": {"kind": "merge"}}, "field work.recipe: Field required"),
    "recipe not a mapping": ({**GOOD, "work": {"kind": "merge", "recipe": "linear please"}}, "field work.recipe: Input should be a valid"),
    "argv not a list": ({**GOOD, "work": {"kind": "command", "argv": "ls -l"}}, "field work.argv: Input should be a valid list"),
    "empty argv": ({**GOOD, "work": {"kind": "command", "argv": []}}, "field work.argv: List should have at least 1 item"),
    "code without tree": ({**GOOD, "work": {"kind": "code", "files": {}}}, "field work.tree: Field required"),
    "extra field in work": ({**GOOD, "work": {"kind": "command", "argv": ["true"], "shell": True}}, "field work.shell: Extra inputs"),
    "extra field in job": ({**GOOD, "priority": 9}, "field priority: Extra inputs are not permitted"),
    "the old kind + genotype": (
        {"schema_version": 1, "id": "j1", "kind": "command", "genotype": {"argv": ["true"]}},
        "field schema_version: Input should be 2",
    ),
    "not a job": ([1, 2], "field (top level): Input should be a valid dictionary"),
}


def worker(job_dir) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sandbox.worker", str(job_dir)], capture_output=True, text=True)


@pytest.mark.parametrize("case", MALFORMED, ids=str)
def test_a_malformed_job_is_one_line_exit_2_naming_the_field(tmp_path, case):
    """Through the real worker entry: nothing runs, nothing is written, no traceback."""
    document, named = MALFORMED[case]
    (tmp_path / JOB_FILE).write_text(json.dumps(document))
    done = worker(tmp_path)
    assert done.returncode == 2 and done.stdout == "", done
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"clade worker: {tmp_path / JOB_FILE}: ") and named in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == [JOB_FILE]


def test_a_well_formed_job_through_the_worker_entry_writes_its_result(tmp_path):
    argv = [PY, "-c", "import json; print(json.dumps({'fitness': 0.5}))"]
    (tmp_path / JOB_FILE).write_text(json.dumps({**GOOD, "work": {"kind": "command", "argv": argv}}))
    done = worker(tmp_path)
    assert done.returncode == 0, done.stderr
    assert Result.model_validate_json((tmp_path / RESULT_FILE).read_text()).fitness == 0.5


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


def test_a_worker_that_wrote_no_result_is_reported_with_its_last_stderr_line(tmp_path, tree):
    job = code_job(tree)
    job_dir = prepare(job, tmp_path / "jobs")
    said = "clade worker: /jobs/x/job.json: field work.kind: 'poem' is none of 'merge', 'code', 'command'"
    result = finish(job, job_dir, outcome("ok", "exited with code 2", 2).model_copy(update={"stderr": f"noise\n{said}\n"}))
    assert result.status == "failed" and f"without writing result.json (the last line of its stderr: {said})" in result.reason


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
    job = Job(id="cmd-1", work=CommandWork(argv=[PY, "-c", "print('{\"acc\": 1}')"]))
    result = local_backend.execute(job)
    assert result.status == "failed" and "'fitness'" in result.reason
