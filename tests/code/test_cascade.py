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


def test_files_of_the_candidate_cannot_stand_in_for_the_cascade_or_the_standard_library(tmp_path):
    ws = make_workspace(tmp_path / "ws", quick={"command": QUICK, "threshold": 2})
    fake = "print('{\"fitness\": 99}')\n"
    files = {
        **seed_files(ws),
        "solution.py": "VALUE = 1\n",
        "agents/code/cascade.py": fake,
        "agents/__init__.py": "",
        "agents/code/__init__.py": "",
        "json.py": "raise SystemExit('shadowed json')\n",
    }
    result = LocalBackend(ws.config.sandbox).execute(code_job(ws, "shadow", files, split="search"))
    assert result.status == "failed" and result.fitness is None  # the real cascade ran: VALUE 1 is below 2
    assert "below the cascade threshold 2" in result.reason + result.stderr
