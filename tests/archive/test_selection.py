"""Parent selection: pure functions over candidate summaries."""

import math
import random
from collections import Counter

import pytest

from archive.selection import (
    CandidateSummary,
    Descriptor,
    dgm,
    dgm_robust_weights,
    dgm_weights,
    map_elites,
    map_elites_cells,
    pareto,
    pareto_front,
    pareto_members,
    tournament,
)
from tools.errors import BadInput


def cand(cid: str, fitness: float | None, children: int = 0, status: str = "succeeded", **metrics: float) -> CandidateSummary:
    return CandidateSummary(
        id=cid,
        kind="merge",
        status=status,
        parents=(),
        fitness=fitness,
        children=children,
        metrics={k.replace("__", "/"): v for k, v in metrics.items()},
    )


def test_dgm_weight_is_sigmoid_of_score_times_novelty():
    pool = [cand("a", 0.5), cand("b", 0.8, children=3), cand("c", 0.9, status="failed"), cand("d", None)]
    w = dgm_weights(pool)
    raw = {"a": 0.5 / 1, "b": 1 / (1 + math.exp(-10 * 0.3)) / 4}
    total = sum(raw.values())
    assert w == pytest.approx({k: v / total for k, v in raw.items()})


def test_more_children_means_less_likely():
    w = dgm_weights([cand("a", 0.7), cand("b", 0.7, children=4)])
    assert w["a"] == pytest.approx(5 * w["b"])


def test_robust_variant_ignores_the_fitness_scale():
    pool = [cand("a", 0.1), cand("b", 0.4, children=1), cand("c", 0.5), cand("d", 0.9)]
    scaled = [cand(c.id, 1000 * c.fitness - 7, c.children) for c in pool]
    assert dgm_robust_weights(pool) == pytest.approx(dgm_robust_weights(scaled))
    assert dgm_robust_weights([cand("a", 3.0), cand("b", 3.0)]) == pytest.approx({"a": 0.5, "b": 0.5})


def test_dgm_sampling_is_seeded_and_follows_the_weights():
    pool = [cand("good", 0.9), cand("bad", 0.1)]
    picks = dgm(pool, 2000, random.Random(1))
    assert picks == dgm(pool, 2000, random.Random(1))
    assert Counter(picks)["good"] > 1900


def test_tournament_takes_the_best_of_the_draw():
    pool = [cand(f"c{i}", i / 10) for i in range(10)]
    assert tournament(pool, 5, random.Random(0), size=50) == ["c9"] * 5
    assert len(set(tournament(pool, 200, random.Random(0), size=1))) == 10


def test_map_elites_keeps_the_best_per_cell():
    d = Descriptor("arc/acc", 0.0, 1.0, bins=2)
    pool = [
        cand("a", 0.4, arc__acc=0.1),
        cand("b", 0.7, arc__acc=0.2),
        cand("c", 0.2, arc__acc=0.9),
        cand("d", 0.9),
        cand("e", 0.3, arc__acc=1.5),
    ]
    cells = map_elites_cells(pool, [d])
    assert {cell: c.id for cell, c in cells.items()} == {(0,): "b", (1,): "e"}  # 1.5 clips into the last bin
    assert set(map_elites(pool, [d], 100, random.Random(0))) == {"b", "e"}
    two = map_elites_cells(pool, [d, Descriptor("fitness", 0, 1, bins=2)])
    assert {cell: c.id for cell, c in two.items()} == {(0, 1): "b", (0, 0): "a", (1, 0): "e"}


def test_nothing_eligible_is_bad_input():
    with pytest.raises(BadInput, match="no succeeded candidate"):
        dgm([cand("a", None), cand("b", 0.3, status="failed")], 1, random.Random(0))
    with pytest.raises(BadInput, match="MAP-Elites"):
        map_elites([cand("a", 0.3)], [Descriptor("arc/acc", 0, 1)], 1, random.Random(0))


def test_pareto_front():
    points = {"a": (1, 0), "b": (0, 1), "c": (0.5, 0.5), "d": (0.4, 0.4), "e": (1, 0), "f": (0.5, 0.2)}
    assert pareto_front(points) == ["a", "b", "c", "e"]
    rng = random.Random(3)
    many = {str(i): (rng.random(), rng.random(), rng.random()) for i in range(300)}
    naive = sorted(i for i, p in many.items() if not any(all(x >= y for x, y in zip(q, p)) and q != p for q in many.values()))
    assert pareto_front(many) == naive


def test_mixed_exploits_the_elites_and_explores_by_the_dgm_rule():
    from archive.selection import mixed

    pool = [cand("best", 0.85), cand("second", 0.84), cand("third", 0.83), cand("weak", 0.74), cand("busy", 0.80, children=9)]
    only_exploit = mixed(pool, 200, random.Random(0), exploit=1.0, elites=2)
    assert {cid for cid, _ in only_exploit} == {"best", "second"} and {how for _, how in only_exploit} == {"exploit"}
    only_explore = mixed(pool, 400, random.Random(0), exploit=0.0)
    counts = Counter(cid for cid, _ in only_explore)
    assert {how for _, how in only_explore} == {"explore"} and counts["best"] > counts["busy"]  # few children, better fitness
    both = mixed(pool, 1000, random.Random(1), exploit=0.7)
    assert 0.65 < sum(how == "exploit" for _, how in both) / 1000 < 0.75
    assert mixed(pool, 5, random.Random(3)) == mixed(pool, 5, random.Random(3))


def test_pareto_keeps_a_parent_strong_on_one_task_that_fitness_rank_drops():
    # "specialist" has the worst mean fitness but the best composite score: it is on the front
    pool = [
        cand("allround", 0.80, add__em=0.95, read__em=0.95, kel_add__em=0.50),
        cand("specialist", 0.60, add__em=0.40, read__em=0.60, kel_add__em=0.80),
        cand("dominated", 0.70, add__em=0.90, read__em=0.90, kel_add__em=0.30),
        cand("failed", None, status="failed", add__em=1.0, read__em=1.0, kel_add__em=1.0),
    ]
    assert [c.id for c in pareto_members(pool)] == ["allround", "specialist"]
    picks = Counter(pareto(pool, 400, random.Random(0)))
    assert set(picks) == {"allround", "specialist"} and picks["specialist"] > 150
    assert pareto(pool, 5, random.Random(3)) == pareto(pool, 5, random.Random(3))


def test_pareto_prefers_front_members_with_fewer_children_and_takes_named_objectives():
    pool = [cand("a", 0.5, children=9, x__m=1.0, y__m=0.0), cand("b", 0.5, x__m=0.0, y__m=1.0)]
    picks = Counter(pareto(pool, 1000, random.Random(1)))
    assert picks["b"] > 7 * picks["a"] > 0
    assert [c.id for c in pareto_members(pool, ["x/m"])] == ["a"]
    with pytest.raises(BadInput, match="no eligible candidate has every objective"):
        pareto_members(pool, ["z/m"])
    with pytest.raises(BadInput, match="share no per-task metric"):
        pareto_members([cand("a", 0.5)])
