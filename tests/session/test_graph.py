"""The session graph with scripted strategies and FakeSandbox on a real archive."""

from __future__ import annotations

import json
import subprocess

from agents.errors import LLMUnavailable
from agents.llm.scripted import ScriptedModel
from agents.session.executor import make_executor
from agents.session.graph import build_graph, config_for
from agents.session.runner import _fallback
from agents.session.runtime import Runtime
from agents.session.sources import measure_sources, record_sources
from agents.session.state import initial_state
from archive.record import Candidate, Proposer
from tests.session.conftest import LLMStrategy, ScriptedStrategy, budget, fake_sandbox, weighted_recipe

SESSION = "s-test-0001"


def run(workspace, archive, strategy, n, *, sandbox=None, model=None, fallback=None, prompts_dir=None):
    executor = make_executor(workspace, sandbox or fake_sandbox())
    sources = measure_sources(workspace, archive, executor, record_sources(workspace, archive), seed=0)
    rt = Runtime(
        workspace=workspace,
        archive=archive,
        executor=executor,
        budget=budget(n),
        strategy=strategy,
        make_fallback=fallback or _fallback(workspace),
        model=model,
        sources=sources,
        prompts_dir=prompts_dir,
    )
    try:
        final = build_graph(rt).invoke(initial_state(SESSION), config_for(SESSION))
    finally:
        executor.close()
    return final, [archive.get(cid) for cid in archive.session_candidates(SESSION)]


def test_budget_stops_at_n_candidates_counting_invalid_and_duplicates(workspace, archive):
    strategy = ScriptedStrategy([0.1, "invalid:no recipe in the reply", 0.1, 0.2, 0.3, 0.4, 0.5])
    final, mine = run(workspace, archive, strategy, 4)
    assert [c.status for c in mine] == ["succeeded", "invalid", "rejected", "succeeded"]
    assert final["stop"] == "budget reached (candidates: 4 of 4 used)"
    assert strategy.items == [0.3, 0.4, 0.5]


def test_duplicate_is_rejected_naming_the_first_and_never_run(workspace, archive):
    sandbox = fake_sandbox()
    _, mine = run(workspace, archive, ScriptedStrategy([0.2, 0.2]), 2, sandbox=sandbox)
    assert mine[1].status == "rejected" and mine[1].reason == f"duplicate of {mine[0].id}"
    assert [j.id for j in sandbox.jobs if j.id.startswith(mine[1].id)] == []


def test_invalid_proposal_recorded_with_its_reason_and_cost(workspace, archive):
    _, mine = run(workspace, archive, ScriptedStrategy(["invalid:reply had no YAML block"]), 1)
    assert (mine[0].status, mine[0].reason) == ("invalid", "invalid:reply had no YAML block")


def test_recipe_failing_the_dry_run_is_invalid(workspace, archive):
    class Bad(ScriptedStrategy):
        def _proposal(self, item, ctx):
            p = super()._proposal(item, ctx)
            p.genotype["recipe"]["models"][0]["model"] = "no-such-model"
            return p

    _, mine = run(workspace, archive, Bad([0.3]), 1)
    assert mine[0].status == "invalid" and "dry run" in mine[0].reason and "no-such-model" in mine[0].reason


def test_failure_recorded_with_the_sandbox_reason(workspace, archive):
    _, mine = run(workspace, archive, ScriptedStrategy([0.3, 0.4]), 2, sandbox=fake_sandbox(fail={0.3}))
    assert (mine[0].status, mine[0].reason) == ("failed", "worker died: scripted failure")
    assert mine[1].status == "succeeded" and mine[1].fitness("search") == 0.9


def test_lessons_attached_and_fed_to_later_proposals(workspace, archive):
    strategy = ScriptedStrategy([0.3, 0.35, 0.4])
    _, mine = run(workspace, archive, strategy, 3)
    # The rule names the recipe exactly and compares with the parent, the session's best before it and the best source.
    assert mine[0].lesson.startswith("linear: adder(weight 0.3), sorter(weight 0.7): search fitness 0.8000 [add 0.800].")
    assert f"+0.2000 vs parent {mine[0].parents[0]} (source " in mine[0].lesson  # the parent is a source, fitness 0.6
    best_before = "parent" if mine[2].parents == [mine[1].id] else "the session's best before it"  # named once
    assert f"+0.0500 vs {best_before} {mine[1].id} (linear: adder(weight 0.35)" in mine[2].lesson
    assert "+0.3000 vs the best source" in mine[2].lesson and len(mine[2].lesson) <= 400
    # The third proposal fills the first slot that frees: it sees the lessons of the candidates ended by then.
    seen = strategy.contexts[-1].lessons
    assert seen and all(lesson in [f"{c.id}: {c.lesson}" for c in mine[:2]] for lesson in seen)


def test_llm_reflection_is_charged_to_the_candidate(workspace, archive, tmp_path):
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "reflect.md").write_text(
        "<!-- doc -->\nLesson?\n{{ candidate }}\n{{ rationale }}\n{{ result }}\n"
        "Compared:\n{{ comparisons }}\nAt most {{ limit }} characters.\n"
    )
    model = ScriptedModel(["go", "weights toward adder help"], tokens_per_reply=10, dollars_per_reply=0.01)
    _, mine = run(workspace, archive, LLMStrategy([0.3]), 1, model=model, prompts_dir=tmp_path / "prompts")
    asked = model.calls[1][0]["content"]
    assert asked.startswith("Lesson?\n") and "<!--" not in asked and "At most 400 characters." in asked
    assert "linear: adder(weight 0.3), sorter(weight 0.7)" in asked and "search fitness 0.8000 [add 0.800]" in asked
    assert "+0.2000 vs parent" in asked and "(source " in asked
    assert mine[0].lesson == "weights toward adder help"
    assert mine[0].cost.llm_tokens == 10 and mine[0].cost.dollars == 0.01


def test_falls_back_to_evolution_after_repeated_llm_failure(workspace, archive):
    down = LLMUnavailable("stub: HTTP 500 after 4 retries")
    model = ScriptedModel([down, down, down])
    evolution = ScriptedStrategy([0.25, 0.45])
    workspace.config.planner.llm = __import__("agents.llm.config", fromlist=["LLMConfig"]).LLMConfig(model="x", fallback_after=3)
    final, mine = run(workspace, archive, LLMStrategy([0.9]), 2, model=model, fallback=lambda: evolution)
    assert final["fallback"] is True and len(model.calls) == 3
    assert [c.proposer.params["weight"] for c in mine] == [0.25, 0.45]
    assert all(ctx.model is None for ctx in evolution.contexts)


def test_queued_candidates_run_first_and_do_not_count(workspace, archive):
    source = record_sources(workspace, archive)[0]
    queued = archive.record(
        Candidate(kind="merge", parents=[source.id], genotype={"recipe": weighted_recipe(0.15)}, proposer=Proposer(strategy="human"))
    )
    strategy = ScriptedStrategy([0.3])
    _, mine = run(workspace, archive, strategy, 1)
    assert archive.get(queued).status == "succeeded" and archive.queued() == []
    assert len(mine) == 1 and queued not in [c.id for c in mine]
    assert strategy.contexts[0].history == []  # the queue ran before the first proposal


def test_sources_measured_on_both_splits_once(workspace, archive):
    sandbox = fake_sandbox()
    run(workspace, archive, ScriptedStrategy([]), 1, sandbox=sandbox)
    run(workspace, archive, ScriptedStrategy([]), 1, sandbox=sandbox)
    source_jobs = [j.id for j in sandbox.jobs if len(j.work.recipe["models"]) == 1]
    assert len(source_jobs) == 8 and {j.rsplit("-", 1)[1] for j in source_jobs} == {"search", "test"}  # base and 3 sources


def test_real_llm_strategy_falls_back_to_real_evolution(workspace, archive):
    from agents.llm.config import LLMConfig
    from agents.strategies.registry import make_strategy
    from tests.session.conftest import hashed_sandbox

    workspace.config.planner.llm = LLMConfig(model="openai/stub", fallback_after=2)
    down = LLMUnavailable("stub: connection refused after 4 tries")
    model = ScriptedModel([down, down])
    llm = make_strategy("llm", workspace.config.planner, workspace)
    final, mine = run(workspace, archive, llm, 3, sandbox=hashed_sandbox(), model=model)
    assert final["fallback"] is True and len(model.calls) == 2
    assert [c.proposer.strategy for c in mine] == ["evolution"] * 3
    assert all(c.status == "succeeded" and c.lesson for c in mine)


def test_real_llm_strategy_proposes_reflects_and_is_charged(workspace, archive):
    import json

    from agents.llm.config import LLMConfig
    from agents.strategies.registry import make_strategy
    from tests.session.conftest import hashed_sandbox

    ties = {
        "rationale": "ties over adder and sorter",
        "method": "ties",
        "base": "base",
        "sources": ["adder", "sorter"],
        "parameters": {"adder": {"weight": 0.9, "density": 0.5}, "sorter": {"weight": 0.7, "density": 0.5}},
    }
    workspace.config.planner.llm, workspace.config.planner.repair_rounds = LLMConfig(model="openai/stub"), 0
    workspace.config.sandbox.cpu_concurrency = 1  # one proposal per round: the replies below are in that order
    model = ScriptedModel(
        [f"```json\n{json.dumps(ties)}\n```", "ties of adder and sorter beat both parents.", "no JSON here"],
        tokens_per_reply=20,
        dollars_per_reply=0.001,
    )
    strategy = make_strategy("llm", workspace.config.planner, workspace)
    _, mine = run(workspace, archive, strategy, 2, sandbox=hashed_sandbox(), model=model)
    assert [c.status for c in mine] == ["succeeded", "invalid"]
    assert mine[0].proposer.model == "scripted" and mine[0].proposer.template_hash and mine[0].proposer.rationale == ties["rationale"]
    assert mine[0].lesson == "ties of adder and sorter beat both parents."
    assert [c.cost.llm_tokens for c in mine] == [40, 20]  # proposal + reflection; the invalid reply


def test_a_result_a_kill_left_unreflected_is_said_and_reflected_on_once_on_resume(workspace, archive, capsys):
    """A kill between a job's end (its result attached at once) and reflect leaves a result with no lesson.
    The resumed session reports it and reflects on it exactly once, even when its budget is already spent
    (nothing else is left to run, so only observe can notice it)."""
    from archive.record import ResultEvent, SplitMetrics

    source = record_sources(workspace, archive)[0]
    orphan = archive.record(
        Candidate(
            kind="merge",
            parents=[source.id],
            genotype={"recipe": weighted_recipe(0.35)},
            proposer=Proposer(strategy="scripted", session=SESSION),
        )
    )
    archive.attach_result(orphan, ResultEvent(status="running"))
    archive.attach_result(orphan, ResultEvent(status="succeeded", metrics={"search": SplitMetrics(fitness=0.61)}))
    assert archive.get(orphan).lesson is None
    strategy = ScriptedStrategy([0.3])
    _, mine = run(workspace, archive, strategy, 1)  # the budget is the orphan: nothing new is proposed
    assert [c.id for c in mine] == [orphan] and strategy.contexts == []
    note = subprocess.run(
        ["git", "--git-dir", str(archive.git_dir), "notes", "--ref=clade", "show", archive.commit_of(orphan)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert archive.get(orphan).lesson and sum(bool(json.loads(line).get("lesson")) for line in note.splitlines() if line.strip()) == 1
    assert capsys.readouterr().err.count(f"{orphan} succeeded") == 1
