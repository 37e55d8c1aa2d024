"""`clade merge`: workspace names, plain paths, --json, --seed."""

from __future__ import annotations

import json

import yaml

from agents.cli import main
from tests.merge.test_engine import weights

TIES = {
    "merge_method": "dare_ties",
    "base_model": "base",
    "models": [
        {"model": "a", "parameters": {"weight": 1.0, "density": 0.5}},
        {"model": "b", "parameters": {"weight": 0.5, "density": 0.7}},
    ],
}


def workspace(tmp_path, zoo):
    root = tmp_path / "ws"
    root.mkdir()
    config = {
        "version": 1,
        "base": str(zoo["base"]),
        "sources": [{"name": "a", "path": str(zoo["a"])}, {"name": "b", "path": str(zoo["b"])}],
    }
    (root / "clade.yaml").write_text(yaml.safe_dump(config))
    (root / "recipe.yaml").write_text(yaml.safe_dump(TIES))
    return root


def test_workspace_names_resolve_and_json_report(zoo, tmp_path, capsys):
    root = workspace(tmp_path, zoo)
    code = main(["merge", str(root / "recipe.yaml"), str(tmp_path / "out"), "--json", "--seed", "3", "--workspace", str(root)])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["method"] == "dare_ties" and report["seed"] == 3 and report["layers"] == 3
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_workspace_found_from_the_current_directory_and_seed_matters(zoo, tmp_path, monkeypatch, capsys):
    root = workspace(tmp_path, zoo)
    monkeypatch.chdir(root)
    assert main(["merge", "recipe.yaml", str(tmp_path / "s1"), "--seed", "1"]) == 0
    assert main(["merge", "recipe.yaml", str(tmp_path / "s1again"), "--seed", "1"]) == 0
    assert main(["merge", "recipe.yaml", str(tmp_path / "s2"), "--seed", "2"]) == 0
    assert "merged 30 tensors (3 layers" in capsys.readouterr().out
    s1, again, s2 = (weights(tmp_path / n) for n in ("s1", "s1again", "s2"))
    assert all(s1[k].equal(again[k]) for k in s1) and not all(s1[k].equal(s2[k]) for k in s1)


def test_without_a_workspace_references_are_paths_relative_to_the_cwd(zoo, tmp_path, monkeypatch):
    monkeypatch.chdir(zoo["a"].parent)
    recipe = {
        "merge_method": "linear",
        "models": [{"model": "a", "parameters": {"weight": 1}}, {"model": "./b", "parameters": {"weight": 1}}],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    assert main(["merge", str(tmp_path / "r.yaml"), str(tmp_path / "out")]) == 0


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, agents.cli; agents.cli.build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
