"""The evolution and random strategies over the configured space."""

from __future__ import annotations

import math

import pytest

from agents.evolution.strategy import EvolutionStrategy, RandomStrategy
from agents.evolution.transforms import sigmoid
from agents.planner_config import PlannerConfig
from tests.evolution.conftest import finish, record
from tools.errors import BadInput


def planner(**evolution) -> PlannerConfig:
    return PlannerConfig(evolution={"population": 4, **evolution})


@pytest.mark.parametrize("space", ["parameters", "paths"])
def test_evolution_proposes_its_population_then_extras_then_waits_for_results(zoo, context, space):
    strategy = EvolutionStrategy(planner(space=space), zoo)
    proposals = strategy.propose(context(wanted=4))
    assert len(proposals) == 4 and {p.params["run"] for p in proposals} == {f"evolution/{space}"}
    assert all(p.invalid is None and p.strategy == "evolution" for p in proposals)
    history = [record(p, i) for i, p in enumerate(proposals)]
    extras = EvolutionStrategy(planner(space=space), zoo).propose(context(history))
    assert [(p.params["index"], p.params["extra"]) for p in extras] == [(i, True) for i in range(4, 8)]
    assert all("extra member" in p.rationale and "not told" in p.rationale for p in extras)
    history += [record(p, 4 + i) for i, p in enumerate(extras)]
    assert EvolutionStrategy(planner(space=space), zoo).propose(context(history)) == []
    assert EvolutionStrategy(planner(space=space, extras=0), zoo).propose(context(history[:4])) == []
    history = [finish(c, 0.5 + 0.01 * i) for i, c in enumerate(history[:4])] + history[4:]  # the extras still run
    assert [p.params["generation"] for p in strategy.propose(context(history, wanted=4))] == [1] * 4


def test_paths_run_over_the_configured_sources(zoo, context):
    p = EvolutionStrategy(planner(space="paths", sources=["sorter", "adder"]), zoo).propose(context(wanted=1))[0]
    assert p.params["structure"]["models"] == ["sorter", "adder"]
    assert {s["model"] for s in p.genotype["recipe"]["layer_path"]} <= {"sorter", "adder"}


def test_random_genomes_are_uniform_in_decoded_space_and_reproducible(zoo, context):
    strategy = RandomStrategy(planner(method="ties"), zoo)
    first = strategy.propose(context(wanted=50))
    genes = [sigmoid(g) for p in first for g in p.params["x"]]
    assert 0.4 < sum(genes) / len(genes) < 0.6 and min(genes) < 0.05 and max(genes) > 0.95
    history = [finish(record(p, i), 0.5) for i, p in enumerate(first[:10])]
    resumed = RandomStrategy(planner(method="ties"), zoo).propose(context(history, wanted=5))
    assert [p.params["index"] for p in resumed] == [10, 11, 12, 13, 14]
    assert [p.params["x"] for p in resumed] == [p.params["x"] for p in first[10:15]]
    assert all(p.strategy == "random" and p.rationale.startswith("uniform random") for p in resumed)


def test_random_fills_gaps_left_by_a_kill(zoo, context):
    proposals = RandomStrategy(planner(), zoo).propose(context(wanted=4))
    history = [record(p, i) for i, p in enumerate(proposals) if i != 1]
    assert [p.params["index"] for p in RandomStrategy(planner(), zoo).propose(context(history, wanted=2))] == [1, 4]


@pytest.mark.parametrize(
    "evolution, message",
    [
        ({"sources": ["adder", "nobody"]}, "planner.evolution.sources nobody: not among the sources"),
        ({"method": "slerp"}, "planner.evolution: .*slerp merges exactly two models"),
    ],
)
def test_configuration_mistakes_are_bad_input_naming_the_field(zoo, evolution, message):
    with pytest.raises(BadInput, match=message):
        EvolutionStrategy(planner(**evolution), zoo)


def test_slerp_between_two_configured_sources(zoo, context):
    p = EvolutionStrategy(planner(method="slerp", sources=["adder", "sorter"], layer_groups=4), zoo).propose(context(wanted=1))[0]
    assert p.invalid is None and p.genotype["recipe"]["base_model"] == "adder"
    assert p.parents == ["src-adder", "src-sorter"]
    assert all(0 < s["parameters"]["t"] < 1 and not math.isnan(s["parameters"]["t"]) for s in p.genotype["recipe"]["slices"])
