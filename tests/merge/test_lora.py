"""LoRA adapters as sources (`model+adapter`, PEFT adapter directories): PEFT's merge formula,
and every unsupported or malformed adapter refused naming it. mergekit equivalence of the same:
tests/merge/compat (lora_*)."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.merge.compat.zoo import build_zoo
from tests.merge.test_engine import weights
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir


@pytest.fixture(scope="module")
def lora(tmp_path_factory):
    return build_zoo(tmp_path_factory.mktemp("lora"), ["model_a", "model_b", "lora_a"])


def copy_only(models, ref, tmp_path, name="out"):
    recipe = {"merge_method": "passthrough", "models": [{"model": ref}]}
    merge_to_dir(load_recipe(recipe, models=models), tmp_path / name)
    return weights(tmp_path / name)


def test_adapted_weights_are_w_plus_scaled_b_a(lora, tmp_path):
    out = copy_only(lora, "model_a+lora_a", tmp_path)
    base, adapter = weights(lora["model_a"]), load_file(lora["lora_a"] / "adapter_model.safetensors")
    key = "base_model.model.model.layers.1.self_attn.{}"
    for module, scale in (("q_proj", 8 / 4), ("v_proj", 3 / 2)):  # v_proj: rank_pattern 2, alpha_pattern 3
        a, b = adapter[key.format(module) + ".lora_A.weight"], adapter[key.format(module) + ".lora_B.weight"]
        name = f"model.layers.1.self_attn.{module}.weight"
        torch.testing.assert_close(out[name], base[name] + scale * (b @ a))
    a, b = adapter["base_model.model.model.embed_tokens.lora_embedding_A"], adapter["base_model.model.model.embed_tokens.lora_embedding_B"]
    torch.testing.assert_close(out["model.embed_tokens.weight"], base["model.embed_tokens.weight"] + 2 * (b @ a).T)
    assert torch.equal(out["model.layers.1.mlp.up_proj.weight"], base["model.layers.1.mlp.up_proj.weight"])


def test_an_adapter_directory_alone_is_its_base_plus_the_adapter(lora, tmp_path):
    assert all(
        torch.equal(a, b)
        for a, b in zip(copy_only(lora, "lora_a", tmp_path, "alone").values(), copy_only(lora, "model_a+lora_a", tmp_path, "plus").values())
    )


def test_rslora_scales_by_the_square_root_of_the_rank(lora, tmp_path):
    shutil.copytree(lora["lora_a"], tmp_path / "rs")
    config = json.loads((tmp_path / "rs" / "adapter_config.json").read_text()) | {
        "use_rslora": True,
        "rank_pattern": {},
        "alpha_pattern": {},
    }
    (tmp_path / "rs" / "adapter_config.json").write_text(json.dumps(config))
    adapter = {k: v for k, v in load_file(tmp_path / "rs" / "adapter_model.safetensors").items() if "q_proj" in k}
    save_file(adapter, tmp_path / "rs" / "adapter_model.safetensors")
    out = copy_only(lora | {"rs": tmp_path / "rs"}, "model_a+rs", tmp_path)
    a, b = (
        adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"],
        adapter["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"],
    )
    base = weights(lora["model_a"])["model.layers.0.self_attn.q_proj.weight"]
    torch.testing.assert_close(out["model.layers.0.self_attn.q_proj.weight"], base + 8 / math.sqrt(4) * (b @ a))


def _broken(lora, tmp_path, config_change=None, tensors_change=None):
    shutil.copytree(lora["lora_a"], tmp_path / "bad")
    config = json.loads((tmp_path / "bad" / "adapter_config.json").read_text())
    (tmp_path / "bad" / "adapter_config.json").write_text(json.dumps(config_change(config) if config_change else config))
    if tensors_change:
        tensors = load_file(tmp_path / "bad" / "adapter_model.safetensors")
        save_file(tensors_change(tensors), tmp_path / "bad" / "adapter_model.safetensors")
    return lora | {"bad": tmp_path / "bad"}


@pytest.mark.parametrize(
    "config_change, tensors_change, message",
    [
        (lambda c: c | {"use_dora": True}, None, "DoRA adapters"),
        (lambda c: c | {"peft_type": "IA3"}, None, "peft_type 'IA3' is not supported"),
        (lambda c: c | {"bias": "lora_only"}, None, "trained biases"),
        (
            None,
            lambda t: (
                t
                | {
                    "base_model.model.model.layers.0.self_attn.x_proj.lora_A.weight": torch.zeros(4, 32),
                    "base_model.model.model.layers.0.self_attn.x_proj.lora_B.weight": torch.zeros(32, 4),
                }
            ),
            "adapts model.layers.0.self_attn.x_proj.weight, which model",
        ),
        (None, lambda t: {k: v for k, v in t.items() if "layers.0.self_attn.q_proj.lora_B" not in k}, "has lora_A without its partner"),
        (
            None,
            lambda t: t | {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": torch.zeros(16, 4)},
            "do not fit model.layers.0.self_attn.q_proj.weight",
        ),
        (None, lambda t: t | {"base_model.model.surprise.weight": torch.zeros(2)}, "neither a LoRA matrix nor a weight"),
    ],
)
def test_unsupported_or_malformed_adapters_are_refused_naming_them(lora, tmp_path, config_change, tensors_change, message):
    models = _broken(lora, tmp_path, config_change, tensors_change)
    with pytest.raises(BadInput, match=message):
        copy_only(models, "model_a+bad", tmp_path)
    assert not (tmp_path / "out").exists()


def test_an_adapter_directory_must_name_its_base(lora, tmp_path):
    models = _broken(lora, tmp_path, lambda c: {k: v for k, v in c.items() if k != "base_model_name_or_path"})
    with pytest.raises(BadInput, match="no base_model_name_or_path; name the base explicitly"):
        copy_only(models, "bad", tmp_path)


def test_the_resident_merger_keeps_a_model_and_its_adapted_self_apart(lora, tmp_path):
    from tools.merge.api import ResidentMerger

    merger = ResidentMerger(lora)
    name = "model.layers.0.self_attn.q_proj.weight"
    plain = merger.apply({"merge_method": "passthrough", "models": [{"model": "model_a"}]}).state_dict()[name].clone()
    adapted = merger.apply({"merge_method": "passthrough", "models": [{"model": "model_a+lora_a"}]}).state_dict()[name].clone()
    assert torch.equal(plain, weights(lora["model_a"])[name])
    assert torch.equal(adapted, copy_only(lora, "model_a+lora_a", tmp_path)[name])
