"""A scripted model replays a realistic multi-round conversation through a real session.

The planner's LLM is the real client (litellm) talking to the local OpenAI-compatible stub; the
session is `run_session` on a tiny-zoo workspace with a real git archive; the sandbox is a fake
that scores a recipe per task from its weights (and reports per-example scores, as the real
evaluation does). The replies are what a capable model writes: prose around the JSON, a bare
JSON object, a reply cut off mid-object, a proposal repeating an earlier candidate, a
`built_on` naming a candidate it read in the prompt, and one-sentence lessons.
"""

from __future__ import annotations

import io
import json
import re

from agents.budget import BudgetConfig
from agents.llm.client import make_model
from agents.llm.config import LLMConfig
from agents.session import records
from agents.session.display import PlainDisplay
from agents.session.runner import Session, run_session
from agents.strategies.registry import make_strategy
from sandbox.fake import FakeSandbox
from sandbox.job import Job, Result
from tests.llm_stub import Reply, StubServer
from tests.session.conftest import archive, per_example_values, workspace, zoo_template  # noqa: F401 (fixtures)

SKILL = {"adder": "add", "reverser": "reverse", "sorter": "sort"}


def weights(recipe: dict) -> dict[str, float]:
    """Each model's mean weight over the recipe's models or slices (a source's own recipe: weight 1)."""
    found: dict[str, list[float]] = {}
    entries = recipe.get("models") or [s for piece in recipe.get("slices", []) for s in piece["sources"]]
    for e in entries:
        found.setdefault(e["model"], []).append(float((e.get("parameters") or {}).get("weight", 0.0)))
    return {m: sum(v) / len(v) for m, v in found.items()}


def skill_sandbox() -> FakeSandbox:
    """Each task scores 0.45 + 0.5 x its expert's weight (best at 1), minus 0.1 x the other experts' total weight above 1."""

    def run(job: Job) -> Result:
        w = weights(job.work.recipe)
        crowd = max(0.0, sum(v for m, v in w.items() if m in SKILL) - 1.0)
        tasks = {task: round(0.45 + 0.5 * (1 - abs(1 - w.get(expert, 0.0))) - 0.1 * crowd, 3) for expert, task in SKILL.items()}
        fitness = sum(tasks.values()) / 3
        per_example = {t: {"metric": "char_accuracy", "values": per_example_values(v)} for t, v in tasks.items()}
        return Result(
            job_id=job.id,
            status="ok",
            fitness=fitness,
            metrics={"fitness": fitness, "tasks": {t: {"char_accuracy": v} for t, v in tasks.items()}, "per_example": per_example},
        )

    return FakeSandbox(run)


def ta(rationale: str, **w: float) -> dict:
    return {
        "rationale": rationale,
        "method": "task_arithmetic",
        "base": "base",
        "sources": list(w),
        "parameters": {m: {"weight": v} for m, v in w.items()},
    }


FIRST = ta("Task arithmetic of all three at 0.8 keeps each skill.", adder=0.8, reverser=0.8, sorter=0.8)
SECOND = ta("Lower the reverser, whose skill the base already has.", adder=0.9, reverser=0.4, sorter=0.9)
THIRD = ta("Drop the reverser altogether.", adder=0.9, sorter=0.9)
FOURTH = ta("Halve everything to cut interference.", adder=0.5, reverser=0.5, sorter=0.5)
FIFTH = ta("Stronger adder only.", adder=1.0, reverser=0.4, sorter=0.9)
SIXTH = ta("Stronger sorter only.", adder=0.9, reverser=0.4, sorter=1.0)


class Breeder:
    """Answers each request as the transcript says: proposals in order, a repair for each refusal, lessons."""

    def __init__(self):
        self.kinds: list[str] = []
        self.proposals = [
            self.prose(FIRST),
            self.cut_off(SECOND),
            self.prose(FIRST),
            self.bare(FOURTH),
            self.prose(FIFTH),
            self.prose(SIXTH),
        ]
        self.repairs = [self.prose(SECOND), self.built_on_best(THIRD)]

    @staticmethod
    def prose(obj) -> str:
        return (
            f"Looking at the per-task scores, here is my proposal.\n\n```json\n{json.dumps(obj, indent=2)}\n```\n\nI expect a small gain."
        )

    @staticmethod
    def bare(obj) -> str:
        return f"Proposal: {json.dumps(obj)} -- that is all."

    @staticmethod
    def cut_off(obj) -> str:
        return "```json\n" + json.dumps(obj)[:60] + "\n```"

    @staticmethod
    def built_on_best(obj):
        def reply(prompt: str) -> str:
            best = re.search(r"Best of this session so far: (\w+) at", prompt).group(1)
            return Breeder.prose({**obj, "built_on": [best]})

        return reply

    def __call__(self, body: dict) -> str:
        messages = body["messages"]
        last, first = messages[-1]["content"], messages[0]["content"]
        if last.startswith("Your reply could not be used"):
            self.kinds.append("repair")
            answer = self.repairs.pop(0)
            return answer(first) if callable(answer) else answer
        if "A candidate has just been evaluated" in last:
            self.kinds.append("lesson")
            return f"Lesson {self.kinds.count('lesson')}: the weights moved the tasks as the comparisons show. Keep the reverser low."
        self.kinds.append("propose")
        return self.proposals.pop(0)


def test_a_realistic_conversation_through_a_real_session(workspace, archive):
    breeder = Breeder()
    with StubServer(default=Reply(breeder)) as stub:
        workspace.config.planner.llm = LLMConfig(
            model="openai/stub-model", api_base=stub.url, max_retries=0, input_per_mtok=1.0, output_per_mtok=2.0
        )
        record = records.SessionRecord(
            id=records.new_session_id(), strategy="llm", seed=0, budget=BudgetConfig(candidates=6), backend="local"
        )
        session = Session(
            workspace=workspace,
            record=record,
            strategy=make_strategy("llm", workspace.config.planner, workspace),
            backend=skill_sandbox(),
            model=make_model(workspace.config.planner.llm, {}),
            display=PlainDisplay(io.StringIO()),
        )
        summary = run_session(session, archive)
        asked = [r.messages for r in stub.requests]
    mine = [archive.get(c) for c in archive.session_candidates(summary.session)]
    first, second, _, fourth, fifth, sixth = mine

    # Every proposal ran: the cut-off reply and the repeated recipe were repaired before they cost a candidate.
    assert [c.status for c in mine] == ["succeeded"] * 6 and summary.rejected == summary.invalid == 0
    # The first round fills both slots (the second proposal repaired); after that the steady-state loop
    # interleaves lessons and proposals as jobs end, in an order that depends on which job ends first.
    assert breeder.kinds[:3] == ["propose", "propose", "repair"] and breeder.kinds[3] == "lesson"
    assert breeder.kinds.count("propose") == 6 and breeder.kinds.count("repair") == 2 and breeder.kinds.count("lesson") == 6
    repairs = [m[-1]["content"] for m in asked if m[-1]["content"].startswith("Your reply could not be used")]
    assert "the JSON is not valid" in repairs[0] and f"this recipe is exactly {first.id}'s (search fitness" in repairs[1]
    assert second.proposer.params["repairs"][0].startswith("the JSON is not valid")

    # The two prompts of the first round differ: the second lists the first proposal as in flight.
    round_one = [m[0]["content"] for m in asked[:2]]
    assert round_one[0] != round_one[1]
    assert (
        "proposed just before this one, in the same round: task_arithmetic base=base: adder(weight 0.8), reverser(weight 0.8), "
        "sorter(weight 0.8)" in round_one[1]
    )

    # The repaired third proposal says what it built on (the session's best, read from its prompt): that is its parent.
    third = mine[2]
    assert third.genotype.recipe["models"][1]["model"] == "sorter" and len(third.genotype.recipe["models"]) == 2
    best_before = max((c for c in mine[:2]), key=lambda c: c.fitness("search"))
    assert third.parents == [best_before.id]

    # Prose, a bare object and fenced JSON all became the recipes the model wrote.
    assert weights(fourth.genotype.recipe) == {"adder": 0.5, "reverser": 0.5, "sorter": 0.5}
    assert (fifth.proposer.rationale, sixth.proposer.rationale) == (FIFTH["rationale"], SIXTH["rationale"])

    # Lessons came from the model and were shown in later prompts; each candidate carries its own spend.
    assert all(c.lesson.startswith("Lesson ") for c in mine)
    later = [m[0]["content"] for m in asked if m[0]["content"].startswith("You are the breeder in Clade")][-1]
    assert f"- {first.id}: Lesson " in later and "the session's last proposal" in later
    assert re.search(r"Candidates: [45] of 6 used", later)  # 5 when the other slot's job ended first (steady state)
    assert all(c.cost.llm_tokens > 0 for c in mine) and second.cost.llm_tokens > first.cost.llm_tokens  # its repair was paid

    # The report names its splits and gives intervals over examples.
    assert summary.best_id == max(mine, key=lambda c: c.fitness("search")).id
    assert summary.best_test_interval is not None and summary.vs_best_search_source.interval is not None
    assert summary.best_fitness == summary.best_test_fitness
