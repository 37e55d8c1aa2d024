"""CMA-ES runs rebuilt from the session history: resume, no duplicates, tell on complete generations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.evolution.cmaes import replay
from agents.evolution.config import EvolutionConfig
from agents.evolution.genome import Structure, x0
from agents.evolution.search import cma_proposals, in_flight
from tests.evolution.conftest import finish, record
from tools.errors import CladeError

STRUCTURE = Structure(method="task_arithmetic", sources=["adder", "reverser", "sorter"], layer_groups=2)
CONFIG = EvolutionConfig(population=6, sigma=0.3)
TARGET = [1.0, -1.0, 0.5, 0.0, 2.0, -0.5]


def propose(context, history, wanted=100, run="r", generations=None, seed=0, structure=STRUCTURE):
    """A fresh call, as after a kill: nothing but the history carries over."""
    return cma_proposals(run, structure, context(history, wanted), config=CONFIG, generations=generations, strategy="evolution", seed=seed)


def score(x) -> float:
    return -math.dist(x, TARGET)


def run_generation(context, history, **kw):
    """Propose a whole generation, record it and give every member its result."""
    proposals = propose(context, history, **kw)
    start = len(history)
    return history + [finish(record(p, start + i), score(p.params["x"])) for i, p in enumerate(proposals)]


def key(p):
    return p.params["generation"], p.params["index"]


def test_resumed_proposals_continue_the_run_without_a_duplicate(context):
    first = propose(context, [], wanted=2)
    history = [record(p, i) for i, p in enumerate(first)]
    rest = propose(context, history)
    assert [key(p) for p in first] == [(0, 0), (0, 1)]
    assert [key(p) for p in rest] == [(0, i) for i in range(2, 6)]
    again = propose(context, history)
    assert [p.params["x"] for p in again] == [p.params["x"] for p in rest]
    everything = propose(context, [], wanted=6)
    assert [p.params["x"] for p in everything] == [p.params["x"] for p in first + rest]


def test_members_in_flight_are_not_proposed_again(context):
    history = [record(p, i) for i, p in enumerate(propose(context, []))]
    assert propose(context, history) == []
    assert in_flight("r", history) == 6
    history[3] = finish(history[3], 0.5)
    assert propose(context, history) == [] and in_flight("r", history) == 5


def test_a_complete_generation_is_told_and_the_mean_moves(context):
    history = run_generation(context, [])
    nxt = propose(context, history)
    assert [key(p) for p in nxt] == [(1, i) for i in range(6)]
    current = replay("r", history, x0(STRUCTURE), sigma=CONFIG.sigma, population=6, seed=0, generations=None)
    assert current.generation == 1 and not np.allclose(current.mean, x0(STRUCTURE))


def test_told_fitness_pulls_the_mean_toward_the_optimum(context):
    history = []
    for _ in range(6):
        history = run_generation(context, history)
    current = replay("r", history, x0(STRUCTURE), sigma=CONFIG.sigma, population=6, seed=0, generations=None)
    assert math.dist(current.mean, TARGET) < math.dist(x0(STRUCTURE), TARGET) - 0.3


def test_failed_members_count_as_bad_and_complete_their_generation(context):
    history = [record(p, i) for i, p in enumerate(propose(context, []))]
    history = [finish(c, None, "failed") if i % 2 else finish(c, 0.1 * i) for i, c in enumerate(history)]
    assert [key(p) for p in propose(context, history, wanted=1)] == [(1, 0)]


def test_the_run_stops_after_its_generations(context):
    history = run_generation(context, [], generations=1)
    assert propose(context, history, generations=1) == []
    assert len(propose(context, history, generations=2)) == 6


def test_runs_are_seeded_by_seed_and_name_and_ignore_numpys_global_state(context):
    a = [p.params["x"] for p in propose(context, [])]
    np.random.seed(123)
    np.random.rand(50)
    assert [p.params["x"] for p in propose(context, [])] == a
    assert [p.params["x"] for p in propose(context, [], seed=1)] != a
    assert [p.params["x"] for p in propose(context, [], run="other")] != a


def test_other_runs_in_the_history_are_ignored(context):
    other = [record(p, 100 + i) for i, p in enumerate(propose(context, [], run="other"))]
    assert [key(p) for p in propose(context, other, wanted=2)] == [(0, 0), (0, 1)]


def test_a_tampered_history_is_refused_naming_the_candidate(context):
    history = run_generation(context, [])
    params = {**history[2].proposer.params, "x": [0.0] * 6}
    history[2] = history[2].model_copy(update={"proposer": history[2].proposer.model_copy(update={"params": params})})
    with pytest.raises(CladeError, match="replay diverged at generation 0 member 2 \\(candidate c0002\\)"):
        propose(context, history)


def test_proposals_name_their_sources_as_parents_and_carry_the_genome(context):
    p = propose(context, [], wanted=1)[0]
    assert p.parents == ["src-base", "src-adder", "src-reverser", "src-sorter"]
    assert p.kind == "merge" and p.strategy == "evolution" and p.invalid is None
    assert p.params["run"] == "r" and len(p.params["x"]) == 6 and p.params["structure"]["method"] == "task_arithmetic"
    assert p.genotype["recipe"]["merge_method"] == "task_arithmetic"
