"""Issue 12 item 3: `clade run` (and `--dry-run`) checks everything checkable before the first job: exit 2, one line."""

from __future__ import annotations

import pytest
import yaml

from tests.review.fixtures import clade


def edit(ws, change) -> None:
    path = ws.root / "clade.yaml"
    config = yaml.safe_load(path.read_text())
    change(config)
    path.write_text(yaml.safe_dump(config))


def tree(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size) for p in root.rglob("*") if p.is_file())


def truncate(path, keep=200):
    path.write_bytes(path.read_bytes()[:keep])


CASES = {
    "missing task file": (lambda ws: edit(ws, lambda c: c["evaluation"].update(tasks=["tasks/nope.yaml"])), "tasks/nope.yaml"),
    "no evaluation section": (lambda ws: edit(ws, lambda c: c.pop("evaluation")), "evaluation"),
    "all-zero weights": (lambda ws: edit(ws, lambda c: c["evaluation"].update(weights={"add": 0, "reverse": 0, "sort": 0})), "weights"),
    "nan weight": (lambda ws: edit(ws, lambda c: c["evaluation"]["weights"].update(add=float("nan"))), "weight"),
    "infinite weight": (lambda ws: edit(ws, lambda c: c["evaluation"]["weights"].update(add=float("inf"))), "weight"),
    "truncated base weights": (lambda ws: truncate(ws.root / "models/base/model.safetensors"), "model.safetensors"),
    "source config a list": (lambda ws: (ws.root / "models/adder/config.json").write_text("[1, 2]"), "models/adder/config.json"),
    "tiny wall_s": (lambda ws: edit(ws, lambda c: c.update(sandbox={"limits": {"wall_s": 0.001}})), "wall_s"),
    "layer groups over the layer count": (
        lambda ws: edit(ws, lambda c: c.update(planner={"evolution": {"layer_groups": 99}})),
        "layer_groups",
    ),
    "method needing a base, none set": (lambda ws: edit(ws, lambda c: c.pop("base")), "needs a base"),
    "base is a file": (lambda ws: edit(ws, lambda c: c.update(base="clade.yaml")), "is a file"),
    "source named base beside base:": (
        lambda ws: edit(ws, lambda c: c["sources"].append({"name": "base", "path": "models/adder"})),
        "named `base`",
    ),
    "data file is a directory": (
        lambda ws: (ws.root / "data/add.test.jsonl").unlink() or (ws.root / "data/add.test.jsonl").mkdir(),
        "is a directory",
    ),
}


@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry-run"])
@pytest.mark.parametrize("case", list(CASES))
def test_run_refuses_a_broken_setup_before_the_first_job(workspace, monkeypatch, capsys, case, dry):
    breaks, named = CASES[case]
    breaks(workspace)
    before = tree(workspace.root)
    code = clade(
        monkeypatch, "run", *(["--dry-run"] if dry else []), "--budget", "2", "--planner", "evolution", "--workspace", str(workspace.root)
    )
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and named in err, err
    assert out == "" and tree(workspace.root) == before  # no archive, no session record


def test_a_sound_workspace_passes_the_preflight(workspace):
    from agents.preflight import problems

    assert problems(workspace, "evolution") == []


@pytest.mark.parametrize("dry", [False, True], ids=["run", "dry-run"])
def test_gradient_run_refuses_an_over_long_search_prompt_before_the_first_job(workspace, monkeypatch, capsys, dry):
    """The gradient strategy's length check (its optimiser's, at the first proposal) is pre-flight too: nothing written."""
    import json

    data = workspace.root / "data" / "sort.search.jsonl"
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines) + json.dumps({"prompt": "sort: " + "z" * 200, "answer": "z" * 200}) + "\n")
    before = tree(workspace.root)
    code = clade(
        monkeypatch, "run", *(["--dry-run"] if dry else []), "--budget", "2", "--planner", "gradient", "--workspace", str(workspace.root)
    )
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and f"sort.search.jsonl:{len(lines) + 1}" in err, err
    assert "max_position_embeddings" in err and out == "" and tree(workspace.root) == before
