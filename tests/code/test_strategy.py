import random

import pytest

from agents.budget import Budget, BudgetConfig
from agents.code.jobs import seed_files
from agents.code.strategy import CodeStrategy
from agents.errors import BudgetExceeded
from agents.llm.scripted import ScriptedModel
from agents.planner_config import PlannerConfig
from agents.strategy import Context
from tests.code.conftest import edit, make_workspace, record_child, record_seed

DIAGNOSIS = "The answer is too small: VALUE is 1. Raise VALUE."
GOOD = edit("VALUE = 1", "VALUE = 4")


def context(ws, archive, model, parents, budget=None, wanted=1):
    return Context(
        workspace=ws,
        archive=archive,
        session="s1",
        budget=budget or Budget(BudgetConfig()),
        rng=random.Random(0),
        wanted=wanted,
        parents=parents,
        summary="(summary)",
        brief="make it bigger",
        lessons=["bigger helped"],
        model=model,
    )


def strategy(ws, **planner):
    return CodeStrategy(PlannerConfig.model_validate({**ws.config.planner.model_dump(), **planner}), ws)


def test_mutate_diagnoses_then_edits_the_parent(workspace, archive):
    seed = record_seed(archive, seed_files(workspace), logs="evaluating on search\nTRACE-OF-THE-LOG\n")
    model = ScriptedModel([DIAGNOSIS, GOOD])
    [p] = strategy(workspace).propose(context(workspace, archive, model, [seed]))
    assert p.invalid is None and p.kind == "code" and p.parents == [seed] and p.strategy == "code"
    assert p.genotype["files"]["solution.py"].startswith("VALUE = 4\n") and p.genotype["files"]["README.txt"] == "not editable\n"
    assert p.genotype["command"] == workspace.config.code.command
    assert p.params["operator"] == "mutate" and p.params["diagnosis"] == DIAGNOSIS
    assert p.rationale == "Raise the value." and p.cost.llm_tokens == 20 and p.template_hash
    assert "TRACE-OF-THE-LOG" in model.calls[0][-1]["content"]  # the diagnosis read the evaluation log
    assert DIAGNOSIS in model.calls[1][-1]["content"] and "<<<<<<< SEARCH" in model.calls[1][0]["content"]


def test_a_failed_block_goes_back_with_the_closest_lines_and_is_then_fixed(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False)
    seed = record_seed(archive, seed_files(ws))
    model = ScriptedModel([edit("VALUE = 2", "VALUE = 5"), GOOD])
    [p] = strategy(ws).propose(context(ws, archive, model, [seed]))
    assert p.invalid is None and p.params["rounds"] == 2 and p.genotype["files"]["solution.py"].startswith("VALUE = 4\n")
    repair = model.calls[1][-1]["content"]
    assert "block 1 (solution.py) failed" in repair and "   1| VALUE = 1" in repair


def test_an_edit_still_failing_after_the_repair_rounds_is_invalid_with_its_reason(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False)
    seed = record_seed(archive, seed_files(ws))
    bad = [edit("VALUE = 9", "VALUE = 5"), "I cannot decide.", edit("VALUE = 9", "VALUE = 5"), edit("nope", "x", path="../x.py")]
    model = ScriptedModel(bad)
    [p] = strategy(ws).propose(context(ws, archive, model, [seed]))
    assert len(model.calls) == 4  # one reply and planner.repair_rounds (3) repairs
    assert p.invalid.startswith("no valid edit after 4 LLM replies; last problem:") and "not a plain relative path" in p.invalid
    assert p.cost.llm_tokens == 40 and len(p.params["problems"]) == 4
    assert "no edit blocks found" in p.params["problems"][1]
    assert p.params["last_reply"] == bad[-1] and p.genotype["files"] == seed_files(ws)


def test_crossover_shows_both_parents_and_their_diffs_and_keeps_both(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False)
    files = seed_files(ws)
    seed = record_seed(archive, files)
    a = record_child(
        archive, seed, {**files, "solution.py": files["solution.py"].replace("VALUE = 1", "VALUE = 3")}, 0.3, ws.config.code.command
    )
    b = record_child(archive, seed, {**files, "solution.py": files["solution.py"] + "\n\nBONUS = 2\n"}, 0.2, ws.config.code.command)
    model = ScriptedModel([edit("    return VALUE", "    return VALUE + 2")])
    [p] = strategy(ws, selection={"rule": "dgm", "parents": 2}).propose(context(ws, archive, model, [a, b]))
    assert p.invalid is None and p.parents == [a, b] and p.params["operator"] == "crossover"
    prompt = model.calls[0][-1]["content"]
    assert "+BONUS = 2" in prompt and "+VALUE = 3" in prompt and "return VALUE + 2" in p.genotype["files"]["solution.py"]


def test_a_child_identical_to_an_archived_one_is_sent_back(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False)
    files = seed_files(ws)
    seed = record_seed(archive, files)
    twin = record_child(
        archive, seed, {**files, "solution.py": files["solution.py"].replace("VALUE = 1", "VALUE = 4")}, 0.4, ws.config.code.command
    )
    model = ScriptedModel([GOOD, edit("VALUE = 1", "VALUE = 6")])
    [p] = strategy(ws).propose(context(ws, archive, model, [seed]))
    assert f"identical to archived candidate {twin}" in model.calls[1][-1]["content"]
    assert p.invalid is None and p.genotype["files"]["solution.py"].startswith("VALUE = 6")


def test_a_child_too_similar_to_its_parent_is_rejected_by_the_threshold(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False, novelty={"max_similarity": 0.5})
    seed = record_seed(archive, seed_files(ws))
    model = ScriptedModel([GOOD] * 4)
    [p] = strategy(ws).propose(context(ws, archive, model, [seed]))
    assert "too small" in p.invalid and "max_similarity is 0.5" in p.invalid


def test_the_budget_is_checked_before_every_llm_call_and_a_paid_reply_is_kept(workspace, archive):
    """The diagnosis is paid for, then the budget refuses the edit: the proposal is invalid with that spend."""
    seed = record_seed(archive, seed_files(workspace))
    budget = Budget(BudgetConfig(tokens=10))
    model = ScriptedModel([DIAGNOSIS, GOOD])
    [p] = strategy(workspace).propose(context(workspace, archive, model, [seed], budget=budget))
    assert len(model.calls) == 1 and budget.spent.tokens == 10
    assert p.invalid.startswith("stopped by the budget after 1 paid reply") and "tokens" in p.invalid
    assert p.cost.llm_tokens == 10 and p.params["llm_replies"] == 1 and p.genotype["files"] == seed_files(workspace)


def test_nothing_paid_for_propagates_the_limit(workspace, archive):
    seed = record_seed(archive, seed_files(workspace))
    budget = Budget(BudgetConfig(tokens=10))
    budget.charge_llm(10, 0.0)
    with pytest.raises(BudgetExceeded, match="tokens"):
        strategy(workspace).propose(context(workspace, archive, ScriptedModel([DIAGNOSIS, GOOD]), [seed], budget=budget))


def test_proposals_finished_before_a_failure_in_the_same_round_are_kept(workspace, archive):
    """Two wanted; the first is made (diagnosis + edit), the LLM fails on the second's first call:
    the first is returned, and the failure waits for the next call."""
    from agents.errors import LLMUnavailable

    class Failing(ScriptedModel):
        def query(self, messages):
            if len(self.calls) >= 2:
                self.calls.append(messages)
                raise LLMUnavailable("scripted outage")
            return super().query(messages)

    seed = record_seed(archive, seed_files(workspace))
    model = Failing([DIAGNOSIS, GOOD])
    proposals = strategy(workspace).propose(context(workspace, archive, model, [seed], wanted=2))
    assert len(proposals) == 1 and proposals[0].invalid is None and proposals[0].cost.llm_tokens == 20


def test_a_failure_after_paid_replies_of_a_later_proposal_keeps_both(workspace, archive):
    """Two wanted; the second proposal's diagnosis is paid for, then the LLM fails: both are returned,
    the second invalid with its spend."""
    from agents.errors import LLMUnavailable

    class Failing(ScriptedModel):
        def query(self, messages):
            if len(self.calls) >= 3:
                self.calls.append(messages)
                raise LLMUnavailable("scripted outage")
            return super().query(messages)

    seed = record_seed(archive, seed_files(workspace))
    first, second = strategy(workspace).propose(context(workspace, archive, Failing([DIAGNOSIS, GOOD, DIAGNOSIS]), [seed], wanted=2))
    assert first.invalid is None and first.cost.llm_tokens == 20
    assert second.invalid.startswith("the LLM failed after 1 paid reply") and second.cost.llm_tokens == 10


def test_without_parents_the_seed_source_is_edited(workspace, archive):
    seed = record_seed(archive, seed_files(workspace))
    ctx = context(workspace, archive, ScriptedModel([DIAGNOSIS, GOOD]), [])
    ctx.sources = [archive.get(seed)]
    [p] = strategy(workspace).propose(ctx)
    assert p.parents == [seed] and p.invalid is None


def test_a_block_sent_again_in_a_repair_round_is_not_applied_twice(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False)
    seed = record_seed(archive, seed_files(ws))
    add = "solution.py\n<<<<<<< SEARCH\nVALUE = 1\n=======\nVALUE = 1\nEXTRA = 2\n>>>>>>> REPLACE\n"  # "add after": REPLACE holds SEARCH
    wrong = "solution.py\n<<<<<<< SEARCH\nreturn NOPE\n=======\nreturn VALUE * 2\n>>>>>>> REPLACE\n"
    right = "solution.py\n<<<<<<< SEARCH\n    return VALUE\n=======\n    return VALUE * 2\n>>>>>>> REPLACE\n"
    model = ScriptedModel([f"Two changes.\n\n{add}\n{wrong}", f"Both again.\n\n{add}\n{right}"])
    [p] = strategy(ws).propose(context(ws, archive, model, [seed]))
    assert p.invalid is None, p.invalid
    assert p.genotype["files"]["solution.py"] == "VALUE = 1\nEXTRA = 2\n\n\ndef answer():\n    return VALUE * 2\n"


def test_a_child_too_large_to_show_as_a_parent_later_is_sent_back(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False, prompt_chars=200)
    seed = record_seed(archive, seed_files(ws))
    huge = edit("VALUE = 1", "VALUE = 1\n" + "# padding\n" * 30)
    model = ScriptedModel([huge, GOOD])
    [p] = strategy(ws).propose(context(ws, archive, model, [seed]))
    assert p.invalid is None and p.genotype["files"]["solution.py"].startswith("VALUE = 4\n")
    assert "over the limit of 200" in model.calls[1][-1]["content"]


def test_a_child_that_reverts_to_the_seed_is_sent_back(tmp_path, archive):
    ws = make_workspace(tmp_path / "ws", diagnose=False)
    seed = record_seed(archive, seed_files(ws))
    child = record_child(
        archive, seed, {**seed_files(ws), "solution.py": "VALUE = 4\n\n\ndef answer():\n    return VALUE\n"}, 0.4, ws.config.code.command
    )
    model = ScriptedModel([edit("VALUE = 4", "VALUE = 1"), edit("VALUE = 4", "VALUE = 6")])
    [p] = strategy(ws).propose(context(ws, archive, model, [child]))
    assert f"identical to archived candidate {seed}" in model.calls[1][-1]["content"]
    assert p.genotype["files"]["solution.py"].startswith("VALUE = 6\n")
