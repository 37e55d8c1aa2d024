"""Multi-part models (LLaVA: a language model, a vision tower, a projector): each stack of layers
is merged by its own layer index; what is not supported says so in one line."""

from __future__ import annotations

import pytest
import torch

from tests.merge.test_engine import weights
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir


def make_llava(path, seed: int, text_layers: int = 3, vision_layers: int = 2):
    import transformers

    torch.manual_seed(seed)
    vision = transformers.CLIPVisionConfig(
        image_size=16, patch_size=4, num_hidden_layers=vision_layers, num_attention_heads=2, hidden_size=16, intermediate_size=32
    )
    text = transformers.LlamaConfig(
        vocab_size=48, hidden_size=16, intermediate_size=24, num_attention_heads=4, num_hidden_layers=text_layers
    )
    config = transformers.LlavaConfig(vision_config=vision, text_config=text, image_seq_length=16, image_token_index=47)
    transformers.LlavaForConditionalGeneration(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def vlms(tmp_path_factory):
    root = tmp_path_factory.mktemp("vlm")
    return {
        "v1": make_llava(root / "v1", 1),
        "v2": make_llava(root / "v2", 2),
        "v3": make_llava(root / "v3", 3),
        "short": make_llava(root / "short", 4, text_layers=2),
    }


def test_each_part_is_merged_by_its_own_layer_index(vlms, tmp_path):
    import transformers

    recipe = {
        "merge_method": "linear",
        "models": [{"model": "v1", "parameters": {"weight": 1.0}}, {"model": "v2", "parameters": {"weight": [0.0, 1.0]}}],
    }
    report = merge_to_dir(load_recipe(recipe, models=vlms), tmp_path / "out")
    out, a, b = weights(tmp_path / "out"), weights(vlms["v1"]), weights(vlms["v2"])
    assert set(out) == set(a) and report.layers == 3 + 2
    text, vision = "language_model.model.layers.{}.mlp.up_proj.weight", "vision_tower.encoder.layers.{}.mlp.fc1.weight"
    for name, n in ((text, 3), (vision, 2)):
        for i in range(n):
            w = i / (n - 1)  # the part's own gradient position
            torch.testing.assert_close(out[name.format(i)], (a[name.format(i)] + w * b[name.format(i)]) / (1 + w))
    for name in ("multi_modal_projector.linear_1.weight", "language_model.model.embed_tokens.weight", "language_model.lm_head.weight"):
        torch.testing.assert_close(out[name], a[name])  # outside the layers: gradient position 0
    transformers.LlavaForConditionalGeneration.from_pretrained(tmp_path / "out")


def test_task_vector_methods_take_the_base_in_every_part(vlms, tmp_path):
    recipe = {
        "merge_method": "ties",
        "base_model": "v3",
        "models": [{"model": m, "parameters": {"weight": 0.5, "density": 0.5}} for m in ("v1", "v2")],
    }
    merge_to_dir(load_recipe(recipe, models=vlms), tmp_path / "out")
    out, base = weights(tmp_path / "out"), weights(vlms["v3"])
    assert set(out) == set(base) and not torch.equal(
        out["vision_tower.encoder.layers.1.mlp.fc2.weight"], base["vision_tower.encoder.layers.1.mlp.fc2.weight"]
    )


@pytest.mark.parametrize(
    "recipe, message",
    [
        (
            {"merge_method": "passthrough", "slices": [{"sources": [{"model": "v1", "layer_range": [0, 2]}]}]},
            "field slices: model v1 has several stacks of layers",
        ),
        ({"layer_path": [{"model": "v1", "layer": 0}]}, "field layer_path: model v1 has several stacks"),
        (
            {
                "merge_method": "linear",
                "models": [{"model": "v1", "parameters": {"weight": 1.0}}, {"model": "short", "parameters": {"weight": 1.0}}],
            },
            "part language_model.model.layers: the models have different layer counts \\(v1 3, short 2\\)",
        ),
    ],
)
def test_unsupported_multi_part_recipes_name_the_feature(vlms, tmp_path, recipe, message):
    with pytest.raises(BadInput, match=message):
        merge_to_dir(load_recipe(recipe, models=vlms), tmp_path / "out")
    assert not (tmp_path / "out").exists()
