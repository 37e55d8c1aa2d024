"""`.bin` checkpoints are read without running their pickle: tensors equal torch.load's, a pickle
naming anything else is refused before anything runs, unsupported layouts are refused by name."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import zipfile

import pytest
import torch

from tests.merge.test_engine import linear, weights
from tools.errors import BadInput
from tools.merge.api import load_recipe, merge_to_dir
from tools.merge.picklefile import read_pickle_index
from tools.merge.tensorfile import read_tensor


def test_tensors_equal_torch_load_including_views_into_shared_storage(tmp_path):
    storage = torch.randn(40)
    state = {
        "a": torch.randn(3, 4),
        "h": torch.randn(5).half(),
        "b": torch.randn(2, 3).bfloat16(),
        "i": torch.arange(7),
        "m": torch.ones(3, dtype=torch.bool),
        "view": storage[10:22].view(3, 4),
        "tied": storage[10:22].view(3, 4),
    }
    torch.save(state, tmp_path / "pytorch_model.bin")
    refs = read_pickle_index(tmp_path / "pytorch_model.bin")
    reference = torch.load(tmp_path / "pytorch_model.bin", weights_only=True)
    assert set(refs) == set(reference)
    for name, ref in refs.items():
        assert torch.equal(read_tensor(ref), reference[name]), name


def test_a_bin_model_merges_like_its_safetensors_twin(zoo, tmp_path):
    from safetensors.torch import load_file

    shutil.copytree(zoo["a"], tmp_path / "bin")
    (tmp_path / "bin" / "model.safetensors").unlink()
    torch.save(load_file(zoo["a"] / "model.safetensors"), tmp_path / "bin" / "pytorch_model.bin")
    models = {**zoo, "bin": tmp_path / "bin"}
    merge_to_dir(load_recipe(linear("bin", "b", 1.0, 3.0), models=models), tmp_path / "from_bin")
    merge_to_dir(load_recipe(linear("a", "b", 1.0, 3.0), models=models), tmp_path / "from_st")
    ours, theirs = weights(tmp_path / "from_bin"), weights(tmp_path / "from_st")
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)


def test_sharded_bin_checkpoints_follow_their_index(zoo, tmp_path):
    from safetensors.torch import load_file

    state = load_file(zoo["a"] / "model.safetensors")
    names = sorted(state)
    (tmp_path / "m").mkdir()
    shutil.copy(zoo["a"] / "config.json", tmp_path / "m")
    halves = {"pytorch_model-00001-of-00002.bin": names[::2], "pytorch_model-00002-of-00002.bin": names[1::2]}
    for file, part in halves.items():
        torch.save({k: state[k] for k in part}, tmp_path / "m" / file)
    (tmp_path / "m" / "pytorch_model.bin.index.json").write_text(
        json.dumps({"weight_map": {k: f for f, part in halves.items() for k in part}})
    )
    merge_to_dir(load_recipe(linear(str(tmp_path / "m"), "a", 1.0, 0.0), models=zoo), tmp_path / "out")
    assert torch.equal(weights(tmp_path / "out")["model.norm.weight"], state["model.norm.weight"])


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _checkpoint_with_pickle(path, payload: bytes):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", payload)
        archive.writestr("archive/version", "3\n")


def test_a_pickle_that_would_run_code_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "pwned"
    _checkpoint_with_pickle(tmp_path / "pytorch_model.bin", pickle.dumps({"w": _Payload(marker)}, protocol=2))
    with pytest.raises(BadInput, match="its pickle names (posix|os).system, which a checkpoint of tensors does not need"):
        read_pickle_index(tmp_path / "pytorch_model.bin")
    assert not marker.exists()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"\x80\x02}q\x00."), "not a zip-format PyTorch checkpoint"),
        (lambda p: torch.save({"t": torch.randn(4, 3).t()}, p), "tensor t is stored non-contiguously"),
        (lambda p: torch.save([torch.randn(2)], p), "does not hold a plain mapping"),
        (lambda p: _checkpoint_with_pickle(p, b"\x80\x02}q\x00X\x01\x00\x00\x00"), "its pickle does not read as a state dict"),
    ],
)
def test_unsupported_bin_layouts_are_refused_naming_the_file(tmp_path, make, message):
    make(tmp_path / "pytorch_model.bin")
    with pytest.raises(BadInput, match=message) as info:
        read_pickle_index(tmp_path / "pytorch_model.bin")
    assert str(tmp_path / "pytorch_model.bin") in str(info.value)
