"""Every bad input: exit code 2, one line naming the file, tensor or field, and no output left behind."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from agents.cli import main
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir


def altered(src, dst, change):
    """A copy of model `src` at `dst` whose tensors went through `change(dict)`."""
    shutil.copytree(src, dst)
    tensors = load_file(dst / "model.safetensors")
    change(tensors)
    save_file(tensors, dst / "model.safetensors", metadata={"format": "pt"})
    return dst


def run_cli(tmp_path, recipe: dict, capsys) -> tuple[int, str]:
    file = tmp_path / "recipe.yaml"
    file.write_text(yaml.safe_dump(recipe))
    code = main(["merge", str(file), str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert not (tmp_path / "out").exists(), "a failed merge left an output directory"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "a failed merge left a temporary directory"
    return code, err


def pair(a, b, **extra) -> dict:
    return {
        "merge_method": "linear",
        "models": [{"model": str(a), "parameters": {"weight": 1.0}}, {"model": str(b), "parameters": {"weight": 1.0}}],
        **extra,
    }


def expect(tmp_path, capsys, recipe, *fragments):
    code, err = run_cli(tmp_path, recipe, capsys)
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err


def test_missing_model_directory(zoo, tmp_path, capsys):
    expect(tmp_path, capsys, pair(zoo["a"], tmp_path / "nowhere"), "does not exist", str(tmp_path / "nowhere"))


def test_missing_tensor(zoo, tmp_path, capsys):
    broken = altered(zoo["a"], tmp_path / "broken", lambda t: t.pop("model.layers.1.mlp.up_proj.weight"))
    expect(tmp_path, capsys, pair(zoo["base"], broken), "missing tensor model.layers.1.mlp.up_proj.weight", str(broken))


def test_shape_mismatch(zoo, tmp_path, capsys):
    def shrink(t):
        t["model.layers.0.mlp.up_proj.weight"] = t["model.layers.0.mlp.up_proj.weight"][:10].clone()

    expect(
        tmp_path,
        capsys,
        pair(zoo["base"], altered(zoo["a"], tmp_path / "odd", shrink)),
        "model.layers.0.mlp.up_proj.weight: shape mismatch",
    )


def test_different_vocabularies_without_a_tokenizer_to_check_a_cut_against(zoo, tmp_path, capsys):
    shutil.copytree(zoo["bigvocab"], tmp_path / "big")
    for file in ("tokenizer.json", "tokenizer_config.json"):
        (tmp_path / "big" / file).unlink(missing_ok=True)
    expect(
        tmp_path,
        capsys,
        pair(zoo["base"], tmp_path / "big"),
        "tensor model.embed_tokens.weight: the inputs have different vocabularies",
        "has no tokenizer files",
        "tokenizer_source: base",
    )


def test_different_vocabularies_whose_tokenizers_disagree(zoo, tmp_path, capsys):
    shutil.copytree(zoo["bigvocab"], tmp_path / "big")
    data = json.loads((tmp_path / "big" / "tokenizer.json").read_text())
    vocab = data["model"]["vocab"]
    vocab["a"], vocab["b"] = vocab["b"], vocab["a"]
    (tmp_path / "big" / "tokenizer.json").write_text(json.dumps(data))
    expect(tmp_path, capsys, pair(zoo["base"], tmp_path / "big"), "different vocabularies", "gives the first 96 ids other tokens")


def test_unknown_method(zoo, tmp_path, capsys):
    expect(tmp_path, capsys, {**pair(zoo["a"], zoo["b"]), "merge_method": "frobnicate"}, "merge_method", "frobnicate")


def test_unknown_parameter(zoo, tmp_path, capsys):
    expect(tmp_path, capsys, pair(zoo["a"], zoo["b"], parameters={"denisty": 0.5}), "parameters.denisty: unknown parameter")


def test_nan_in_an_input(zoo, tmp_path, capsys):
    def poison(t):
        t["model.norm.weight"][3] = float("nan")

    nan = altered(zoo["a"], tmp_path / "nan", poison)
    expect(tmp_path, capsys, pair(zoo["base"], nan), "model.norm.weight holds NaN or Inf", str(nan))


def test_inf_produced_by_the_merge(zoo, tmp_path, capsys):
    recipe = pair(zoo["a"], zoo["b"], parameters={"normalize": False})
    for entry in recipe["models"]:
        entry["parameters"]["weight"] = 3e38
    expect(tmp_path, capsys, recipe, "produced NaN or Inf", "tensor model.layers.0.input_layernorm.weight")


def test_missing_recipe_file_and_bad_yaml(tmp_path, capsys):
    assert main(["merge", str(tmp_path / "nope.yaml"), str(tmp_path / "out")]) == 2
    (tmp_path / "bad.yaml").write_text("merge_method: [unclosed\n")
    assert main(["merge", str(tmp_path / "bad.yaml"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml: no such recipe file" in err and "bad.yaml: not valid YAML" in err


def test_refuses_to_overwrite_a_directory_that_is_not_a_merge(zoo, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "precious.txt").write_text("keep me")
    with pytest.raises(BadInput, match="was not written by clade merge"):
        merge_to_dir(load_recipe(pair(zoo["a"], zoo["b"])), tmp_path / "out")
    assert (tmp_path / "out" / "precious.txt").read_text() == "keep me"


def test_cuda_requested_without_a_gpu(zoo, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(BadInput, match="no CUDA device"):
        merge_to_dir(load_recipe(pair(zoo["a"], zoo["b"])), tmp_path / "out", device="cuda")


def test_unknown_device(zoo, tmp_path):
    with pytest.raises(BadInput, match=r"--device tpu: .*use cpu, cuda or cuda:N"):
        merge_to_dir(load_recipe(pair(zoo["a"], zoo["b"])), tmp_path / "out", device="tpu")


@pytest.mark.parametrize("density", [0.0, 1.5, -0.2])
def test_density_outside_unit_interval(zoo, tmp_path, density):
    recipe = {
        "merge_method": "ties",
        "base_model": "base",
        "models": [{"model": "a", "parameters": {"weight": 1.0, "density": [1.0, density]}}],
    }
    with pytest.raises(BadInput, match=r"model a: parameter density = .* for tensor model\.layers\.[12]\..* is outside \(0, 1\]"):
        merge_to_dir(load_recipe(recipe, models=zoo), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_real_process_exit_code_and_one_line(zoo, tmp_path):
    file = tmp_path / "r.yaml"
    file.write_text(yaml.safe_dump(pair(zoo["a"], tmp_path / "missing")))
    proc = subprocess.run([sys.executable, "-m", "agents.cli", "merge", str(file), str(tmp_path / "out")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "does not exist" in proc.stderr


def _rewrite_header(file, change):
    """Rewrite a safetensors file's JSON header through `change(header)`, keeping its data bytes."""
    raw = file.read_bytes()
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    change(header)
    encoded = json.dumps(header).encode()
    file.write_bytes(len(encoded).to_bytes(8, "little") + encoded + raw[8 + size :])


def test_damaged_header_is_named(zoo, tmp_path, capsys):
    broken = tmp_path / "damaged"
    shutil.copytree(zoo["a"], broken)
    _rewrite_header(broken / "model.safetensors", lambda h: h["model.layers.0.mlp.up_proj.weight"].update(shape=[1]))
    expect(tmp_path, capsys, pair(zoo["base"], broken), "tensor model.layers.0.mlp.up_proj.weight spans bytes", "damaged file?")


def test_malformed_shard_index_is_named(zoo, tmp_path, capsys):
    broken = tmp_path / "sharded"
    shutil.copytree(zoo["a"], broken)
    (broken / "model.safetensors.index.json").write_text("{")
    expect(tmp_path, capsys, pair(zoo["base"], broken), "model.safetensors.index.json: not valid JSON")
    (broken / "model.safetensors.index.json").write_text("{}")
    expect(tmp_path, capsys, pair(zoo["base"], broken), "model.safetensors.index.json: no weight_map")


def test_config_names_the_dtype_the_weights_are_written_in(zoo, tmp_path):
    half = altered(zoo["a"], tmp_path / "bf16", lambda t: t.update({k: v.to(torch.bfloat16) for k, v in t.items()}))
    config = json.loads((half / "config.json").read_text())
    config["dtype" if "torch_dtype" not in config else "torch_dtype"] = "bfloat16"
    (half / "config.json").write_text(json.dumps(config))
    merge_to_dir(load_recipe(pair(half, zoo["b"])), tmp_path / "out")  # bf16 + fp32, no dtype: fp32 out
    written = json.loads((tmp_path / "out" / "config.json").read_text())
    assert written.get("dtype", written.get("torch_dtype")) == "float32"
    assert next(iter(load_file(tmp_path / "out" / "model.safetensors").values())).dtype == torch.float32
