"""The command line's shell: fast start, workspace discovery, one-line errors with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.workspace import find_workspace, load_workspace
from tools.errors import BadInput

HEAVY = ("torch", "transformers", "litellm")


def test_building_the_parser_imports_nothing_heavy():
    code = f"import sys\nfrom agents.cli import build_parser\nbuild_parser()\nprint([m for m in {HEAVY!r} if m in sys.modules])\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_workspace_is_found_in_a_parent(tmp_path: Path):
    (tmp_path / "clade.yaml").write_text("name: demo\n")
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_workspace(start=nested) == tmp_path.resolve()
    assert load_workspace(start=nested).config.name == "demo"


def test_missing_workspace_names_where_it_looked(tmp_path: Path):
    with pytest.raises(BadInput, match="no clade.yaml in .* or any parent"):
        find_workspace(start=tmp_path)
    with pytest.raises(BadInput, match=r"clade\.yaml: no such file"):
        find_workspace(tmp_path)


def test_unknown_field_is_named(tmp_path: Path):
    (tmp_path / "clade.yaml").write_text("name: demo\nsorces: []\n")
    with pytest.raises(BadInput, match=r"clade\.yaml: field sorces: "):
        load_workspace(tmp_path)


def test_bad_yaml_is_named(tmp_path: Path):
    (tmp_path / "clade.yaml").write_text("name: [unclosed\n")
    with pytest.raises(BadInput, match=r"clade\.yaml: not valid YAML"):
        load_workspace(tmp_path)


def test_model_paths_resolve_against_the_workspace(tmp_path: Path):
    (tmp_path / "clade.yaml").write_text("base: models/base\nsources:\n  - {name: add, path: models/add}\n")
    paths = load_workspace(tmp_path).model_paths()
    assert paths == {"add": (tmp_path / "models/add").resolve(), "base": (tmp_path / "models/base").resolve()}


def test_bad_input_exits_2_with_one_line(tmp_path: Path):
    (tmp_path / "clade.yaml").write_text("version: 7\n")
    code = subprocess.run(
        [sys.executable, "-m", "agents.cli", "--workspace", str(tmp_path), "candidates"],
        capture_output=True,
        text=True,
    )
    assert code.returncode == 2
    assert code.stderr.count("\n") == 1 and "version" in code.stderr
