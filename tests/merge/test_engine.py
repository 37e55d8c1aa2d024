"""merge_to_dir end to end: real tiny models, real files, transformers loads and generates."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from tools.merge.api import load_recipe, merge_to_dir


def weights(model_dir) -> dict[str, torch.Tensor]:
    out = {}
    for file in sorted(model_dir.glob("*.safetensors")):
        out.update(load_file(file))
    return out


def linear(a: str, b: str, wa=1.0, wb=1.0, **extra) -> dict:
    return {
        "merge_method": "linear",
        "models": [{"model": a, "parameters": {"weight": wa}}, {"model": b, "parameters": {"weight": wb}}],
        **extra,
    }


@pytest.mark.parametrize("pair", [("base", "a"), ("qbase", "qa"), ("gbase", "ga")])
def test_linear_merge_loads_and_generates(zoo, tmp_path, pair):
    import transformers

    recipe = load_recipe(linear(*pair, wa=1.0, wb=3.0), models=zoo)
    report = merge_to_dir(recipe, tmp_path / "out")
    merged, first, second = weights(tmp_path / "out"), weights(zoo[pair[0]]), weights(zoo[pair[1]])
    assert set(merged) == set(first)
    for name, tensor in merged.items():
        torch.testing.assert_close(tensor, (first[name] + 3 * second[name]) / 4)
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    tokens = model.generate(torch.tensor([[5, 6, 7]]), max_new_tokens=4, do_sample=False)
    assert tokens.shape == (1, 7)
    assert report.tensors == len(merged) and report.bytes_read == 2 * report.bytes_written


def test_output_directory_holds_recipe_card_config_and_tokenizer(zoo, tmp_path):
    import transformers

    merge_to_dir(load_recipe(linear("a", "b"), models=zoo), tmp_path / "out")
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"model.safetensors", "config.json", "recipe.yaml", "README.md", "tokenizer.json", "tokenizer_config.json"} <= names
    assert load_recipe(tmp_path / "out" / "recipe.yaml").models[1].model == str(zoo["b"].resolve())  # portable: paths, not names
    assert f"- model: {zoo['b'].resolve()}  # b" in (tmp_path / "out" / "recipe.yaml").read_text()
    card = (tmp_path / "out" / "README.md").read_text()
    assert "linear" in card and str(zoo["b"].resolve()) in card
    assert transformers.AutoTokenizer.from_pretrained(tmp_path / "out")("hi").input_ids


def test_source_without_tokenizer_merges_fine(zoo, tmp_path):
    report = merge_to_dir(load_recipe(linear("b", "a"), models=zoo), tmp_path / "out")
    assert report.tokenizer_files == [] or report.tokenizer_files == ["generation_config.json"]
    assert not (tmp_path / "out" / "tokenizer.json").exists()


def test_tokenizer_source_names_a_model(zoo, tmp_path):
    merge_to_dir(load_recipe(linear("b", "base", tokenizer_source="a"), models=zoo), tmp_path / "out")
    assert (tmp_path / "out" / "tokenizer.json").read_bytes() == (zoo["a"] / "tokenizer.json").read_bytes()


def test_sharded_output_with_index_loads(zoo, tmp_path):
    import transformers

    report = merge_to_dir(load_recipe(linear("base", "a"), models=zoo), tmp_path / "out", max_shard_bytes=40_000)
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    assert report.shards > 1 and len(set(index["weight_map"].values())) == report.shards
    single = merge_to_dir(load_recipe(linear("base", "a"), models=zoo), tmp_path / "single")
    assert single.shards == 1
    merged, reference = weights(tmp_path / "out"), weights(tmp_path / "single")
    assert all(torch.equal(merged[k], reference[k]) for k in reference)
    transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")


def test_sharded_inputs_are_read(zoo, tmp_path):
    merge_to_dir(load_recipe(linear("base", "a"), models=zoo), tmp_path / "sharded", max_shard_bytes=40_000)
    (tmp_path / "sharded" / "recipe.yaml").unlink()
    models = {**zoo, "sharded": tmp_path / "sharded"}
    merge_to_dir(load_recipe(linear("sharded", "b"), models=models), tmp_path / "out")
    merged, s, b = weights(tmp_path / "out"), weights(tmp_path / "sharded"), weights(zoo["b"])
    torch.testing.assert_close(merged["model.norm.weight"], (s["model.norm.weight"] + b["model.norm.weight"]) / 2)


def test_dtype_and_out_dtype(zoo, tmp_path):
    merge_to_dir(load_recipe(linear("base", "a", dtype="float32", out_dtype="bfloat16"), models=zoo), tmp_path / "out")
    merged = weights(tmp_path / "out")
    assert all(t.dtype == torch.bfloat16 for t in merged.values())
    assert json.loads((tmp_path / "out" / "config.json").read_text())["dtype"] == "bfloat16"


def test_slices_rewrite_layer_count_and_renumber(zoo, tmp_path):
    import transformers

    recipe = {
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        "slices": [
            {"sources": [{"model": "a", "layer_range": [0, 2]}]},
            {"sources": [{"model": "b", "layer_range": [1, 3]}]},
        ],
    }
    merge_to_dir(load_recipe(recipe, models=zoo), tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    merged, a, b = weights(tmp_path / "out"), weights(zoo["a"]), weights(zoo["b"])
    assert config["num_hidden_layers"] == 4
    for out_index, (source, layer) in enumerate([(a, 0), (a, 1), (b, 1), (b, 2)]):
        name = "model.layers.{}.mlp.up_proj.weight"
        assert torch.equal(merged[name.format(out_index)], source[name.format(layer)])
    assert torch.equal(merged["model.embed_tokens.weight"], a["model.embed_tokens.weight"])
    assert torch.equal(merged["lm_head.weight"], b["lm_head.weight"])
    transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")


def test_per_layer_config_lists_follow_the_layers(zoo, tmp_path):
    import transformers

    recipe = {
        "merge_method": "linear",
        "parameters": {"weight": 1.0},
        "slices": [
            {"sources": [{"model": "qa", "layer_range": [0, 3]}]},
            {"sources": [{"model": "qa", "layer_range": [2, 3]}]},
        ],
    }
    merge_to_dir(load_recipe(recipe, models=zoo), tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert len(config["layer_types"]) == config["num_hidden_layers"] == 4
    transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")


def test_tied_embeddings_stand_in_for_a_missing_head(zoo, tmp_path):
    merge_to_dir(load_recipe(linear("a", "tied"), models=zoo), tmp_path / "out")
    merged, a, tied = weights(tmp_path / "out"), weights(zoo["a"]), weights(zoo["tied"])
    torch.testing.assert_close(merged["lm_head.weight"], (a["lm_head.weight"] + tied["model.embed_tokens.weight"]) / 2)


def test_rerun_replaces_a_previous_merge(zoo, tmp_path):
    merge_to_dir(load_recipe(linear("base", "a"), models=zoo), tmp_path / "out")
    merge_to_dir(load_recipe(linear("base", "a", wb=0.0), models=zoo), tmp_path / "out")
    torch.testing.assert_close(weights(tmp_path / "out")["model.norm.weight"], weights(zoo["base"])["model.norm.weight"])
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_layer_path_repeats_layers(zoo, tmp_path):
    import transformers

    path = [{"model": "a", "layer": 0}, {"model": "b", "layer": 2}, {"model": "a", "layer": 0}, {"model": "a", "layer": 1}]
    merge_to_dir(load_recipe({"layer_path": path}, models=zoo), tmp_path / "out")
    merged, a, b = weights(tmp_path / "out"), weights(zoo["a"]), weights(zoo["b"])
    name = "model.layers.{}.self_attn.q_proj.weight"
    for out_index, (source, layer) in enumerate([(a, 0), (b, 2), (a, 0), (a, 1)]):
        assert torch.equal(merged[name.format(out_index)], source[name.format(layer)])
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert model.config.num_hidden_layers == 4


def test_gpt2_layer_path_rewrites_n_layer(zoo, tmp_path):
    import transformers

    path = [
        {"model": "ga", "layer": 1},
        {"model": "gbase", "layer": 0},
        {"model": "ga", "layer": 1},
        {"model": "ga", "layer": 2},
        {"model": "gbase", "layer": 2},
    ]
    merge_to_dir(load_recipe({"layer_path": path}, models=zoo), tmp_path / "out")
    merged, ga = weights(tmp_path / "out"), weights(zoo["ga"])
    assert json.loads((tmp_path / "out" / "config.json").read_text())["n_layer"] == 5
    assert torch.equal(merged["transformer.h.2.attn.c_attn.weight"], ga["transformer.h.1.attn.c_attn.weight"])
    assert torch.equal(merged["transformer.wte.weight"], ga["transformer.wte.weight"])
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert model.generate(torch.tensor([[3, 4]]), max_new_tokens=2, do_sample=False).shape == (1, 4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(zoo, tmp_path):
    recipe = {
        "merge_method": "ties",
        "base_model": "base",
        "models": [
            {"model": "a", "parameters": {"weight": 1.0, "density": 0.5}},
            {"model": "b", "parameters": {"weight": 0.5, "density": 0.7}},
        ],
    }
    merge_to_dir(load_recipe(recipe, models=zoo), tmp_path / "cpu")
    merge_to_dir(load_recipe(recipe, models=zoo), tmp_path / "cuda", device="cuda")
    cpu, cuda = weights(tmp_path / "cpu"), weights(tmp_path / "cuda")
    for name in cpu:
        torch.testing.assert_close(cuda[name], cpu[name], atol=1e-5, rtol=1e-5)


def test_different_vocabularies_whose_tokenizers_agree_are_cut_to_the_common_rows(zoo, tmp_path):
    report = merge_to_dir(load_recipe(linear("bigvocab", "a"), models=zoo), tmp_path / "out")
    merged, big, a = weights(tmp_path / "out"), weights(zoo["bigvocab"]), weights(zoo["a"])
    torch.testing.assert_close(
        merged["model.embed_tokens.weight"], (big["model.embed_tokens.weight"][:96] + a["model.embed_tokens.weight"]) / 2
    )
    assert json.loads((tmp_path / "out" / "config.json").read_text())["vocab_size"] == 96
    assert any("cut to their common 96 rows" in w for w in report.warnings)
