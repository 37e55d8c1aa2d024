import sys

import pytest

from agents.code.jobs import code_job, seed_files
from sandbox.backends.local import LocalBackend
from sandbox.job import CodeWork
from tests.code.conftest import SOLUTION, make_workspace
from tools.errors import BadInput


def test_seed_files_are_the_whole_tree(workspace):
    assert seed_files(workspace) == {"README.txt": "not editable\n", "solution.py": SOLUTION}


def test_code_job_mounts_the_evaluator_read_only_and_passes_the_split(workspace):
    job = code_job(workspace, "abc123", {"solution.py": "VALUE = 3\n"}, split="test", seed=7)
    evaluator = str(workspace.root / "eval")
    assert job.kind == "code" and job.id == "abc123-test" and job.seed == 7
    assert job.work == CodeWork(tree=str(workspace.root / "seed"), files={"solution.py": "VALUE = 3\n"})
    assert job.evaluation.command == [sys.executable, f"{evaluator}/score.py", "test"]
    assert evaluator in job.read_only_paths() and str(workspace.root / "seed") in job.read_only_paths()


def test_an_unknown_placeholder_names_itself(tmp_path):
    ws = make_workspace(tmp_path / "ws", command=["{python}", "{judge}/score.py"])
    with pytest.raises(BadInput, match=r"code.command uses \{judge\}"):
        code_job(ws, "abc", {}, split="search")


def test_an_input_inside_the_editable_tree_is_refused(tmp_path):
    ws = make_workspace(tmp_path / "ws", inputs={"eval": "seed"})
    with pytest.raises(BadInput, match="overlaps the editable tree"):
        code_job(ws, "abc", {}, split="search")


def run(workspace, files, cid="c1", split="search"):
    return LocalBackend(workspace.config.sandbox).execute(code_job(workspace, cid, files, split=split))


def test_the_sandbox_runs_the_candidate_tree_and_reads_its_metrics(workspace):
    result = run(workspace, {**seed_files(workspace), "solution.py": "VALUE = 7\n\n\ndef answer():\n    return VALUE\n"})
    assert result.status == "ok", result.reason + result.stderr
    assert result.fitness == pytest.approx(0.7) and result.metrics["raw"] == 7


def test_a_candidate_cannot_rewrite_its_judge(workspace):
    judge = workspace.root / "eval" / "score.py"
    before = judge.read_text()
    attack = f"import pathlib, sys\npathlib.Path({str(judge)!r}).write_text('print(1)')\nVALUE = 10\n\n\ndef answer():\n    return VALUE\n"
    result = run(workspace, {"solution.py": attack}, cid="c2")
    assert result.status == "failed" and judge.read_text() == before
    assert "Read-only file system" in result.stdout + result.stderr + result.reason
