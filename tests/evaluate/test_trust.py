"""Issue 12: `clade eval` never scores a model transformers had to patch up, and never reports a silent wrong fitness."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file, save_file

from tests.evaluate.conftest import write_jsonl
from tools.evaluate import metrics


def clade(*argv: str) -> int:
    import agents.cli

    return agents.cli.main(list(argv))


@pytest.fixture
def workspace(tmp_path) -> Path:
    for split, n in (("search", 3), ("test", 2)):
        write_jsonl(tmp_path / "data" / f"text.{split}.jsonl", [{"text": f"{i}+{i}={2 * i}"} for i in range(n)])
    task = {"name": "text", "kind": "perplexity", "data": {"search": "data/text.search.jsonl", "test": "data/text.test.jsonl"}}
    (tmp_path / "clade.yaml").write_text(yaml.safe_dump({"version": 1, "evaluation": {"tasks": [task]}}), encoding="utf-8")
    return tmp_path


def set_weight(workspace: Path, text: str) -> None:
    config = yaml.safe_load((workspace / "clade.yaml").read_text())
    config["evaluation"]["weights"] = {"text": "WEIGHT"}
    (workspace / "clade.yaml").write_text(yaml.safe_dump(config).replace("WEIGHT", text))


def eval_fails(capsys, workspace, model, named: str) -> None:
    code = clade("eval", str(model), "--json", "--workspace", str(workspace))
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (out, err)
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err and named in err, err


def test_a_model_missing_a_tensor_is_refused_naming_it(workspace, model_dir, tmp_path, capsys):
    copy = Path(shutil.copytree(model_dir, tmp_path / "missing"))
    tensors = load_file(copy / "model.safetensors")
    del tensors["model.layers.1.mlp.up_proj.weight"]
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    eval_fails(capsys, workspace, copy, "model.layers.1.mlp.up_proj.weight")


def test_a_config_declaring_fewer_layers_than_the_weights_is_refused(workspace, model_dir, tmp_path, capsys):
    copy = Path(shutil.copytree(model_dir, tmp_path / "fewer"))
    config = json.loads((copy / "config.json").read_text())
    config["num_hidden_layers"] = 1
    (copy / "config.json").write_text(json.dumps(config))
    eval_fails(capsys, workspace, copy, "model.layers.1.")


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:3000]), "model.safetensors"),
        (lambda d: (d / "config.json").write_text("null"), "config.json"),
        (lambda d: (d / "config.json").write_text('{"num_hidden_layers": 1000000000000}'), "num_hidden_layers"),
        (lambda d: (d / "tokenizer.json").write_text("[1"), "tokenizer.json"),
    ],
)
def test_damaged_model_files_are_refused(workspace, model_dir, tmp_path, capsys, damage, named):
    copy = Path(shutil.copytree(model_dir, tmp_path / "damaged"))
    damage(copy)
    eval_fails(capsys, workspace, copy, named)


def test_an_empty_perplexity_text_is_refused_at_load(workspace, model_dir, capsys):
    write_jsonl(workspace / "data" / "text.search.jsonl", [{"text": "1+1=2"}, {"text": ""}])
    eval_fails(capsys, workspace, model_dir, "text.search.jsonl:2")


@pytest.mark.parametrize("weight", [".nan", ".inf", "-.inf"])
def test_non_finite_task_weights_are_refused(workspace, model_dir, capsys, weight):
    set_weight(workspace, weight)
    eval_fails(capsys, workspace, model_dir, "weight of task 'text'")


def test_huge_weights_keep_the_weighted_mean():
    tasks = {"a": {"m": 0.25}, "b": {"m": 0.75}}
    assert metrics.fitness(tasks, {"a": "m", "b": "m"}, {"a": 1e308, "b": 1e308}) == pytest.approx(0.5)
    assert metrics.fitness(tasks, {"a": "m", "b": "m"}, {"a": 1e308, "b": 0.0}) == pytest.approx(0.25)


def test_huge_weights_score_a_real_model(workspace, model_dir, capsys):
    set_weight(workspace, "1.0e+308")
    assert clade("eval", str(model_dir), "--json", "--workspace", str(workspace)) == 0
    result = json.loads(capsys.readouterr().out)
    assert math.isfinite(result["fitness"]) and result["fitness"] == pytest.approx(result["tasks"]["text"]["mean_token_prob"])
