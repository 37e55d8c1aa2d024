"""Nothing lost: `clade merge` replaces only an output it wrote itself (its marker file), and then
only the files it wrote; every other target is refused with exit 2 and left as it was."""

from __future__ import annotations

import json
import os

import pytest
import torch
import yaml
from safetensors.torch import load_file

from agents.cli import main
from tools.paths import MARKER


def recipe_file(tmp_path, zoo, **extra) -> str:
    file = tmp_path / "r.yaml"
    file.write_text(
        yaml.safe_dump(
            {
                "merge_method": "linear",
                "models": [
                    {"model": str(zoo["a"]), "parameters": {"weight": 1.0}},
                    {"model": str(zoo["b"]), "parameters": {"weight": 1.0}},
                ],
                **extra,
            }
        )
    )
    return str(file)


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(capsys, argv, *fragments):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_a_folder_holding_a_recipe_yaml_is_not_a_previous_merge(zoo, tmp_path, capsys):
    project = tmp_path / "project"
    project.mkdir()
    (project / "recipe.yaml").write_text("merge_method: linear\n")
    (project / "thesis.tex").write_text("years of work")
    before = snapshot(project)
    refused(capsys, ["merge", recipe_file(tmp_path, zoo), str(project)], "was not written by clade merge", MARKER)
    assert snapshot(project) == before


def test_the_current_directory_is_refused(zoo, tmp_path, capsys, monkeypatch):
    (tmp_path / "recipe.yaml").write_text("x: 1\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    refused(capsys, ["merge", recipe_file(tmp_path, zoo), "."], "was not written by clade merge")
    after = snapshot(tmp_path)
    assert {k: v for k, v in after.items() if k != "r.yaml"} == {k: v for k, v in before.items() if k != "r.yaml"}


def test_a_previous_merge_is_replaced_and_only_its_own_files_go(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["merge", recipe_file(tmp_path, zoo), str(out)]) == 0
    marker = json.loads((out / MARKER).read_text())
    assert "model.safetensors" in marker["files"] and "config.json" in marker["files"] and MARKER not in marker["files"]
    (out / "notes.md").write_text("my notes on this merge")
    (out / "model.safetensors").write_bytes(b"stale")  # a file of ours: replaced
    assert main(["merge", recipe_file(tmp_path, zoo, dtype="float32", out_dtype="bfloat16"), str(out)]) == 0
    assert (out / "notes.md").read_text() == "my notes on this merge"
    assert all(t.dtype == torch.bfloat16 for t in load_file(out / "model.safetensors").values())
    assert "notes.md" not in json.loads((out / MARKER).read_text())["files"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_user_file_with_the_name_of_a_new_output_file_refuses_the_replacement(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["merge", recipe_file(tmp_path, zoo), str(out)]) == 0
    marker = json.loads((out / MARKER).read_text())
    marker["files"].remove("README.md")  # the user's own README.md, not ours
    (out / MARKER).write_text(json.dumps(marker))
    (out / "README.md").write_text("mine")
    before = snapshot(out)
    refused(capsys, ["merge", recipe_file(tmp_path, zoo), str(out)], "README.md is not a file clade merge wrote")
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_damaged_marker_does_not_make_a_folder_replaceable(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "data.txt").write_text("keep")
    for text in ("not json", json.dumps({"files": ["../../etc"]}), json.dumps([1]), json.dumps({"files": "x"})):
        (out / MARKER).write_text(text)
        refused(capsys, ["merge", recipe_file(tmp_path, zoo), str(out)], "was not written by clade merge")
        assert (out / "data.txt").read_text() == "keep"


def test_dry_run_reports_the_replacement_and_refuses_the_rest(zoo, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["merge", recipe_file(tmp_path, zoo), str(out)]) == 0
    capsys.readouterr()
    assert main(["merge", recipe_file(tmp_path, zoo), str(out), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["out_dir_state"] == "replaces a previous merge"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "recipe.yaml").write_text("x")
    refused(capsys, ["merge", recipe_file(tmp_path, zoo), str(tmp_path / "other"), "--dry-run"], "was not written by clade merge")


@pytest.mark.parametrize("case", ["empty", "under_a_file", "a_file", "too_long", "nul", "proc"])
def test_unwritable_output_paths(zoo, tmp_path, capsys, case):
    (tmp_path / "plain.txt").write_text("x")
    target = {
        "empty": "",
        "under_a_file": str(tmp_path / "plain.txt" / "out"),
        "a_file": str(tmp_path / "plain.txt"),
        "too_long": str(tmp_path / ("n" * 300)),
        "nul": str(tmp_path / "a\0b"),
        "proc": "/proc/clade-out",
    }[case]
    before = snapshot(tmp_path)
    refused(capsys, ["merge", recipe_file(tmp_path, zoo), target], "")
    assert {k: v for k, v in snapshot(tmp_path).items() if k != "r.yaml"} == {k: v for k, v in before.items() if k != "r.yaml"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.txt", "r.yaml"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permission bits")
def test_a_read_only_parent(zoo, tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        refused(capsys, ["merge", recipe_file(tmp_path, zoo), str(ro / "out")], "not writable")
    finally:
        ro.chmod(0o755)


def test_out_dtype_overflow_is_checked_after_the_cast(zoo, tmp_path, capsys):
    recipe = recipe_file(tmp_path, zoo, dtype="float32", out_dtype="float16", parameters={"normalize": False})
    data = yaml.safe_load(open(recipe))
    for entry in data["models"]:
        entry["parameters"]["weight"] = 1e8
    open(recipe, "w").write(yaml.safe_dump(data))
    refused(capsys, ["merge", recipe, str(tmp_path / "out")], "outside the range of out_dtype float16", "tensor model.")
    assert not (tmp_path / "out").exists()
