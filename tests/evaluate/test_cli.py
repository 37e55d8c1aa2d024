"""`clade eval` and `clade init` as a user runs them: real processes, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.evaluate.conftest import addition_records, write_jsonl

REPO = Path(__file__).resolve().parents[2]


def clade(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agents.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"},
        timeout=300,
    )


@pytest.fixture
def workspace(tmp_path) -> Path:
    write_jsonl(tmp_path / "data" / "add.search.jsonl", addition_records(6))
    write_jsonl(tmp_path / "data" / "add.test.jsonl", addition_records(3, offset=40))
    task = {"name": "add", "kind": "generation", "data": {"search": "data/add.search.jsonl", "test": "data/add.test.jsonl"}}
    (tmp_path / "clade.yaml").write_text(yaml.safe_dump({"version": 1, "evaluation": {"tasks": [task]}}), encoding="utf-8")
    return tmp_path


def test_eval_json_is_one_object(workspace, model_dir):
    run = clade("eval", str(model_dir), "--split", "test", "--json", cwd=workspace)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["split"] == "test" and set(result["tasks"]) == {"add"} and result["examples"] == {"add": 3}
    assert set(result["tasks"]["add"]) == {"exact_match", "char_accuracy"}
    assert result["fitness"] == result["tasks"]["add"]["exact_match"]


def test_eval_table_names_the_fitness(workspace, model_dir):
    run = clade("eval", str(model_dir), "--workspace", str(workspace), cwd=workspace.parent)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[1].startswith("add ") and "fitness" in run.stdout.splitlines()[-1]


def _broken(model_dir: Path, tmp_path: Path, drop: str) -> Path:
    copy = shutil.copytree(model_dir, tmp_path / f"model-without-{drop.strip('*.')}")
    for path in copy.glob(drop):
        path.unlink()
    return copy


@pytest.mark.parametrize(("drop", "message"), [("*.safetensors", "no weights"), ("tokenizer*", "no tokenizer files")])
def test_model_dir_without_weights_or_tokenizer(workspace, model_dir, tmp_path, drop, message):
    run = clade("eval", str(_broken(model_dir, tmp_path, drop)), "--json", cwd=workspace)
    assert run.returncode == 2 and run.stdout == ""
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_malformed_data_exits_2_with_file_and_line(workspace, model_dir):
    with (workspace / "data" / "add.search.jsonl").open("a", encoding="utf-8") as f:
        f.write("{not json\n")
    run = clade("eval", str(model_dir), "--json", cwd=workspace)
    assert run.returncode == 2 and run.stdout == ""
    assert "add.search.jsonl:7: malformed JSON" in run.stderr


def test_init_plain_and_refuses_to_overwrite(tmp_path):
    assert clade("init", "ws", cwd=tmp_path).returncode == 0
    assert yaml.safe_load((tmp_path / "ws" / "clade.yaml").read_text())["evaluation"]["tasks"] == []
    again = clade("init", "ws", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_init_example_is_a_self_contained_workspace(tmp_path):
    run = clade("init", str(tmp_path / "zoo"), "--example", "tiny-zoo", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    config = yaml.safe_load((tmp_path / "zoo" / "clade.yaml").read_text())
    paths = [config["base"], *(s["path"] for s in config["sources"]), *config["evaluation"]["tasks"]]
    assert all((tmp_path / "zoo" / p).exists() for p in paths) and len(config["sources"]) >= 3
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("keep me")
    busy = clade("init", str(tmp_path / "busy"), "--example", "tiny-zoo", cwd=tmp_path)
    assert busy.returncode == 2 and "not empty" in busy.stderr


def test_unusable_device_is_bad_input():
    import torch

    from tools.device import check_device
    from tools.errors import BadInput

    with pytest.raises(BadInput, match="not a device name"):
        check_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(BadInput, match="no CUDA device"):
            check_device("cuda")
