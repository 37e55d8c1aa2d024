"""The hybrid strategy with a scripted model and the real cma_proposals, on fake session histories."""

from __future__ import annotations

import json

import pytest

from agents.budget import BudgetConfig
from agents.errors import BudgetExceeded
from agents.evolution.config import EvolutionConfig
from agents.llm.scripted import ScriptedModel
from agents.strategies.hybrid import HybridStrategy
from agents.workspace import load_workspace
from tests.llm.conftest import ZOO, make_context, planner, record

TIES = {
    "rationale": "adder and sorter share little; ties resolves sign conflicts",
    "method": "ties",
    "sources": ["adder", "sorter"],
    "layer_groups": 2,
}
LINEAR = {
    "rationale": "a plain average of all three as a control",
    "method": "linear",
    "sources": ["adder", "reverser", "sorter"],
    "layer_groups": 1,
}


def hybrid(generations: int = 2, extras: int | None = 0) -> HybridStrategy:
    """Without extras unless asked (the generation-by-generation behaviour these tests describe)."""
    evolution = EvolutionConfig(population=3, extras=extras)
    return HybridStrategy(planner(evolution=evolution, hybrid_generations=generations), load_workspace(ZOO))


def fenced(obj) -> str:
    return f"```json\n{json.dumps(obj)}\n```"


def finished(proposals, start: int, fitness) -> list:
    return [record(p, start + i, fitness=fitness(i)) for i, p in enumerate(proposals)]


def test_first_call_asks_for_a_structure_and_starts_its_run(zoo):
    model = ScriptedModel([fenced(TIES)], tokens_per_reply=50, dollars_per_reply=0.02)
    proposals = hybrid().propose(make_context(zoo, model, wanted=10))
    assert len(proposals) == 3 and len(model.calls) == 1
    assert "(none yet: this is the first structure)" in model.calls[0][0]["content"]
    assert {p.params["run"] for p in proposals} == {"hybrid-1"} and [p.params["index"] for p in proposals] == [0, 1, 2]
    assert all(p.params["hybrid"]["rationale"] == TIES["rationale"] and p.strategy == "hybrid" for p in proposals)
    assert all(p.model == "scripted" and p.template_hash for p in proposals)
    assert [p.cost.llm_tokens for p in proposals] == [50, 0, 0] and proposals[0].cost.dollars == 0.02
    assert proposals[0].genotype["recipe"]["merge_method"] == "ties" and len(proposals[0].genotype["recipe"]["slices"]) == 2
    assert proposals[0].parents == ["src-base", "src-adder", "src-sorter"]


def test_waits_while_members_run_and_continues_without_the_llm(zoo):
    first = hybrid().propose(make_context(zoo, ScriptedModel([fenced(TIES)]), wanted=10))
    running = [record(p, i) for i, p in enumerate(first)]
    idle = ScriptedModel([])  # any LLM call would fail the test
    assert hybrid().propose(make_context(zoo, idle, history=running, wanted=10)) == []
    done = finished(first, 0, lambda i: 0.6 + 0.01 * i)
    second = hybrid().propose(make_context(zoo, idle, history=done, wanted=10))
    assert [(p.params["run"], p.params["generation"]) for p in second] == [("hybrid-1", 1)] * 3
    assert second[0].params["hybrid"]["rationale"] == TIES["rationale"] and second[0].cost.llm_tokens == 0
    assert idle.calls == []


def test_extras_fill_slots_while_a_generation_runs_and_do_not_hold_up_the_next_structure(zoo):
    first = hybrid(generations=1, extras=None).propose(make_context(zoo, ScriptedModel([fenced(TIES)]), wanted=4))
    assert [(p.params["index"], p.params.get("extra", False)) for p in first] == [(0, False), (1, False), (2, False), (3, True)]
    idle = ScriptedModel([])
    running = [record(p, i) for i, p in enumerate(first)]
    more = hybrid(generations=1, extras=None).propose(make_context(zoo, idle, history=running, wanted=4))
    assert [p.params["index"] for p in more] == [4, 5] and idle.calls == []  # up to population (3) extras, then []
    done = finished(first[:3], 0, lambda i: 0.6) + [running[3]] + [record(p, 4 + i) for i, p in enumerate(more)]
    model = ScriptedModel([fenced(LINEAR)])
    nxt = hybrid(generations=1, extras=None).propose(make_context(zoo, model, history=done, wanted=2))
    assert len(model.calls) == 1 and {p.params["run"] for p in nxt} == {"hybrid-2"}


def test_after_the_run_the_llm_sees_its_outcome_and_picks_the_next(zoo):
    first = hybrid(generations=1).propose(make_context(zoo, ScriptedModel([fenced(TIES)]), wanted=10))
    done = finished(first, 0, lambda i: [0.61, 0.70, 0.65][i])
    model = ScriptedModel([fenced(LINEAR)])
    nxt = hybrid(generations=1).propose(make_context(zoo, model, history=done, wanted=10))
    prompt = model.calls[0][0]["content"]
    for expected in (
        "- hybrid-1: ties over adder, sorter in 2 layer group(s)",
        f"your rationale: {TIES['rationale']}",
        "3 candidates, 3 succeeded, 0 failed",
        "best: c0001 (generation 0), search fitness 0.7000",
        "started at [adder weight 0.800/0.800, adder density 0.500/0.500",
        "with sigma 0.2",
        "CMA-ES moved the numbers to [adder weight",
        "mean fitness per generation: gen 0: 0.6533",
        "1 generation(s) of 3 candidates",
    ):
        assert expected in prompt, expected
    assert {p.params["run"] for p in nxt} == {"hybrid-2"} and nxt[0].genotype["recipe"]["merge_method"] == "linear"


def test_a_repeated_or_impossible_structure_is_repaired(zoo):
    first = hybrid(generations=1).propose(make_context(zoo, ScriptedModel([fenced(TIES)]), wanted=10))
    done = finished(first, 0, lambda i: 0.6)
    model = ScriptedModel(
        [fenced(TIES), fenced({**LINEAR, "sources": ["adder", "multiplier"]}), fenced({**LINEAR, "layer_groups": 9}), fenced(LINEAR)]
    )
    nxt = hybrid(generations=1).propose(make_context(zoo, model, history=done, wanted=10))
    repairs = [call[-1]["content"] for call in model.calls[1:]]
    assert "ties over adder, sorter in 2 layer group(s) was already tuned in hybrid-1" in repairs[0]
    assert "unknown source(s) multiplier" in repairs[1]
    assert "9 groups for 4 layers" in repairs[2]
    assert nxt[0].params["run"] == "hybrid-2" and nxt[0].cost.llm_tokens == 40


def test_no_valid_structure_is_one_invalid_proposal_and_no_run(zoo):
    model = ScriptedModel(["ties, probably"] * 4)
    [p] = hybrid().propose(make_context(zoo, model, wanted=10))
    assert p.invalid.startswith("no valid structure: reply still invalid after 3 repair round(s)")
    assert "run" not in p.params and p.cost.llm_tokens == 40
    again = ScriptedModel([fenced(TIES)])
    later = hybrid().propose(make_context(zoo, again, history=[record(p, 0)], wanted=10))
    assert later[0].params["run"] == "hybrid-1" and len(again.calls) == 1


def test_resuming_from_the_same_history_proposes_the_same_members(zoo):
    first = hybrid().propose(make_context(zoo, ScriptedModel([fenced(TIES)]), wanted=2))
    history = [record(p, i) for i, p in enumerate(first)]
    a = hybrid().propose(make_context(zoo, ScriptedModel([]), history=history, wanted=10))
    b = hybrid().propose(make_context(zoo, ScriptedModel([]), history=history, wanted=10))
    assert [p.params["index"] for p in a] == [2] and a[0].params["x"] == b[0].params["x"]
    assert a[0].params["hybrid"] == first[0].params["hybrid"]


def test_budget_stops_before_the_structure_call(zoo):
    model = ScriptedModel([fenced(TIES)])
    ctx = make_context(zoo, model, wanted=10, budget=BudgetConfig(candidates=None, dollars=1.0))
    ctx.budget.charge_llm(0, 1.0)
    with pytest.raises(BudgetExceeded, match="dollars"):
        hybrid().propose(ctx)
    assert model.calls == []


def test_the_llm_gives_the_start_point_and_sigma_and_the_run_keeps_them(zoo):
    from agents.evolution.genome import group_values

    reply = {**TIES, "start": {"adder": {"weight": [1.2, 0.4], "density": 0.7}, "sorter": {"weight": 0.6}}, "sigma": 0.02}
    first = hybrid(generations=2).propose(make_context(zoo, ScriptedModel([fenced(reply)]), wanted=10))
    info = first[0].params["hybrid"]
    assert info["sigma"] == 0.02 and info["start"] == "adder weight 1.2/0.4, adder density 0.7, sorter weight 0.6, sorter density 0.5"
    structure = hybrid_structure(first[0])
    for p in first:  # a small sigma keeps every member near the start it was given
        groups = group_values(structure, p.params["x"])
        assert abs(groups[0]["adder"]["weight"] - 1.2) < 0.05 and abs(groups[1]["adder"]["weight"] - 0.4) < 0.05
        assert abs(groups[0]["sorter"]["density"] - 0.5) < 0.05
    # The next generation replays the run from the recorded start and sigma (a different start would diverge).
    done = finished(first, 0, lambda i: 0.6 + 0.01 * i)
    second = hybrid(generations=2).propose(make_context(zoo, ScriptedModel([]), history=done, wanted=10))
    assert [p.params["generation"] for p in second] == [1, 1, 1] and second[0].params["hybrid"]["x0"] == info["x0"]


def hybrid_structure(p):
    from agents.evolution.genome import Structure

    return Structure.model_validate(p.params["structure"])


@pytest.mark.parametrize(
    "start, sigma, error",
    [
        ({"adder": {"weight": 1.6}}, None, "start.adder.weight = 1.6 must be a number strictly inside (0, 1.5)"),
        ({"adder": {"weight": [0.5, 0.6, 0.7]}}, None, "start.adder.weight has 3 values for 2 layer group(s)"),
        ({"reverser": {"weight": 0.5}}, None, "start names ['reverser'], which are not among the structure's sources"),
        ({"adder": {"t": 0.5}}, None, "start.adder names ['t']; ties tunes only weight, density"),
        (None, 5.0, "sigma = 5 must be in [0.02, 2]"),
    ],
)
def test_a_start_or_sigma_out_of_range_is_sent_back(zoo, start, sigma, error):
    bad = {**TIES, **({"start": start} if start else {}), **({"sigma": sigma} if sigma else {})}
    model = ScriptedModel([fenced(bad), fenced(TIES)])
    proposals = hybrid().propose(make_context(zoo, model, wanted=10))
    assert error in model.calls[1][-1]["content"] and proposals[0].params["hybrid"]["sigma"] == 0.2
