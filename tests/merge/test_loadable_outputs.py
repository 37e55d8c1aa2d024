"""Outputs transformers could not load are refused before anything is written (tools/merge/checks.py):
mixed architectures (unless the recipe says `mixed_architectures: true`), models of different layer
counts in the models form, a layer path mixing hidden sizes, a base whose config disagrees with its tensors."""

from __future__ import annotations

import json
import shutil

import pytest
import transformers
import yaml

from agents.cli import main

from .conftest import make_tokenizer


def run(tmp_path, capsys, recipe):
    file = tmp_path / "r.yaml"
    file.write_text(yaml.safe_dump(recipe))
    code = main(["merge", str(file), str(tmp_path / "out")])
    return code, capsys.readouterr().err.strip()


def refused(tmp_path, capsys, recipe, *fragments):
    code, err = run(tmp_path, capsys, recipe)
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert all(f in err for f in fragments), err
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A Llama like the zoo's but with hidden size 64 (the zoo's have 32)."""
    path = tmp_path_factory.mktemp("wide") / "wide"
    config = transformers.LlamaConfig(
        vocab_size=96,
        hidden_size=64,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    transformers.AutoModelForCausalLM.from_config(config).save_pretrained(path)
    make_tokenizer().save_pretrained(path)
    return path


def linear(*models):
    return {"merge_method": "linear", "models": [{"model": str(m), "parameters": {"weight": 1.0}} for m in models]}


def test_qwen2_with_llama_is_refused_both_ways(zoo, tmp_path, capsys):
    refused(
        tmp_path, capsys, linear(zoo["base"], zoo["qbase"]), "different architectures", "is llama", "is qwen2", "mixed_architectures: true"
    )
    refused(tmp_path, capsys, linear(zoo["qbase"], zoo["base"]), "different architectures")
    path = {"layer_path": [{"model": str(zoo["base"]), "layer": 0}, {"model": str(zoo["qbase"]), "layer": 1}]}
    refused(tmp_path, capsys, path, "different architectures")


def test_mixed_architectures_when_the_recipe_says_so(zoo, tmp_path, capsys):
    path = {"layer_path": [{"model": str(zoo["base"]), "layer": 0}, {"model": str(zoo["qbase"]), "layer": 1}], "mixed_architectures": True}
    code, err = run(tmp_path, capsys, path)
    assert code == 0, err
    transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")


def test_models_of_different_layer_counts(zoo, tmp_path, capsys, tmp_path_factory):
    from .conftest import make_model

    short = make_model(tmp_path_factory.mktemp("short") / "short", "llama", seed=3, layers=2)
    capsys.readouterr()  # transformers' own progress output while saving it
    refused(tmp_path, capsys, linear(zoo["base"], short), "field models", "differ", ": 3", ": 2")


def test_a_layer_path_mixing_hidden_sizes(zoo, wide, tmp_path, capsys):
    path = {"layer_path": [{"model": str(zoo["base"]), "layer": 0}, {"model": str(wide), "layer": 1}]}
    refused(tmp_path, capsys, path, "tensor model.layers.1.", "layers come from models of different sizes")
    only_wide = {"layer_path": [{"model": str(zoo["base"]), "layer": 0}, {"model": str(wide), "layer": 1}][::-1]}
    refused(tmp_path, capsys, only_wide, "layers come from models of different sizes")


def test_a_base_whose_config_disagrees_with_its_tensors(zoo, tmp_path, capsys):
    lying = shutil.copytree(zoo["base"], tmp_path / "lying")
    config = json.loads((lying / "config.json").read_text())
    config["hidden_size"] = 64
    (lying / "config.json").write_text(json.dumps(config))
    refused(tmp_path, capsys, {**linear(lying, zoo["a"]), "base_model": str(lying)}, "tensor model.embed_tokens.weight", "hidden size 64")
    with pytest.raises(Exception):  # noqa: B017 - what the check spares a user: transformers refuses such a model
        transformers.AutoModelForCausalLM.from_pretrained(lying)
