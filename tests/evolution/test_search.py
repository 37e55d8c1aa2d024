"""CMA-ES runs rebuilt from the session history: resume, no duplicates, tell on complete generations, extras
asked while a generation runs, results in any order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from agents.evolution.cmaes import new_es, replay, run_seed
from agents.evolution.config import EvolutionConfig
from agents.evolution.genome import Structure, x0
from agents.evolution.search import cma_proposals, in_flight
from tests.evolution.conftest import finish, record
from tools.errors import CladeError

STRUCTURE = Structure(method="task_arithmetic", sources=["adder", "reverser", "sorter"], layer_groups=2)
CONFIG = EvolutionConfig(population=6, sigma=0.3)  # extras: up to 6 per generation
STRICT = EvolutionConfig(population=6, sigma=0.3, extras=0)
TARGET = [1.0, -1.0, 0.5, 0.0, 2.0, -0.5]


def propose(context, history, wanted=6, run="r", generations=None, seed=0, structure=STRUCTURE, config=CONFIG):
    """A fresh call, as after a kill: nothing but the history carries over."""
    return cma_proposals(run, structure, context(history, wanted), config=config, generations=generations, strategy="evolution", seed=seed)


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
    rest = propose(context, history, wanted=4)
    assert [key(p) for p in first] == [(0, 0), (0, 1)]
    assert [key(p) for p in rest] == [(0, i) for i in range(2, 6)]
    again = propose(context, history, wanted=4)
    assert [p.params["x"] for p in again] == [p.params["x"] for p in rest]
    everything = propose(context, [], wanted=6)
    assert [p.params["x"] for p in everything] == [p.params["x"] for p in first + rest]


def test_members_in_flight_are_not_proposed_again(context):
    history = [record(p, i) for i, p in enumerate(propose(context, [], config=STRICT))]
    assert propose(context, history, config=STRICT) == []
    assert in_flight("r", history) == 6
    history[3] = finish(history[3], 0.5)
    assert propose(context, history, config=STRICT) == [] and in_flight("r", history) == 5


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


def test_a_generation_partly_in_flight_gets_its_missing_members_then_extras_then_waits(context):
    history = [record(p, i) for i, p in enumerate(propose(context, [], wanted=4))]
    history[1] = finish(history[1], 0.4)
    mixed = propose(context, history, wanted=4)  # two members left to ask, then two extras for the other free slots
    assert [(key(p), p.params.get("extra", False)) for p in mixed] == [((0, 4), False), ((0, 5), False), ((0, 6), True), ((0, 7), True)]
    regular = [p.params["x"] for p in propose(context, [], wanted=6)]
    assert all(p.params["x"] not in regular for p in mixed[2:])
    history += [record(p, 4 + i) for i, p in enumerate(mixed)]
    assert [key(p) for p in propose(context, history, wanted=100)] == [(0, i) for i in range(8, 12)]  # up to population extras
    history += [record(p, 8 + i) for i, p in enumerate(propose(context, history, wanted=100))]
    assert propose(context, history, wanted=100) == []
    assert in_flight("r", history) == 11 and in_flight("r", history, CONFIG.population) == 5  # extras hold nothing up
    regulars = [finish(c, score(c.proposer.params["x"])) if c.proposer.params["index"] < 6 else c for c in history]
    assert [key(p) for p in propose(context, regulars, wanted=2)] == [(1, 0), (1, 1)]  # told with extras still running


def test_extras_are_reproducible_and_never_told(context):
    history = [record(p, i) for i, p in enumerate(propose(context, []))]
    one_by_one = []
    for _ in range(3):
        [p] = propose(context, history + [record(q, 6 + j) for j, q in enumerate(one_by_one)], wanted=1)
        one_by_one.append(p)
    at_once = propose(context, history, wanted=3)
    assert [p.params["x"] for p in one_by_one] == [p.params["x"] for p in at_once]  # extra k's genome depends on k alone
    told = [finish(c, score(c.proposer.params["x"])) for c in history]
    with_extras = told + [finish(record(p, 6 + i), 10.0) for i, p in enumerate(at_once)]  # far better than any member
    a = replay("r", told, x0(STRUCTURE), sigma=CONFIG.sigma, population=6, seed=0, generations=None)
    b = replay("r", with_extras, x0(STRUCTURE), sigma=CONFIG.sigma, population=6, seed=0, generations=None)
    assert a.generation == b.generation == 1 and a.mean == b.mean and a.solutions == b.solutions


def test_results_in_any_order_give_the_cma_state_of_results_in_order(context):
    asked = [record(p, i) for i, p in enumerate(propose(context, []))]
    results = {c.id: finish(c, score(c.proposer.params["x"]), "failed" if i == 2 else "succeeded") for i, c in enumerate(asked)}

    def arrive(order):
        """Results arrive in `order`; each time one arrives a slot frees and the strategy is asked (extras)."""
        history = list(asked)
        for n, i in enumerate(order):
            history[i] = results[asked[i].id]
            extra = propose(context, history, wanted=1)
            history += [record(p, 100 + n) for p in extra]
        return history

    in_order, shuffled = arrive(range(6)), arrive([5, 2, 0, 4, 1, 3])
    reference = replay("r", asked, x0(STRUCTURE), sigma=CONFIG.sigma, population=6, seed=0, generations=None)
    states = [
        replay("r", h, x0(STRUCTURE), sigma=CONFIG.sigma, population=6, seed=0, generations=None)
        for h in (in_order, shuffled, list(reversed(shuffled)))
    ]
    assert all(s.generation == 1 and s.mean == states[0].mean and s.solutions == states[0].solutions for s in states)
    assert states[0].mean != reference.mean
    # the state is that of telling cma the generation in index order, a failure worst
    es = new_es(x0(STRUCTURE), CONFIG.sigma, 6, run_seed("r", 0))
    raw = es.ask()
    losses = [-score(x) for x in raw]
    losses[2] = max(v for i, v in enumerate(losses) if i != 2) + 1.0
    es.tell(raw, losses)
    assert np.allclose(states[0].mean, es.mean) and np.allclose(states[0].solutions, es.ask())


def test_resume_mid_generation_proposes_what_an_unbroken_run_would_and_nothing_twice(context):
    """A kill mid-generation: the session recorded some members (some with results, some not), then died."""
    unbroken = []
    for g in range(2):
        members = propose(context, unbroken, wanted=6)
        unbroken += [finish(record(p, 10 * g + i), score(p.params["x"])) for i, p in enumerate(members)]
    history = unbroken[:6] + [record(propose(context, unbroken[:6], wanted=6)[i], 10 + i) for i in range(3)]
    history[6] = finish(history[6], score(history[6].proposer.params["x"]))  # generation 1: one done, two in flight, three not asked
    resumed = propose(context, history, wanted=6)
    assert [key(p) for p in resumed] == [(1, 3), (1, 4), (1, 5), (1, 6), (1, 7), (1, 8)]
    assert [p.params["x"] for p in resumed[:3]] == [c.proposer.params["x"] for c in unbroken[9:12]]
    history += [finish(record(p, 20 + i), score(p.params["x"])) for i, p in enumerate(resumed)]
    history[7:9] = [finish(c, score(c.proposer.params["x"])) for c in history[7:9]]
    assert [p.params["x"] for p in propose(context, history)] == [p.params["x"] for p in propose(context, unbroken)]
