"""The layer-path genome decodes to valid `layer_path` recipes that mean what the genes say."""

from __future__ import annotations

import random

import pytest
from safetensors.torch import load_file

from agents.evolution.paths import PathStructure, decode_path, path_size, path_steps, path_x0, slots
from agents.evolution.transforms import to_range
from tools.merge.api import load_recipe, merge_to_dir
from tools.merge.prepare import prepare

S = PathStructure(models=["adder", "sorter"], repeats=2)


def test_slots_are_each_models_layers_in_order_repeated():
    cells = slots(S, 4)
    assert cells[:5] == [("adder", 0), ("adder", 1), ("adder", 2), ("adder", 3), ("sorter", 0)]
    assert len(cells) == 16 and cells[8:] == cells[:8]
    assert path_size(S, 4) == 32


def test_x0_is_the_first_model_exactly():
    recipe = decode_path(S, path_x0(S, 4), 4)
    assert [(s["model"], s["layer"]) for s in recipe["layer_path"]] == [("adder", i) for i in range(4)]
    assert all(c["value"] == pytest.approx(1.0) for s in recipe["layer_path"] for c in s["parameters"]["scale"])


@pytest.mark.parametrize("seed", range(5))
def test_random_vectors_decode_to_valid_layer_paths(zoo, seed):
    rng = random.Random(seed)
    x = [rng.gauss(0, 3) for _ in range(path_size(S, 4))]
    recipe = decode_path(S, x, 4)
    prepared = prepare(load_recipe(recipe, models=zoo.model_paths()))
    assert prepared.config["num_hidden_layers"] == len(recipe["layer_path"])
    included = [i for i, v in enumerate(x[:16]) if v > 0]
    assert [(s["model"], s["layer"]) for s in recipe["layer_path"]] == [slots(S, 4)[i] for i in included]


def test_no_slot_on_keeps_the_strongest_one():
    x = [-1.0] * 16 + [0.0] * 16
    x[6] = -0.1
    assert path_steps(S, x, 4) == [("sorter", 2, pytest.approx(1.0))]


def test_a_steps_scale_multiplies_its_residual_outputs_only(zoo, tmp_path):
    x = path_x0(S, 4)
    x[16 + 1] = 1.2  # scale gene of slot 1 (adder layer 1)
    recipe = decode_path(S, x, 4)
    scale = to_range(1.2, S.scale_min, S.scale_max)
    assert recipe["layer_path"][1]["parameters"]["scale"][0] == {"filter": "o_proj", "value": scale}
    merge_to_dir(load_recipe(recipe, models=zoo.model_paths()), tmp_path / "m")
    merged, adder = load_file(tmp_path / "m" / "model.safetensors"), load_file(zoo.model_paths()["adder"] / "model.safetensors")
    for name, factor in (("self_attn.o_proj.weight", scale), ("mlp.down_proj.weight", scale), ("mlp.up_proj.weight", 1.0)):
        key = f"model.layers.1.{name}"
        assert (merged[key] - factor * adder[key]).abs().max() < 1e-6
    assert (merged["model.layers.0.mlp.down_proj.weight"] == adder["model.layers.0.mlp.down_proj.weight"]).all()


def test_the_scale_range_must_contain_one():
    with pytest.raises(ValueError, match="must contain 1"):
        PathStructure(models=["adder"], scale_min=1.1, scale_max=2.0)
