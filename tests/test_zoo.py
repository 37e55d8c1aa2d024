"""The bundled tiny zoo keeps its promise, from the committed weights, on the held-out split:
each expert is the best source on its own skill, and standard merges of the experts beat every
single source on the combined suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.workspace import load_workspace
from tools.evaluate.api import evaluate_model_dir, evaluate_module, load_suite
from tools.evaluate.loading import load_tokenizer

ZOO = Path(__file__).resolve().parents[1] / "examples" / "tiny-zoo"
EXPERT_OF = {"add": "adder", "reverse": "reverser", "sort": "sorter"}
SOURCES = ("base", *EXPERT_OF.values())


def task_arithmetic(lam: float) -> dict:
    return {
        "merge_method": "task_arithmetic",
        "base_model": "base",
        "dtype": "float32",
        "parameters": {"lambda": lam},
        "models": [{"model": name, "parameters": {"weight": 1.0}} for name in EXPERT_OF.values()],
    }


def ties(density: float) -> dict:
    return {
        "merge_method": "ties",
        "base_model": "base",
        "dtype": "float32",
        "parameters": {"normalize": False},
        "models": [{"model": n, "parameters": {"weight": 1.0, "density": density}} for n in EXPERT_OF.values()],
    }


@pytest.fixture(scope="module")
def zoo():
    workspace = load_workspace(ZOO)
    return workspace, load_suite(workspace)


@pytest.fixture(scope="module")
def sources(zoo):
    workspace, suite = zoo
    return {name: evaluate_model_dir(workspace.model_paths()[name], suite, split="test") for name in SOURCES}


def test_zoo_is_small_and_loads_offline():
    size = sum(p.stat().st_size for p in ZOO.rglob("*") if p.is_file())
    assert size < 20e6, f"the zoo is {size / 1e6:.1f} MB"
    tokenizer = load_tokenizer(ZOO / "models" / "base")
    assert tokenizer.decode(tokenizer("12+34=")["input_ids"], skip_special_tokens=True) == "12+34="


def test_each_expert_is_the_best_source_on_its_skill(sources):
    for task, expert in EXPERT_OF.items():
        others = {name: sources[name].tasks[task]["char_accuracy"] for name in SOURCES if name != expert}
        assert sources[expert].tasks[task]["char_accuracy"] > max(others.values()), (task, others)


@pytest.mark.parametrize("recipe", [task_arithmetic(0.8), task_arithmetic(1.0), ties(0.5)], ids=["ta-0.8", "ta-1.0", "ties-0.5"])
def test_a_standard_merge_beats_every_source_on_the_combined_suite(zoo, sources, recipe):
    from tools.merge.api import ResidentMerger

    workspace, suite = zoo
    merger = ResidentMerger(workspace.model_paths())
    merged = evaluate_module(merger.apply(recipe), load_tokenizer(merger.tokenizer_dir(recipe)), suite, split="test")
    best = max(sources.values(), key=lambda r: r.fitness)
    assert merged.fitness > best.fitness + 0.02, (merged.fitness, {n: r.fitness for n, r in sources.items()})
