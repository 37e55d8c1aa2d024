"""`clade run` end to end: the real local sandbox on a cut-down tiny zoo, and kill -9 + --resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agents.cli import main
from archive.store import Archive

REPO = Path(__file__).resolve().parents[2]
PROMPTS_PER_SPLIT = 8
TERMINAL = ("succeeded", "failed", "invalid", "rejected")


@pytest.fixture
def small_zoo(zoo_template, tmp_path) -> Path:
    """The tiny zoo with two sources and 8 prompts per task and split: quick jobs on a shared 2-core machine."""
    import shutil

    ws = tmp_path / "zoo"
    shutil.copytree(zoo_template, ws, symlinks=True)
    for data in (ws / "data").glob("*.jsonl"):
        data.write_text("".join(data.read_text().splitlines(keepends=True)[:PROMPTS_PER_SPLIT]))
    config = (ws / "clade.yaml").read_text()
    # One candidate at a time, so the session is still mid-way when the kill comes (two slots could finish it first).
    config = config.replace("  cpu_concurrency: 2 ", "  cpu_concurrency: 1 ")
    assert "cpu_concurrency: 1 " in config
    (ws / "clade.yaml").write_text(config.replace("  - {name: reverser, path: models/reverser}\n", ""))
    return ws


def session_of(ws: Path) -> str:
    [record] = list((ws / ".clade" / "sessions").glob("s-*.json"))
    return record.stem


def test_kill_9_then_resume_loses_and_repeats_nothing_and_reports_on_test(small_zoo, capsys):
    """A real `clade run` child killed with SIGKILL after 2 results; `--resume --json` finishes the budget."""
    budget, env = 8, {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, "-m", "agents.cli", "run", str(small_zoo), "--planner", "evolution", "--budget", str(budget)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_for_results(small_zoo, child, 2)
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    session = session_of(small_zoo)
    assert read_record(small_zoo, session)["status"] == "running"
    assert main(["run", str(small_zoo), "--resume", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "session",
        "candidates",
        "succeeded",
        "failed",
        "invalid",
        "rejected",
        "best_id",
        "best_search_fitness",
        "best_test_fitness",
        "best_test_interval",
        "best_search_source",
        "best_test_source",
        "vs_best_search_source",
        "vs_best_test_source",
        "per_task",
        "best_fitness",
        "best_source_fitness",
    }
    with Archive.open(small_zoo / "archive") as archive:
        mine = [archive.get(c) for c in archive.session_candidates(session)]
        sources = [archive.get(c.id) for c in archive.candidates(kind="source")]
        ran = [c for c in mine if c.status in ("succeeded", "failed")]
        assert all(terminal_events(small_zoo, archive.commit_of(c.id)) == 1 for c in ran)
    assert out["session"] == session and out["candidates"] == len(mine) == budget
    assert all(c.status in TERMINAL for c in mine) and len({c.genotype_hash() for c in ran}) == len(ran)
    assert all(out[s] == sum(c.status == s for c in mine) for s in TERMINAL)  # invalid and rejected are not "failed"
    best = min((c for c in mine if c.status == "succeeded"), key=lambda c: (-c.fitness("search"), c.id))  # ties: smallest id, as the report
    assert out["best_id"] == best.id and out["best_test_fitness"] == out["best_fitness"] == best.fitness("test") is not None
    assert out["best_search_fitness"] == best.fitness("search")
    low, high = out["best_test_interval"]
    assert low <= out["best_test_fitness"] <= high and len(best.metrics["test"].per_example) == 3  # one per task
    assert [(f["task"], f["best"]) for f in out["per_task"]] == [(t, s.value()) for t, s in best.metrics["test"].per_example.items()]
    best_source = min(sources, key=lambda s: (-s.fitness("search"), s.id))  # chosen on search, reported on test
    held_out = min(sources, key=lambda s: (-s.fitness("test"), s.id))
    assert out["best_search_source"]["id"] == best_source.id and out["best_test_source"]["id"] == held_out.id
    assert (
        out["best_source_fitness"] == out["best_search_source"]["test_fitness"] == best_source.fitness("test") and len(sources) == 3
    )  # base, adder, sorter
    versus = out["vs_best_search_source"]
    assert versus["difference"] == pytest.approx(best.fitness("test") - best_source.fitness("test"))
    assert versus["interval"][0] <= versus["difference"] <= versus["interval"][1]
    assert all(c.lesson for c in ran)
    record = read_record(small_zoo, session)
    assert record["status"] == "finished" and record["stop_reason"] == f"budget reached (candidates: {budget} of {budget} used)"
    assert len(record["runs"]) == 2 and record["runs"][0]["wall_s"] > 0


def read_record(ws: Path, session: str) -> dict:
    return json.loads((ws / ".clade" / "sessions" / f"{session}.json").read_text())


def wait_for_results(ws: Path, child: subprocess.Popen, k: int, timeout_s: float = 300) -> None:
    """Until the session holds `k` candidates with a result (read through a second archive handle)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert child.poll() is None, f"clade run ended early: {child.stderr.read().decode()[-2000:]}"
        if (ws / ".clade" / "sessions").is_dir() and (ws / "archive").is_dir():
            with Archive.open(ws / "archive") as archive:
                ids = archive.session_candidates(session_of(ws))
                if sum(archive.get(c).status in ("succeeded", "failed") for c in ids) >= k:
                    return
        time.sleep(0.1)
    raise AssertionError(f"no {k} results within {timeout_s} s")


def terminal_events(ws: Path, commit: str) -> int:
    """Result events in the candidate's git note that end it (succeeded / failed)."""
    note = subprocess.run(
        ["git", "--git-dir", str(ws / "archive"), "notes", "--ref=clade", "show", commit], capture_output=True, text=True, check=True
    ).stdout
    events = [json.loads(line) for line in note.splitlines() if line.strip()]
    return sum(e.get("status") in ("succeeded", "failed") for e in events)


def test_llm_planner_without_llm_section_is_exit_2(small_zoo, capsys):
    assert main(["run", str(small_zoo), "--planner", "llm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs planner.llm" in err[0]
    assert not (small_zoo / ".clade").exists()


def test_evolution_on_a_code_workspace_is_bad_input(small_zoo, capsys):
    with open(small_zoo / "clade.yaml", "a") as f:
        f.write("code: {workspace: src, editable: ['*.py'], command: ['python', 'eval.py']}\n")
    assert main(["run", str(small_zoo), "--planner", "evolution"]) == 2
    assert "code search needs an LLM" in capsys.readouterr().err


def test_resume_without_an_unfinished_session_is_exit_2(small_zoo, capsys):
    assert main(["run", str(small_zoo), "--resume"]) == 2
    assert "no unfinished session" in capsys.readouterr().err


def test_a_search_that_cannot_fit_is_refused_before_the_first_job(workspace, capsys):
    root = workspace.root
    """clade run checks the memory model (tools/merge/memory.py) first: one line with the numbers, exit 2, nothing recorded."""
    config = (root / "clade.yaml").read_text()
    (root / "clade.yaml").write_text(config + "  limits: {memory_mb: 1}\n")
    assert main(["--workspace", str(root), "run", "--planner", "evolution", "--budget", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "memory_mb" in err and "resident worker(s) needs" in err and "sources once" in err
    assert not (root / ".clade" / "sessions").exists() or not any((root / ".clade" / "sessions").iterdir())
