"""Mixture-of-experts checkpoints saved per expert are presented fused (transformers 5's layout);
incomplete expert sets are refused naming the layer. mergekit equivalence: compat (mixtral_*)."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.merge.compat.zoo import build_zoo
from tests.merge.test_engine import weights
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir


@pytest.fixture(scope="module")
def moe(tmp_path_factory):
    return build_zoo(tmp_path_factory.mktemp("moe"), ["mixtral_a", "mixtral_fused"])


def test_per_expert_checkpoints_come_out_fused_and_load(moe, tmp_path):
    import transformers

    merge_to_dir(load_recipe({"merge_method": "passthrough", "models": [{"model": "mixtral_a"}]}, models=moe), tmp_path / "out")
    out, raw = weights(tmp_path / "out"), weights(moe["mixtral_a"])
    experts = [
        torch.cat(
            [raw[f"model.layers.1.block_sparse_moe.experts.{e}.w1.weight"], raw[f"model.layers.1.block_sparse_moe.experts.{e}.w3.weight"]]
        )
        for e in range(3)
    ]
    assert torch.equal(out["model.layers.1.mlp.experts.gate_up_proj"], torch.stack(experts))
    assert torch.equal(
        out["model.layers.1.mlp.experts.down_proj"],
        torch.stack([raw[f"model.layers.1.block_sparse_moe.experts.{e}.w2.weight"] for e in range(3)]),
    )
    assert torch.equal(out["model.layers.1.mlp.gate.weight"], raw["model.layers.1.block_sparse_moe.gate.weight"])
    model = transformers.MixtralForCausalLM.from_pretrained(tmp_path / "out")
    assert torch.equal(model.state_dict()["model.layers.1.mlp.experts.gate_up_proj"], out["model.layers.1.mlp.experts.gate_up_proj"])


@pytest.mark.parametrize(
    "drop, message",
    [
        ("model.layers.0.block_sparse_moe.experts.2.w3.weight", "model.layers.0 expert 2 lacks its up projection"),
        ("model.layers.0.block_sparse_moe.experts.1.", "model.layers.0 has experts \\[0, 2\\], not 0..1"),
    ],
)
def test_incomplete_expert_sets_are_refused_naming_the_layer(moe, tmp_path, drop, message):
    import shutil

    shutil.copytree(moe["mixtral_a"], tmp_path / "m")
    tensors = {k: v for k, v in load_file(tmp_path / "m" / "model.safetensors").items() if not k.startswith(drop)}
    save_file(tensors, tmp_path / "m" / "model.safetensors")
    with pytest.raises(BadInput, match=message):
        merge_to_dir(load_recipe({"merge_method": "passthrough", "models": [{"model": str(tmp_path / "m")}]}), tmp_path / "out")
