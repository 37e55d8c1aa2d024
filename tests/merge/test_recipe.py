"""Recipe schema and mergekit-compatible parameter resolution (gradients, filters, precedence)."""

from __future__ import annotations

import pytest

from tools.errors import BadInput
from tools.merge.methods.base import Param
from tools.merge.params import evaluate, resolve
from tools.merge.prepare import load_recipe
from tools.merge.recipe import Conditional, Recipe

WEIGHT = Param("weight", required=True)
NORMALIZE = Param("normalize", True, kind="bool")


def value(setting, t=0.0, name="model.layers.0.mlp.up_proj.weight"):
    return evaluate(
        name,
        Recipe.model_validate({"merge_method": "linear", "models": [{"model": "m", "parameters": {"x": setting}}]})
        .models[0]
        .parameters["x"],
        t,
        float,
    )


def test_scalar_is_returned_as_is():
    assert value(0.3) == 0.3


@pytest.mark.parametrize("t, expected", [(0.0, 0.0), (0.25, 0.5), (0.5, 1.0), (0.75, 0.5), (1.0, 0.0)])
def test_gradient_interpolates_piecewise_linearly(t, expected):
    assert value([0.0, 1.0, 0.0], t) == pytest.approx(expected)


def test_filters_first_match_wins_and_catch_all():
    setting = [{"filter": "self_attn", "value": 0.1}, {"filter": "mlp", "value": 0.2}, {"value": 0.9}]
    assert value(setting, name="model.layers.1.self_attn.q_proj.weight") == 0.1
    assert value(setting, name="model.layers.1.mlp.up_proj.weight") == 0.2
    assert value(setting, name="model.norm.weight") == 0.9


def test_filter_value_may_be_a_gradient():
    assert value([{"filter": "mlp", "value": [0.0, 1.0]}, {"value": 5.0}], t=0.5) == pytest.approx(0.5)


def test_no_matching_filter_yields_none():
    assert value([{"filter": "mlp", "value": 1.0}], name="model.norm.weight") is None


def test_precedence_source_over_slice_over_top_level():
    source, piece, top = {"weight": 1.0}, {"weight": 2.0}, {"weight": 3.0}
    assert resolve(WEIGHT, [source, piece, top], "x", 0, "m") == 1.0
    assert resolve(WEIGHT, [None, piece, top], "x", 0, "m") == 2.0
    assert resolve(WEIGHT, [{}, None, top], "x", 0, "m") == 3.0


def test_unmatched_filter_falls_through_to_lower_precedence():
    source = {"weight": [Conditional(filter="mlp", value=9.0)]}
    assert resolve(WEIGHT, [source, {"weight": 2.0}], "model.norm.weight", 0, "m") == 2.0


def test_missing_required_parameter_names_it():
    with pytest.raises(BadInput, match="missing required parameter weight"):
        resolve(WEIGHT, [None, {}], "model.norm.weight", 0, "model a")


def test_defaults_and_bool_strings():
    assert resolve(NORMALIZE, [None], "x", 0, "m") is True
    assert resolve(NORMALIZE, [{"normalize": "false"}], "x", 0, "m") is False


def test_non_numeric_value_is_rejected():
    with pytest.raises(BadInput, match="parameter weight"):
        resolve(WEIGHT, [{"weight": "heavy"}], "x", 0, "m")


def test_yaml_file_loads_and_resolves_names(tmp_path, zoo):
    file = tmp_path / "r.yaml"
    file.write_text(
        "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: 1}\n  - model: "
        + str(zoo["b"])
        + "\n    parameters: {weight: 1}\n"
    )
    recipe = load_recipe(file, models={"a": zoo["a"]})
    assert recipe._paths == {"a": zoo["a"].resolve(), str(zoo["b"]): zoo["b"].resolve()}


@pytest.mark.parametrize(
    "data, field",
    [
        ({"models": [{"model": "a"}]}, "merge_method"),
        ({"merge_method": "linear"}, "exactly one of models, slices, layer_path"),
        (
            {"merge_method": "linear", "models": [{"model": "a"}], "slices": [{"sources": [{"model": "a", "layer_range": [0, 1]}]}]},
            "exactly one",
        ),
        (
            {
                "merge_method": "linear",
                "slices": [{"sources": [{"model": "a", "layer_range": [0, 2]}, {"model": "b", "layer_range": [0, 3]}]}],
            },
            "same number of layers",
        ),
        ({"merge_method": "linear", "slices": [{"sources": [{"model": "a", "layer_range": [2, 2]}]}]}, "layer_range"),
        ({"merge_method": "linear", "models": [{"model": "a", "weight": 1}]}, "models.0.weight"),
        ({"merge_method": "no_such_method", "models": [{"model": "a"}]}, "unknown method 'no_such_method'"),
        (
            {"merge_method": "linear", "models": [{"model": "a", "parameters": {"wieght": 1}}]},
            "models\\[0\\].parameters.wieght: unknown parameter",
        ),
        ({"merge_method": "linear", "models": [{"model": "a"}], "parameters": {"tt": 0.5}}, "parameters.tt: unknown parameter"),
        ({"merge_method": "linear", "layer_path": [{"model": "a", "layer": 0}]}, "layer_path recipe uses merge_method passthrough"),
    ],
)
def test_bad_recipes_name_the_field(data, field):
    with pytest.raises(BadInput, match=field):
        load_recipe(data)


@pytest.mark.parametrize("method, extra", [("slerp", {"t": 0.5}), ("model_stock", {}), ("sce", {}), ("karcher", {})])
def test_a_parameter_another_method_takes_is_ignored_with_a_warning(method, extra):
    models = [{"model": m, "parameters": {"weight": w}} for m, w in (("a", 0.6), ("b", 0.4), ("c", 1.0))]
    recipe = load_recipe({"merge_method": method, "base_model": "a", "models": models, "parameters": {"density": 0.5, **extra}})
    assert recipe._warnings == [
        f"field parameters.density: merge_method {method} does not use density; ignored (as mergekit does)",
        *(f"field models[{i}].parameters.weight: merge_method {method} does not use weight; ignored (as mergekit does)" for i in range(3)),
    ]


def test_int8_mask_is_accepted_as_a_no_op():
    load_recipe({"merge_method": "linear", "models": [{"model": "a", "parameters": {"weight": 1}}], "parameters": {"int8_mask": True}})


def test_layer_path_compiles_to_single_layer_slices():
    recipe = Recipe.model_validate({"layer_path": [{"model": "a", "layer": 0}, {"model": "b", "layer": 2}, {"model": "a", "layer": 0}]})
    slices = recipe.normalized_slices()
    assert [(s.sources[0].model, s.sources[0].layer_range) for s in slices] == [("a", (0, 1)), ("b", (2, 3)), ("a", (0, 1))]
    assert recipe.method == "passthrough"
