"""The resident merger shares source weights through read-only maps and still equals `clade merge`.

Every method family merged in memory equals merge_to_dir's output bit for bit, from float32 and
from bfloat16 sources; the source tensors the merger keeps are views of a read-only shared map of
the file (their data lies inside the map, the map is `r--s` in /proc/self/maps, bf16 stays bf16);
and `check_fits` refuses a search that cannot fit with one line giving the numbers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from tests.merge.test_engine import weights
from tools.errors import BadInput
from tools.merge.api import ResidentMerger, load_recipe, merge_to_dir
from tools.merge.memory import GiB, check_fits, estimate

AB = [{"model": "a", "parameters": {"weight": 0.6}}, {"model": "b", "parameters": {"weight": 0.5}}]
DENSE = [{"model": "a", "parameters": {"weight": 0.6, "density": 0.5}}, {"model": "b", "parameters": {"weight": 0.5, "density": 0.7}}]
FAMILIES = {
    "linear": {"merge_method": "linear", "models": AB},
    "task_arithmetic": {"merge_method": "task_arithmetic", "base_model": "base", "models": AB},
    "ties": {"merge_method": "ties", "base_model": "base", "models": DENSE},
    "dare_ties": {"merge_method": "dare_ties", "base_model": "base", "models": DENSE},
    "della": {"merge_method": "della", "base_model": "base", "models": DENSE, "parameters": {"epsilon": 0.1}},
    "breadcrumbs": {"merge_method": "breadcrumbs", "base_model": "base", "models": DENSE, "parameters": {"gamma": 0.01}},
    "slerp": {
        "merge_method": "slerp",
        "base_model": "base",
        "models": [{"model": "base"}, {"model": "a"}],
        "parameters": {"t": [0.2, 0.8]},
    },
    "nuslerp": {"merge_method": "nuslerp", "base_model": "base", "models": AB},
    "multislerp": {"merge_method": "multislerp", "models": AB},
    "model_stock": {"merge_method": "model_stock", "base_model": "base", "models": [{"model": "a"}, {"model": "b"}]},
    "sce": {"merge_method": "sce", "base_model": "base", "models": [{"model": "a"}, {"model": "b"}], "parameters": {"select_topk": 0.5}},
    "karcher": {"merge_method": "karcher", "models": [{"model": "a"}, {"model": "b"}]},
    "nearswap": {"merge_method": "nearswap", "base_model": "base", "models": [{"model": "a"}], "parameters": {"t": 0.01}},
    "arcee_fusion": {"merge_method": "arcee_fusion", "base_model": "base", "models": [{"model": "a"}]},
    "tsvm": {"merge_method": "tsvm", "base_model": "base", "models": [{"model": "a"}, {"model": "b"}]},
    "layer_path": {"layer_path": [{"model": "a", "layer": 2}, {"model": "b", "layer": 0}, {"model": "a", "layer": 1}]},
}


def _to_bf16(source: Path, out: Path) -> Path:
    out.mkdir(parents=True)
    for file in source.iterdir():
        if file.suffix == ".safetensors":
            save_file({k: v.to(torch.bfloat16) for k, v in load_file(file).items()}, out / file.name, metadata={"format": "pt"})
        elif file.is_file():
            shutil.copy(file, out / file.name)
    config = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**config, "dtype": "bfloat16"}))
    return out


@pytest.fixture(scope="module")
def bf16_zoo(zoo, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bf16-zoo")
    return {name: _to_bf16(zoo[name], root / name) for name in ("base", "a", "b")}


@pytest.fixture(scope="module", params=["float32", "bfloat16"])
def zoo_and_merger(request, zoo, bf16_zoo):
    models = zoo if request.param == "float32" else bf16_zoo
    return models, ResidentMerger(models)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_equals_clade_merge(zoo_and_merger, tmp_path, name):
    models, merger = zoo_and_merger
    recipe = {**FAMILIES[name], "dtype": "float32"} if name in ("nuslerp", "multislerp", "karcher") else FAMILIES[name]
    module = merger.apply(load_recipe(recipe, models=models), seed=3)
    merge_to_dir(load_recipe(recipe, models=models), tmp_path / "out", seed=3)
    state = module.state_dict()
    for key, tensor in weights(tmp_path / "out").items():
        assert state[key].dtype == tensor.dtype and torch.equal(state[key], tensor), key


def _mapping_of(address: int) -> tuple[str, str]:
    """(permissions, path) of the /proc/self/maps region holding `address`."""
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[1], fields[5] if len(fields) > 5 else ""
    raise AssertionError(f"address {address:#x} is in no mapping")


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs /proc (Linux)")
def test_kept_source_tensors_are_views_of_a_read_only_shared_map(bf16_zoo):
    merger = ResidentMerger(bf16_zoo)
    merger.apply(load_recipe(FAMILIES["ties"], models=bf16_zoo))
    assert merger._tensors
    for ref, tensor in merger._tensors.items():
        start, length = merger._maps.span(ref.file)
        assert start + ref.start == tensor.data_ptr() and tensor.data_ptr() + ref.nbytes <= start + length
        assert tensor.dtype == torch.bfloat16  # no upcast copy of a source
        permissions, path = _mapping_of(tensor.data_ptr())
        assert permissions == "r--s" and Path(path) == ref.file.resolve(), (permissions, path)


def test_estimate_counts_sources_once_and_the_model_per_worker(bf16_zoo):
    one, two = estimate(bf16_zoo, 1), estimate(bf16_zoo, 2)
    files = sum(f.stat().st_size for p in bf16_zoo.values() for f in p.glob("*.safetensors"))
    assert one.sources == two.sources == files
    assert two.total - one.total == one.per_worker and one.model == max(
        f.stat().st_size for p in bf16_zoo.values() for f in p.glob("*.safetensors")
    )


def test_a_search_that_cannot_fit_is_refused_with_the_numbers(bf16_zoo):
    need = check_fits(bf16_zoo, 2, available=64 * GiB)
    with pytest.raises(BadInput) as caught:
        check_fits(bf16_zoo, 2, available=need.total - 1)
    message = str(caught.value)
    assert "\n" not in message and "2 resident worker(s)" in message and "sources once" in message and "available" in message
    with pytest.raises(BadInput, match="memory_mb"):
        check_fits(bf16_zoo, 2, available=64 * GiB, memory_mb=1)
    with pytest.raises(BadInput, match="GPU memory"):
        check_fits(bf16_zoo, 1, available=64 * GiB, gpu_bytes=1)
