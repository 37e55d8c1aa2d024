"""Every planner template rendered from a real small archive (tiny zoo, real git archive): what a breeder needs is there.

The archive holds the base and the three sources with per-task scores, a session with a best
merge in slices form (numbers per layer group), a failure, a lesson and a candidate still in
flight, as a session would have left them. The Context is built by the session's own
`build_context` and `select_parents`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agents.budget import Budget, BudgetConfig, Spend
from agents.evolution.config import EvolutionConfig
from agents.llm.scripted import ScriptedModel
from agents.prompts import PROMPTS_DIR, render
from agents.session import context as session_context
from agents.session.lessons import lesson_for
from agents.session.runtime import Runtime
from agents.strategies.hybrid import HybridStrategy
from agents.strategies.llm import LLMStrategy
from archive.record import Candidate, Proposer, ResultEvent, SplitMetrics
from tests.llm.conftest import planner
from tests.session.conftest import archive, workspace, zoo_template  # noqa: F401 (fixtures: a tiny-zoo copy, a real archive)
from tools.errors import BadInput

SESSION = "s-prompts"
SOURCE_TASKS = {
    "base": (0.478, 0.987, 0.787),
    "adder": (0.618, 0.989, 0.820),
    "reverser": (0.460, 1.0, 0.741),
    "sorter": (0.478, 0.962, 0.989),
}
BEST = {
    "merge_method": "task_arithmetic",
    "base_model": "base",
    "slices": [
        {
            "sources": [
                {"model": "base", "layer_range": [0, 2]},
                {"model": "adder", "layer_range": [0, 2], "parameters": {"weight": 0.85}},
                {"model": "sorter", "layer_range": [0, 2], "parameters": {"weight": 1.05}},
            ]
        },
        {
            "sources": [
                {"model": "base", "layer_range": [2, 4]},
                {"model": "adder", "layer_range": [2, 4], "parameters": {"weight": 1.15}},
                {"model": "sorter", "layer_range": [2, 4], "parameters": {"weight": 0.8}},
            ]
        },
    ],
}
TIES3 = {
    "merge_method": "ties",
    "base_model": "base",
    "parameters": {"normalize": False},
    "models": [{"model": m, "parameters": {"weight": 0.9, "density": 0.5}} for m in ("adder", "reverser", "sorter")],
}
FLYING = {
    "merge_method": "linear",
    "models": [{"model": "adder", "parameters": {"weight": 0.6}}, {"model": "sorter", "parameters": {"weight": 0.4}}],
}


def metrics(add: float, reverse: float, sort: float) -> dict:
    tasks = {"add": {"char_accuracy": add, "exact_match": add / 2}, "reverse": {"char_accuracy": reverse}, "sort": {"char_accuracy": sort}}
    return {"search": SplitMetrics(fitness=(add + reverse + sort) / 3, tasks=tasks)}


@pytest.fixture
def runtime(workspace, archive):
    sources = []
    for name, scores in SOURCE_TASKS.items():
        cid = archive.record(Candidate(kind="source", genotype={"name": name, "path": f"models/{name}"}))
        archive.attach_result(cid, ResultEvent(status="succeeded", metrics=metrics(*scores)))
        sources.append(archive.get(cid))
    ids = {c.genotype.name: c.id for c in sources}

    def merge(recipe, parents, rationale, status="succeeded", scores=None, lesson=None, reason=None):
        cid = archive.record(
            Candidate(
                kind="merge",
                parents=parents,
                genotype={"recipe": recipe},
                proposer=Proposer(strategy="llm", session=SESSION, rationale=rationale),
            )
        )
        if status != "proposed":
            archive.attach_result(cid, ResultEvent(status=status, reason=reason, metrics=metrics(*scores) if scores else {}, lesson=lesson))
        return cid

    ties = merge(
        TIES3,
        [ids["adder"]],
        "TIES over all three experts.",
        scores=(0.567, 0.987, 0.959),
        lesson="TIES over all three at density 0.5 gave 0.8377; reverse came back but sort fell.",
    )
    best = merge(BEST, [ties], "Sorter early, adder late.", scores=(0.577, 0.993, 0.981))
    merge({**TIES3, "merge_method": "dare_ties"}, [ties], "DARE for add.", status="failed", reason="worker died: out of memory")
    merge(FLYING, [best], "A plain average as a control.", status="proposed")
    budget = Budget(BudgetConfig(candidates=6, dollars=1.0), Spend(candidates=4, tokens=12000, dollars=0.02))
    return Runtime(
        workspace=workspace,
        archive=archive,
        executor=None,
        budget=budget,
        strategy=None,
        make_fallback=None,
        sources=[archive.get(c.id) for c in sources],
    ), best


def context(rt: Runtime, model, wanted: int = 1):
    import random

    parents = session_context.select_parents(rt, random.Random(0))
    ctx = session_context.build_context(rt, SESSION, parents, wanted, fallback=False)
    ctx.model = model
    return ctx


def fenced(obj) -> str:
    return f"Here is my proposal.\n```json\n{json.dumps(obj)}\n```\nThanks."


REPLY_A = {
    "rationale": "More sort early.",
    "method": "task_arithmetic",
    "base": "base",
    "sources": ["adder", "sorter"],
    "layer_groups": 2,
    "parameters": {"adder": {"weight": [0.8, 1.2]}, "sorter": {"weight": [1.1, 0.8]}},
}
REPLY_B = {**REPLY_A, "rationale": "Less sort early.", "parameters": {"adder": {"weight": [0.9, 1.1]}, "sorter": {"weight": [1.0, 0.8]}}}


def test_merge_prompt_shows_recipes_tasks_budget_flight_and_parents(runtime):
    rt, best = runtime
    model = ScriptedModel([fenced(REPLY_A)])
    LLMStrategy(planner(), rt.workspace).propose(context(rt, model))
    prompt = model.calls[0][0]["content"]
    for expected in (
        # what the fitness is made of: tasks with description, metric and weight
        "- add: add two 2-digit numbers: '63+23=' -> '86'. Metric char_accuracy",
        "weight 1 (33% of the fitness); 100 examples",
        # per-task scores of the base and every source, and the best per task
        "- base: candidate",
        "search fitness 0.7507 [add 0.478, reverse 0.987, sort 0.787] (the workspace base model)",
        "- adder: candidate",
        "[add 0.618, reverse 0.989, sort 0.820]",
        "Best single source per task (what a merge that keeps every skill would reach): add 0.618 (adder), reverse 1.000 (reverser), sort 0.989 (sorter)",
        # the best candidate's exact numbers and per-task scores, in the archive summary
        f"- {best} fitness 0.8503 [add 0.577, reverse 0.993, sort 0.981] task_arithmetic base=base, 2 layer group(s) "
        "(layers 0-1, layers 2-3): adder(weight 0.85/1.15), sorter(weight 1.05/0.8) (parents",
        # the budget left and progress
        "- Candidates: 4 of 6 used by this session (1 of them still running); after this proposal 1 more can be proposed.",
        "$0.0200 of $1.00",
        f"- Best of this session so far: {best} at 0.8503 on the search split (+0.0407 vs the best source); the best source, sorter, scores 0.8097.",
        # in flight, failures, lessons: each with its recipe
        "(proposed): linear: adder(weight 0.6), sorter(weight 0.4)",
        "rationale: A plain average as a control.",
        "failed: worker died: out of memory",
        "recipe: dare_ties base=base: adder(weight 0.9, density 0.5)",
        "TIES over all three at density 0.5 gave 0.8377; reverse came back but sort fell.",
        # the parents, with why they were chosen
        "why chosen: ",
        "recipe: ",
        "ancestors: ",
        # the reply format in this workspace's names
        '"sources": ["adder", "reverser"]',
        '"layer_path"',
        '{"model": "adder", "layer": 0}',
    ):
        assert expected in prompt, expected
    assert "<!--" not in prompt and "model-a" not in prompt and "{{" not in prompt


def test_two_prompts_of_one_round_differ_and_the_second_sees_the_first(runtime):
    rt, _ = runtime
    model = ScriptedModel([fenced(REPLY_A), fenced(REPLY_B)])
    made = LLMStrategy(planner(), rt.workspace).propose(context(rt, model, wanted=2))
    first, second = (call[0]["content"] for call in model.calls)
    assert len(made) == 2 and first != second
    assert (
        "proposed just before this one, in the same round: task_arithmetic base=base, 2 layer group(s) (layers 0-1, layers 2-3): "
        "adder(weight 0.8/1.2), sorter(weight 1.1/0.8)" in second
    )
    assert "This is proposal 2 of 2 asked for now" in second and "this is the session's last proposal" in second


def test_a_repeated_recipe_is_sent_back_before_it_costs_a_candidate(runtime):
    rt, best = runtime
    again = {**REPLY_A, "parameters": {"adder": {"weight": [0.85, 1.15]}, "sorter": {"weight": [1.05, 0.8]}}}
    model = ScriptedModel([fenced(again), fenced(REPLY_A)])
    [p] = LLMStrategy(planner(), rt.workspace).propose(context(rt, model))
    assert f"this recipe is exactly {best}'s (search fitness 0.8503 [add 0.577" in model.calls[1][-1]["content"]
    assert p.invalid is None and p.params["repairs"][0].startswith(f"this recipe is exactly {best}'s")


def test_built_on_names_the_lineage_parents(runtime):
    rt, best = runtime
    model = ScriptedModel([fenced({**REPLY_A, "built_on": ["nope"]}), fenced({**REPLY_A, "built_on": [best]})])
    [p] = LLMStrategy(planner(), rt.workspace).propose(context(rt, model))
    assert "built_on names nope" in model.calls[1][-1]["content"] and p.parents == [best]


def test_hybrid_prompt_says_where_cma_es_starts_its_step_and_what_is_fixed(runtime):
    rt, _ = runtime
    reply = {
        "rationale": "Tilt.",
        "method": "ties",
        "sources": ["adder", "sorter"],
        "layer_groups": 2,
        "start": {"adder": {"weight": [0.85, 1.15], "density": 0.6}},
        "sigma": 0.1,
    }
    model = ScriptedModel([fenced(reply)])
    strategy = HybridStrategy(planner(evolution=EvolutionConfig(population=3), hybrid_generations=1), rt.workspace)
    proposals = strategy.propose(context(rt, model, wanted=2))
    prompt = model.calls[0][0]["content"]
    for expected in (
        "every source starts at weight 0.8 in every layer group, density 0.5, t 0.5; the step size sigma is 0.2",
        "one sigma moves a weight of 0.8 by about ±0.075",
        "- ties: fixed normalize false, rescale false, lambda 1",
        "- task_arithmetic: fixed normalize false, rescale false, lambda 1, int8_mask false, density 1",
        "The structure you choose now gets a CMA-ES run of 3 candidates",
        "[add 0.618, reverse 0.989, sort 0.820]",
        '"sources": ["adder", "reverser"]',
        '"start": {"adder": {"weight": [0.9, 0.6], "density": 0.5}',
    ):
        assert expected in prompt, expected
    assert "<!--" not in prompt
    info = proposals[0].params["hybrid"]
    assert info["sigma"] == 0.1 and info["start"] == "adder weight 0.85/1.15, adder density 0.6, sorter weight 0.8, sorter density 0.5"


def test_reflect_prompt_compares_and_states_its_limit_and_lessons_end_on_a_sentence(runtime):
    rt, best = runtime
    rt.model = ScriptedModel(["First finding is clear. " + "More detail follows here. " * 30])
    rt.workspace.config.planner.llm = planner().llm
    lesson, cost = lesson_for(rt.archive.get(best), rt, fallback=False)
    prompt = rt.model.calls[0][0]["content"]
    assert "<!--" not in prompt and "at most 400 characters" in prompt
    assert f"Candidate {best}: task_arithmetic base=base, 2 layer group(s)" in prompt and "adder(weight 0.85/1.15)" in prompt
    assert "Result: search fitness 0.8503 [add 0.577, reverse 0.993, sort 0.981]" in prompt
    assert "+0.0127 vs parent " in prompt and "(ties base=base: adder(weight 0.9, density 0.5)" in prompt
    assert "+0.0407 vs the best source " in prompt and "(source sorter, 0.8097) [add +0.099, reverse +0.031, sort -0.008]" in prompt
    assert len(lesson) <= 400 and lesson.endswith("here.") and cost.llm_tokens > 0


def test_rule_lesson_names_a_ties_merge_as_such(runtime):
    rt, _ = runtime
    ties = next(c for c in map(rt.archive.get, rt.archive.session_candidates(SESSION)) if c.genotype.recipe == TIES3)
    lesson, _ = lesson_for(ties, rt, fallback=True)
    assert lesson.startswith(
        "ties base=base: adder(weight 0.9, density 0.5), reverser(weight 0.9, density 0.5), "
        "sorter(weight 0.9, density 0.5); normalize false: search fitness 0.8377"
    )
    assert "layer path" not in lesson and "vs parent" in lesson and "vs the best source" in lesson and len(lesson) <= 400


@pytest.mark.parametrize("template", sorted(p.name for p in Path(PROMPTS_DIR).glob("*.md")))
def test_no_template_comment_reaches_a_prompt(template):
    text = Path(PROMPTS_DIR, template).read_text()
    names = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", re.sub(r"<!--.*?-->", "", text, flags=re.S)))
    rendered = render(template, **{n: f"<{n}>" for n in names}).text
    assert "<!--" not in rendered and "-->" not in rendered


def test_comments_are_stripped_and_an_unclosed_one_is_an_error(tmp_path):
    (tmp_path / "t.md").write_text("<!--\nfor editors: {{ nothing }}\n-->\nHello {{ who }}.<!-- inline -->\n")
    rendered = render("t.md", tmp_path, who="you")
    assert rendered.text == "Hello you.\n"
    (tmp_path / "t.md").write_text("<!-- never closed\nHello {{ who }}.\n")
    with pytest.raises(BadInput, match=r"t\.md: an HTML comment is not closed"):
        render("t.md", tmp_path, who="you")


def test_parents_say_why_the_rule_chose_them(runtime):
    import random

    rt, best = runtime
    rt.workspace.config.planner.selection.rule = "best"
    assert session_context.select_parents(rt, random.Random(0)) == {
        best: "selection rule best: rank 1 of 6 scored candidates on the search split (fitness 0.8503), 1 child(ren) so far."
    }
    rt.workspace.config.planner.selection.rule, rt.workspace.config.planner.selection.exploit = "mixed", 1.0
    [(cid, why)] = session_context.select_parents(rt, random.Random(0)).items()
    assert why.startswith("exploit draw (probability 1): among the 3 best; rank ") and "Build on what makes it strong." in why


def test_the_session_validates_the_recipe_the_strategy_checked_without_planning_it_again(runtime):
    """One plan per proposal on the host: the LLM strategy checks its recipe through the session's checker
    (Context.recipes), and the validate node's static check reuses that verdict."""
    from agents.session.proposals import to_candidates, validate

    rt, _ = runtime
    made = LLMStrategy(planner(), rt.workspace).propose(context(rt, ScriptedModel([fenced(REPLY_A)])))
    assert made[0].invalid is None and (rt.recipes().asked, rt.recipes().planned) == (1, 1)
    [cid] = validate({"session": SESSION, "proposals": to_candidates(made, SESSION, rt)}, rt)["pending"]
    assert rt.archive.get(cid).status == "proposed" and (rt.recipes().asked, rt.recipes().planned) == (2, 1)
