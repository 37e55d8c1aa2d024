"""`clade run --planner llm` on code workspaces, driven through the session with a scripted model."""

from __future__ import annotations

import re
import shutil

import pytest

from agents.cli import main
from agents.init_cmd import EXAMPLES_DIR
from agents.session.records import SessionRecord, new_session_id
from agents.session.runner import Session, run_session
from agents.strategies.registry import make_strategy
from agents.workspace import load_workspace
from archive.secrets import Redactor
from archive.store import Archive
from sandbox.api import make_backend
from tests.code.conftest import edit, make_workspace
from tests.code.scripted import scripted_model


def run(ws, model, candidates: int):
    planner = ws.config.planner
    record = SessionRecord(
        id=new_session_id(), strategy="llm", seed=0, budget=planner.budget.model_copy(update={"candidates": candidates}), backend="local"
    )
    session = Session(
        workspace=ws, record=record, strategy=make_strategy("llm", planner, ws), backend=make_backend(ws.config.sandbox), model=model
    )
    with Archive.open(ws.path(ws.config.archive.path), create=True, redactor=Redactor()) as archive:
        summary = run_session(session, archive)
        history = [archive.get(c) for c in archive.session_candidates(record.id)]
        return summary, history, {c.id: archive.diff(c.parents[0], c.id) for c in history if c.status == "succeeded"}


def bump(prompt: str, n: int) -> str:
    """Raise VALUE by one; the third edit request is answered with replies that never apply."""
    if n in (3, 4, 5, 6):
        return edit("VALUE = 999", "VALUE = 1000")
    value = int(re.search(r"VALUE = (\d+)", prompt).group(1))
    return edit(f"VALUE = {value}", f"VALUE = {value + 1}")


def test_a_code_search_records_diffs_lineage_metrics_and_invalid_edits(tmp_path, capsys):
    ws = make_workspace(tmp_path / "ws")
    ws.config.planner.selection.rule = "best"  # a hill climb: the scripted edit raises the parent's VALUE by one
    summary, history, diffs = run(ws, scripted_model(bump), candidates=4)
    statuses = [c.status for c in history]
    assert statuses.count("succeeded") == 3 and statuses.count("invalid") == 1, [(c.status, c.reason) for c in history]
    invalid = next(c for c in history if c.status == "invalid")
    assert "no valid edit after 4 LLM replies" in invalid.reason and invalid.cost.llm_tokens > 0
    best = max((c for c in history if c.status == "succeeded"), key=lambda c: c.fitness())
    assert best.fitness() == pytest.approx(0.4) and best.kind == "code" and best.proposer.strategy == "code"
    assert best.fitness("test") == pytest.approx(0.4) and summary.best_id == best.id
    assert "-VALUE = 3\n+VALUE = 4\n" in diffs[best.id]
    assert main(["diff", best.parents[0], best.id, "--workspace", str(ws.root)]) == 0
    assert "+VALUE = 4" in capsys.readouterr().out


@pytest.mark.slow
def test_the_merge_operator_example_runs_end_to_end(tmp_path):
    shutil.copytree(EXAMPLES_DIR / "merge-operator", tmp_path / "ws", ignore=shutil.ignore_patterns("archive", ".clade", "__pycache__"))
    ws = load_workspace(tmp_path / "ws")
    seed = "    return base + torch.stack(deltas).sum(dim=0)"
    scaled = "    return base + 0.8 * torch.stack(deltas).sum(dim=0)"
    summary, history, diffs = run(ws, scripted_model(lambda prompt, n: edit(seed, scaled, path="merge_op.py")), candidates=1)
    [child] = history
    assert child.status == "succeeded", child.reason
    assert f"-{seed}\n+{scaled}\n" in diffs[child.id]
    assert child.fitness() > 0.5 and child.metrics["search"].tasks["command"]["sort/char_accuracy"] > 0


def test_the_self_improve_templates_are_copies_of_the_planner_prompts():
    copies = EXAMPLES_DIR / "self-improve" / "planner" / "prompts"
    for copy in sorted(copies.glob("*.md")):
        original = EXAMPLES_DIR.parent / "prompts" / copy.name
        assert copy.read_text() == original.read_text(), f"{copy} differs from {original}; copy prompts/{copy.name} over it"


@pytest.mark.slow
def test_the_self_improve_example_runs_end_to_end(tmp_path):
    shutil.copytree(EXAMPLES_DIR / "self-improve", tmp_path / "ws", ignore=shutil.ignore_patterns("archive", ".clade", "__pycache__"))
    config = tmp_path / "ws" / "clade.yaml"
    cheap = '"--candidates", "1", "--tasks", "add", "--examples", "20"]'
    config.write_text(config.read_text().replace('"--candidates", "6"]', cheap))
    ws = load_workspace(tmp_path / "ws")
    summary, history, diffs = run(
        ws, scripted_model(lambda prompt, n: edit("  population: 8", "  population: 4", path="planner.yaml")), candidates=1
    )
    [child] = history
    assert child.status == "succeeded", child.reason
    assert "-  population: 8\n+  population: 4\n" in diffs[child.id]
    assert 0 < child.fitness() <= 1 and child.metrics["search"].tasks["command"]["candidates"] == 1
