"""Fixtures for the code-candidate tests: a tiny code workspace (no torch), a real archive."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from agents.config import Workspace
from agents.workspace import load_workspace
from archive import Archive, Candidate, ResultEvent, SplitMetrics
from archive.secrets import Redactor

SOLUTION = "VALUE = 1\n\n\ndef answer():\n    return VALUE\n"
SCORE = textwrap.dedent("""\
    import json, sys
    sys.path.insert(0, ".")
    import solution
    print("evaluating on", sys.argv[1])
    print(json.dumps({"fitness": solution.answer() / 10, "raw": solution.answer()}))
""")


def make_workspace(root: Path, **code) -> Workspace:
    (root / "seed").mkdir(parents=True)
    (root / "seed" / "solution.py").write_text(SOLUTION)
    (root / "seed" / "README.txt").write_text("not editable\n")
    (root / "eval").mkdir()
    (root / "eval" / "score.py").write_text(SCORE)
    section = {
        "workspace": "seed",
        "editable": ["*.py"],
        "inputs": {"eval": "eval"},
        "command": ["{python}", "{eval}/score.py", "{split}"],
        **code,
    }
    config = {"name": "toy", "code": section, "sandbox": {"limits": {"wall_s": 60}}, "planner": {"llm": {"model": "scripted"}}}
    (root / "clade.yaml").write_text(yaml.safe_dump(config))
    return load_workspace(root)


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def archive(tmp_path: Path):
    with Archive.open(tmp_path / "archive", create=True, redactor=Redactor()) as a:
        yield a


def record_seed(archive, files: dict[str, str], fitness: float = 0.1, logs: str = "evaluating on search\n") -> str:
    cid = archive.record(Candidate(kind="source", genotype={"name": "toy", "path": "seed", "files": files}))
    archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=fitness)}, logs=logs))
    return cid


def record_child(archive, parent: str, files: dict[str, str], fitness: float, command: list[str]) -> str:
    cid = archive.record(Candidate(kind="code", parents=[parent], genotype={"files": files, "command": command}))
    archive.attach_result(cid, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=fitness)}))
    return cid


def edit(search: str, replace: str, path: str = "solution.py", prose: str = "Raise the value.") -> str:
    return f"{prose}\n\n{path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"
