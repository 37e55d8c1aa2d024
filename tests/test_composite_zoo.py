"""The composite zoo keeps its promise, from the committed weights, on the held-out split: no
source reads a Kelvish sum, no uniform merge of the two experts does either, and the layer-wise
merge that takes the reader's lower group and the adder's upper one does (examples/composite-zoo/README.md).
Its build script runs and is deterministic."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from agents.workspace import load_workspace
from tools.evaluate.api import evaluate_model_dir, evaluate_module, load_suite
from tools.evaluate.loading import load_tokenizer

ZOO = Path(__file__).resolve().parents[1] / "examples" / "composite-zoo"
SOURCES = ("base", "adder", "reader")


def layer_wise(reader_lower: float, reader_upper: float) -> dict:
    def group(layers, reader):
        return {
            "sources": [
                {"model": "base", "layer_range": layers},
                {"model": "adder", "layer_range": layers, "parameters": {"weight": 1.0}},
                {"model": "reader", "layer_range": layers, "parameters": {"weight": reader}},
            ]
        }

    return {
        "merge_method": "task_arithmetic",
        "base_model": "base",
        "parameters": {"normalize": False},
        "slices": [group([0, 2], reader_lower), group([2, 4], reader_upper)],
    }


def uniform(method: str, **parameters) -> dict:
    density = {"density": parameters.pop("density")} if "density" in parameters else {}
    return {
        "merge_method": method,
        "base_model": "base",
        "parameters": parameters,
        "models": [{"model": n, "parameters": {"weight": 1.0, **density}} for n in ("adder", "reader")],
    }


@pytest.fixture(scope="module")
def zoo():
    workspace = load_workspace(ZOO)
    return workspace, load_suite(workspace)


@pytest.fixture(scope="module")
def sources(zoo):
    workspace, suite = zoo
    return {name: evaluate_model_dir(workspace.model_paths()[name], suite, split="test") for name in SOURCES}


def merged(zoo, recipe):
    from tools.merge.api import ResidentMerger

    workspace, suite = zoo
    merger = ResidentMerger(workspace.model_paths())
    return evaluate_module(merger.apply(recipe), load_tokenizer(merger.tokenizer_dir(recipe)), suite, split="test")


def score(result, task: str) -> float:
    return result.per_example[task].value()


def test_zoo_is_small():
    size = sum(p.stat().st_size for p in ZOO.rglob("*") if p.is_file())
    assert size < 20e6, f"the zoo is {size / 1e6:.1f} MB"


def test_each_expert_is_the_best_source_on_its_skill_and_none_reads_a_kelvish_sum(sources):
    assert score(sources["adder"], "add") > max(score(sources[n], "add") for n in ("base", "reader")) + 0.5
    assert score(sources["reader"], "read") > max(score(sources[n], "read") for n in ("base", "adder")) + 0.5
    assert max(score(r, "kel_add") for r in sources.values()) < 0.1


@pytest.mark.parametrize(
    "recipe",
    [
        uniform("task_arithmetic", **{"lambda": 0.5}),
        uniform("task_arithmetic", **{"lambda": 1.0}),
        uniform("ties", density=0.5, **{"lambda": 1.0}),
    ],
    ids=["ta-0.5", "ta-1.0", "ties-0.5"],
)
def test_uniform_merges_do_not_compose(zoo, recipe):
    assert score(merged(zoo, recipe), "kel_add") < 0.35


def test_the_layer_wise_merge_composes_without_losing_either_skill(zoo, sources):
    found = merged(zoo, layer_wise(reader_lower=1.0, reader_upper=0.0))
    assert score(found, "kel_add") > 0.9
    assert score(found, "add") >= score(sources["adder"], "add") - 0.05
    assert score(found, "read") >= score(sources["reader"], "read") - 0.05
    # the reader's upper layers are what a uniform merge cannot leave out
    assert score(merged(zoo, layer_wise(reader_lower=1.0, reader_upper=1.0)), "kel_add") < 0.35


def test_build_runs_and_is_deterministic(tmp_path):
    digests = []
    for run in ("a", "b"):
        out = tmp_path / run
        done = subprocess.run(
            [sys.executable, str(ZOO / "build_zoo.py"), "--out", str(out), "--steps", "0.01"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        digests.append(
            {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.safetensors"))}
        )
    assert sorted(digests[0]) == ["models/adder/model.safetensors", "models/base/model.safetensors", "models/reader/model.safetensors"]
    assert digests[0] == digests[1]
    # the data the build writes is the committed evaluation data
    for task in ("add", "read", "kel_add"):
        for split in ("search", "test"):
            name = f"{task}.{split}.jsonl"
            assert (tmp_path / "a" / "data" / name).read_bytes() == (ZOO / "data" / name).read_bytes()


def test_build_refuses_a_bad_step_scale(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ZOO / "build_zoo.py"), "--out", str(tmp_path / "z"), "--steps", "0"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "--steps 0" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "z").exists()
