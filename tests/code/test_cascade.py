import pytest

from agents.code.jobs import code_job, seed_files
from sandbox.backends.local import LocalBackend
from tests.code.conftest import make_workspace

QUICK = ["{python}", "-c", "import sys; sys.path.insert(0, '.'); import solution; print('{\"fitness\": %d}' % solution.VALUE)"]


def run(ws, value: int):
    files = {**seed_files(ws), "solution.py": f"VALUE = {value}\n\n\ndef answer():\n    return VALUE\n"}
    return LocalBackend(ws.config.sandbox).execute(code_job(ws, f"v{value}", files, split="search"))


def test_the_full_evaluation_runs_only_after_the_quick_check_passes(tmp_path):
    ws = make_workspace(tmp_path / "ws", quick={"command": QUICK, "threshold": 2})
    passed = run(ws, 5)
    assert passed.status == "ok", passed.reason + passed.stderr
    assert passed.fitness == pytest.approx(0.5) and passed.metrics["quick/fitness"] == 5
    stopped = run(ws, 1)
    assert stopped.status == "failed"
    assert "below the cascade threshold 2" in stopped.reason + stopped.stderr
    assert "evaluating on" not in stopped.stdout  # the full evaluation never ran
