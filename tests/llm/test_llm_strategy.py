"""The llm strategy with a scripted model on the tiny zoo: proposals, repairs, invalid, budgets."""

from __future__ import annotations

import json

import pytest

from agents.budget import BudgetConfig
from agents.errors import BudgetExceeded, LLMUnavailable
from agents.llm.scripted import ScriptedModel
from agents.prompts import render
from agents.strategies.llm import LLMStrategy
from tests.llm.conftest import make_context, planner, record

TIES = {
    "rationale": "ties over adder and sorter keeps both skills",
    "method": "ties",
    "base": "base",
    "sources": ["adder", "sorter"],
    "layer_groups": 2,
    "parameters": {"adder": {"weight": [1.0, 0.6], "density": 0.5}, "sorter": {"weight": 0.8, "density": 0.5}},
}


def fenced(obj) -> str:
    return f"My proposal:\n```json\n{json.dumps(obj)}\n```"


def test_valid_proposal(zoo):
    model = ScriptedModel([fenced(TIES)], name="scripted-llm", tokens_per_reply=100, dollars_per_reply=0.01)
    ctx = make_context(zoo, model)
    [p] = LLMStrategy(planner(), zoo).propose(ctx)
    assert p.invalid is None and p.strategy == "llm" and p.model == "scripted-llm"
    assert p.rationale == TIES["rationale"]
    assert p.template_hash == render("merge_propose.md", **_placeholders()).template_hash
    assert p.parents == ["src-base", "src-adder", "src-sorter"]  # a first proposal: the sources it merges
    recipe = p.genotype["recipe"]
    assert recipe["merge_method"] == "ties" and [s["layer_range"] for s in recipe["slices"][1]["sources"]] == [[2, 4]] * 3
    assert (p.cost.llm_tokens, p.cost.dollars) == (100, 0.01)
    assert (ctx.budget.spent.tokens, ctx.budget.spent.dollars) == (100, 0.01)


def _placeholders() -> dict:
    names = (
        "brief",
        "tasks",
        "budget",
        "summary",
        "sources",
        "layers",
        "lineage",
        "in_flight",
        "failures",
        "lessons",
        "methods",
        "example",
        "path_example",
        "scale_filters",
    )
    return {n: "" for n in names}


def test_prompt_shows_what_the_llm_needs(zoo):
    model = ScriptedModel(
        [fenced(TIES), fenced({**TIES, "layer_groups": 1, "parameters": {"adder": {"weight": 0.7}, "sorter": {"weight": 0.8}}})]
    )
    failed = record(LLMStrategy(planner(), zoo).propose(make_context(zoo, ScriptedModel([fenced(TIES)])))[0], 1, status="failed")
    parent = record(LLMStrategy(planner(), zoo).propose(make_context(zoo, ScriptedModel([fenced(TIES)])))[0], 2, fitness=0.61).model_copy(
        update={"lesson": "two groups helped addition"}
    )
    LLMStrategy(planner(), zoo).propose(make_context(zoo, model, history=[failed, parent], parents=["c0002"]))
    prompt = model.calls[0][0]["content"]
    for expected in (
        "Beat every source on all three tasks.",
        "Archive: 4 candidates",
        "- adder: candidate src-adder, search fitness 0.5500",
        "every model has 4 transformer layers",
        "- c0002 (merge by llm): search fitness 0.6100",
        "lesson: two groups helped addition",
        "- c0001 failed: it broke",
        "ties over all three experts",
        "- dare_ties: base required",
        "density (default 1.0, in (0, 1])",
        "o_proj, down_proj",
        '"layer_groups": 2',
    ):
        assert expected in prompt, expected
    assert "{{" not in prompt
    # The same recipe again is refused before it costs a candidate: the repair names the earlier one and its score.
    assert "this recipe is exactly c0001's (failed)" in model.calls[1][-1]["content"]


def test_invalid_then_repaired(zoo):
    bad = {**TIES, "parameters": {"adder": {"weight": [1.0, 0.6, 0.2]}}}
    model = ScriptedModel([fenced(bad), "```json\n{oops\n```", fenced(TIES)])
    [p] = LLMStrategy(planner(), zoo).propose(make_context(zoo, model))
    assert p.invalid is None and p.genotype["recipe"]["merge_method"] == "ties"
    first_repair, second_repair = model.calls[1][-1]["content"], model.calls[2][-1]["content"]
    assert "repair 1 of 3" in first_repair and "parameters.adder.weight has 3 values for 2 layer group(s)" in first_repair
    assert "the JSON is not valid" in second_repair
    assert [m["role"] for m in model.calls[2]] == ["user", "assistant", "user", "assistant", "user"]
    assert p.cost.llm_tokens == 30 and p.params["replies"] == 3 and len(p.params["repairs"]) == 2


def test_engine_refusal_goes_back_to_the_llm(zoo):
    out_of_range = {**TIES, "parameters": {"adder": {"weight": 1.0, "density": 1.7}, "sorter": {"weight": 0.8}}}
    model = ScriptedModel([fenced(out_of_range), fenced(TIES)])
    [p] = LLMStrategy(planner(), zoo).propose(make_context(zoo, model))
    assert p.invalid is None
    repair = model.calls[1][-1]["content"]
    assert "the merge engine refused the recipe" in repair and "density" in repair and "1.7" in repair


def test_an_invalid_proposal_keeps_the_last_rounds_recipe(zoo):
    out_of_range = {**TIES, "parameters": {"adder": {"weight": 1.0, "density": 1.7}, "sorter": {"weight": 0.8}}}
    strategy = LLMStrategy(planner(repair_rounds=1), zoo)
    [p] = strategy.propose(make_context(zoo, ScriptedModel(["no json", fenced(out_of_range)])))
    assert p.invalid.startswith("reply still invalid after 1 repair round(s): the merge engine refused the recipe")
    assert p.genotype["recipe"]["slices"][0]["sources"][1]["parameters"] == {"weight": 1.0, "density": 1.7}
    [q] = strategy.propose(make_context(zoo, ScriptedModel([fenced(out_of_range), "no json"])))
    assert q.invalid.endswith("no JSON object found: reply with one JSON object in a ```json fence")
    assert q.genotype == {"recipe": {}}  # the last reply made no recipe: none is recorded under its reason


def test_four_invalid_replies_make_an_invalid_proposal(zoo):
    model = ScriptedModel(["no idea"] * 4, tokens_per_reply=10)
    [p] = LLMStrategy(planner(), zoo).propose(make_context(zoo, model))
    assert p.invalid == "reply still invalid after 3 repair round(s): no JSON object found: reply with one JSON object in a ```json fence"
    assert len(model.calls) == 4 and p.cost.llm_tokens == 40
    assert p.parents == ["src-base", "src-adder", "src-reverser", "src-sorter"] and p.genotype == {"recipe": {}}


def test_repair_rounds_are_configurable(zoo):
    model = ScriptedModel(["no idea"])
    [p] = LLMStrategy(planner(repair_rounds=0), zoo).propose(make_context(zoo, model))
    assert p.invalid.startswith("reply still invalid after 0 repair round(s)") and len(model.calls) == 1


def test_budget_stops_before_a_call(zoo):
    model = ScriptedModel([fenced(TIES)])
    ctx = make_context(zoo, model, budget=BudgetConfig(candidates=None, tokens=100))
    ctx.budget.charge_llm(100, 0.0)
    with pytest.raises(BudgetExceeded, match="tokens: 100 of 100 used"):
        LLMStrategy(planner(), zoo).propose(ctx)
    assert model.calls == []


def test_candidate_budget_ends_a_repair_as_invalid_with_its_spend(zoo):
    model = ScriptedModel(["no idea", "still none", fenced(TIES)], tokens_per_reply=60)
    ctx = make_context(zoo, model, budget=BudgetConfig(candidates=None, candidate_tokens=100))
    [p] = LLMStrategy(planner(), zoo).propose(ctx)
    assert len(model.calls) == 2 and p.cost.llm_tokens == 120
    assert p.invalid.startswith("stopped by the budget after 2 replies (candidate_tokens: 120 of 100 used)")


def test_second_proposal_stopped_keeps_the_first(zoo):
    model = ScriptedModel([fenced(TIES), fenced(TIES)], tokens_per_reply=100)
    ctx = make_context(zoo, model, wanted=2, budget=BudgetConfig(candidates=None, tokens=100))
    assert len(LLMStrategy(planner(), zoo).propose(ctx)) == 1 and len(model.calls) == 1


def test_llm_unavailable_propagates(zoo):
    model = ScriptedModel([LLMUnavailable("openai/x: HTTP 503; gave up after 5 tries")])
    with pytest.raises(LLMUnavailable):
        LLMStrategy(planner(), zoo).propose(make_context(zoo, model))


def test_an_llm_failure_during_repairs_keeps_the_spend_on_an_invalid_proposal(zoo):
    model = ScriptedModel(["no idea", LLMUnavailable("openai/x: HTTP 503; gave up after 5 tries")], tokens_per_reply=60)
    [p] = LLMStrategy(planner(), zoo).propose(make_context(zoo, model))
    assert p.cost.llm_tokens == 60 and p.invalid.startswith("the LLM failed after 1 reply (openai/x: HTTP 503")


def test_chosen_parents_are_the_proposals_parents(zoo):
    model = ScriptedModel(
        [
            fenced(
                {
                    "rationale": "a path",
                    "method": "passthrough",
                    "layer_path": [
                        {"model": "adder", "layer": 0},
                        {"model": "adder", "layer": 1},
                        {"model": "sorter", "layer": 2, "scale": 0.9},
                        {"model": "sorter", "layer": 3},
                    ],
                }
            )
        ]
    )
    parent = record(LLMStrategy(planner(), zoo).propose(make_context(zoo, ScriptedModel([fenced(TIES)])))[0], 7, fitness=0.6)
    [p] = LLMStrategy(planner(), zoo).propose(make_context(zoo, model, history=[parent], parents=["c0007"]))
    assert p.invalid is None and p.parents == ["c0007"] and len(p.genotype["recipe"]["layer_path"]) == 4


def test_planner_prompts_dir_supplies_the_templates(zoo, tmp_path):
    import shutil

    from agents.prompts import PROMPTS_DIR

    mine = tmp_path / "my-prompts"  # an absolute planner.prompts_dir (the zoo is read in place: nothing is written there)
    shutil.copytree(PROMPTS_DIR, mine)
    (mine / "merge_propose.md").write_text((mine / "merge_propose.md").read_text() + "\nMY-OWN-TEMPLATE-MARK\n")
    (mine / "merge_repair.md").write_text((mine / "merge_repair.md").read_text() + "\nMY-OWN-REPAIR-MARK\n")
    model = ScriptedModel(["no idea", fenced(TIES)])
    [p] = LLMStrategy(planner(prompts_dir=str(mine)), zoo).propose(make_context(zoo, model))
    assert p.invalid is None and "MY-OWN-TEMPLATE-MARK" in model.calls[0][0]["content"]
    assert "MY-OWN-REPAIR-MARK" in model.calls[1][-1]["content"]
