"""The parameter genome: decoded recipes load in the merge engine, carry the genes' transforms,
and put each group's values on that group's layers."""

from __future__ import annotations

import random

import pytest
from safetensors.torch import load_file

from agents.evolution.genome import Structure, decode, genome_size, group_ranges, x0
from agents.evolution.transforms import from_range, to_range
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir
from tools.merge.prepare import prepare

EXPERTS = ["adder", "reverser", "sorter"]
METHODS = ["ties", "dare_ties", "task_arithmetic", "linear", "slerp"]


def structure(method: str, groups: int = 2) -> Structure:
    return Structure(method=method, sources=EXPERTS[:2] if method == "slerp" else EXPERTS, layer_groups=groups)


def random_x(s: Structure, scale: float, seed: int = 0) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(0, scale) for _ in range(genome_size(s, 4))]


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("scale", [1.0, 1000.0])
def test_every_method_decodes_to_a_recipe_the_engine_accepts(zoo, method, scale):
    s = structure(method)
    recipe = decode(s, random_x(s, scale), 4, "base")
    prepared = prepare(load_recipe(recipe, models=zoo.model_paths()))
    assert prepared.method.name == method
    assert len(prepared.recipe.slices) == 2


@pytest.mark.parametrize("method", ["ties", "dare_ties"])
def test_weights_and_densities_are_the_transforms_of_their_genes(method):
    s = structure(method, groups=2)
    x = random_x(s, 2.0)
    recipe = decode(s, x, 4, "base")
    for g, piece in enumerate(recipe["slices"]):
        assert piece["sources"][0] == {"model": "base", "layer_range": list(group_ranges(4, 2)[g])}
        for i, src in enumerate(piece["sources"][1:]):
            gene = 6 * g + 2 * i
            assert src["model"] == EXPERTS[i]
            assert src["parameters"]["weight"] == pytest.approx(to_range(x[gene], 0.0, s.weight_max))
            assert src["parameters"]["density"] == pytest.approx(to_range(x[gene + 1], s.density_min, 1.0))
    assert recipe["parameters"] == {"normalize": False} and recipe["base_model"] == "base"


def test_slerp_has_one_t_per_group_between_two_models():
    s = structure("slerp", groups=4)
    x = [-1.0, 0.0, 0.5, 3.0]
    recipe = decode(s, x, 4, None)
    assert recipe["base_model"] == "adder"
    assert [p["parameters"]["t"] for p in recipe["slices"]] == pytest.approx([to_range(v, 0, 1) for v in x])
    assert [p["sources"][0]["layer_range"] for p in recipe["slices"]] == [[0, 1], [1, 2], [2, 3], [3, 4]]


def test_x0_decodes_to_the_configured_start_values():
    s = Structure(method="ties", sources=EXPERTS, layer_groups=3, x0_weight=0.7, x0_density=0.4)
    recipe = decode(s, x0(s), 4, "base")
    params = [src["parameters"] for piece in recipe["slices"] for src in piece["sources"][1:]]
    assert len(params) == 9
    assert all(p["weight"] == pytest.approx(0.7) and p["density"] == pytest.approx(0.4) for p in params)
    assert from_range(0.7, 0.0, 1.5) == pytest.approx(x0(s)[0])


def test_groups_split_the_layers_consecutively():
    assert group_ranges(4, 2) == [(0, 2), (2, 4)]
    assert group_ranges(7, 3) == [(0, 2), (2, 4), (4, 7)]
    assert group_ranges(4, 4) == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_more_groups_than_layers_is_bad_input_naming_the_field():
    with pytest.raises(BadInput, match="planner.evolution.layer_groups: 5 groups for 4 layers"):
        genome_size(structure("ties", groups=5), 4)


def test_a_base_method_without_a_base_is_bad_input():
    s = structure("task_arithmetic")
    with pytest.raises(BadInput, match="needs a base model"):
        decode(s, x0(s), 4, None)


def test_slerp_needs_exactly_two_sources():
    with pytest.raises(ValueError, match="slerp merges exactly two models"):
        Structure(method="slerp", sources=EXPERTS)


def _layer(tensors: dict, layer: int, name: str = "mlp.down_proj.weight"):
    return tensors[f"model.layers.{layer}.{name}"]


def test_each_groups_weights_land_on_its_layers_in_the_merged_model(zoo, tmp_path):
    """task_arithmetic, normalize false: layer = base + sum_i w_i,g (expert_i - base), w from the layer's group."""
    s = structure("task_arithmetic", groups=2)
    x = [0.3, -1.0, 2.0, -2.0, 0.0, 1.0]
    merge_to_dir(load_recipe(decode(s, x, 4, "base"), models=zoo.model_paths()), tmp_path / "m")
    merged = load_file(tmp_path / "m" / "model.safetensors")
    inputs = {n: load_file(p / "model.safetensors") for n, p in zoo.model_paths().items()}
    for layer, group in ((0, 0), (1, 0), (2, 1), (3, 1)):
        weights = [to_range(x[3 * group + i], 0.0, s.weight_max) for i in range(3)]
        base = _layer(inputs["base"], layer)
        expected = base + sum(w * (_layer(inputs[e], layer) - base) for w, e in zip(weights, EXPERTS))
        assert (_layer(merged, layer) - expected).abs().max() < 1e-6
