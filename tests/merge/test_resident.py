"""The in-memory path equals the on-disk path; sources and the module are reused across calls."""

from __future__ import annotations

import pytest
import torch

from tests.merge.test_engine import weights
from tools.merge.api import ResidentMerger, load_recipe, merge_to_dir

RECIPES = {
    "linear": {
        "merge_method": "linear",
        "models": [{"model": "a", "parameters": {"weight": [0.2, 0.9]}}, {"model": "b", "parameters": {"weight": 0.5}}],
    },
    "ties": {
        "merge_method": "ties",
        "base_model": "base",
        "models": [
            {"model": "a", "parameters": {"weight": 1.0, "density": 0.5}},
            {"model": "b", "parameters": {"weight": 0.7, "density": [0.3, 0.9]}},
        ],
    },
    "dare_ties": {
        "merge_method": "dare_ties",
        "base_model": "base",
        "models": [
            {"model": "a", "parameters": {"weight": 1.0, "density": 0.5}},
            {"model": "b", "parameters": {"weight": 0.7, "density": 0.6}},
        ],
    },
    "layer_path": {
        "layer_path": [{"model": "a", "layer": 2}, {"model": "b", "layer": 0}, {"model": "a", "layer": 2}, {"model": "b", "layer": 1}]
    },
}


@pytest.fixture(scope="module")
def merger(zoo):
    return ResidentMerger(zoo)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_in_memory_equals_on_disk(zoo, merger, tmp_path, name):
    module = merger.apply(load_recipe(RECIPES[name], models=zoo), seed=7)
    merge_to_dir(load_recipe(RECIPES[name], models=zoo), tmp_path / "out", seed=7)
    on_disk = weights(tmp_path / "out")
    state = module.state_dict()
    for key, tensor in on_disk.items():
        assert torch.equal(state[key], tensor), key
    assert not module.training


def test_random_methods_are_bit_reproducible_and_seeded(zoo, merger):
    recipe = load_recipe(RECIPES["dare_ties"], models=zoo)
    first = {k: v.clone() for k, v in merger.apply(recipe, seed=1).state_dict().items()}
    again = {k: v.clone() for k, v in merger.apply(recipe, seed=1).state_dict().items()}
    other = merger.apply(recipe, seed=2).state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_module_reused_until_the_layer_count_changes(zoo, merger):
    one = merger.apply(RECIPES["linear"])
    two = merger.apply(RECIPES["ties"])
    three = merger.apply(RECIPES["layer_path"])
    assert one is two and three is not two and three.config.num_hidden_layers == 4


def test_sources_are_read_once(zoo):
    fresh = ResidentMerger(zoo)
    fresh.apply(RECIPES["linear"])
    cached = len(fresh._tensors)
    fresh.apply({**RECIPES["linear"], "models": list(reversed(RECIPES["linear"]["models"]))})
    assert cached > 0 and len(fresh._tensors) == cached


def test_generates_and_names_its_tokenizer(zoo, merger):
    import transformers

    module = merger.apply(RECIPES["linear"])
    tokenizer = transformers.AutoTokenizer.from_pretrained(merger.tokenizer_dir(RECIPES["linear"]))
    ids = tokenizer("abc", return_tensors="pt").input_ids
    assert module.generate(ids, max_new_tokens=3, do_sample=False).shape[1] == ids.shape[1] + 3
    assert merger.tokenizer_dir(RECIPES["linear"]) == zoo["a"].resolve()


def test_tied_template_module_shares_its_head(zoo, merger, tmp_path):
    recipe = {
        "merge_method": "linear",
        "models": [{"model": "tied", "parameters": {"weight": 1.0}}, {"model": "a", "parameters": {"weight": 1.0}}],
    }
    module = merger.apply(recipe)
    merge_to_dir(load_recipe(recipe, models=zoo), tmp_path / "out")
    on_disk = weights(tmp_path / "out")
    assert "lm_head.weight" not in on_disk
    assert torch.equal(module.get_output_embeddings().weight, on_disk["model.embed_tokens.weight"])


def test_a_failed_apply_never_hands_back_its_half_filled_module(zoo):
    from tools.errors import BadInput

    fresh = ResidentMerger(zoo)
    good = fresh.apply(RECIPES["linear"])
    overflow = {
        "merge_method": "linear",
        "parameters": {"normalize": False},
        "models": [{"model": "a", "parameters": {"weight": 3e38}}, {"model": "b", "parameters": {"weight": 3e38}}],
    }
    with pytest.raises(BadInput, match="produced NaN or Inf"):
        fresh.apply(overflow)
    again = fresh.apply(RECIPES["linear"])
    assert again is not good  # rebuilt, not the module the failed call wrote into
    expected = ResidentMerger(zoo).apply(RECIPES["linear"]).state_dict()
    assert all(torch.equal(again.state_dict()[k], expected[k]) for k in expected)
