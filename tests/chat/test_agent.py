from __future__ import annotations

import json

import pytest

from agents.chat.agent import ChatAgent, ChatFailed, parse_reply
from agents.errors import BudgetExceeded
from agents.llm.scripted import ScriptedModel
from tests.review.fixtures import LINEAR


def agent(zoo, script, **kw):
    ws, archive, ids = zoo
    shown = []
    chat = ChatAgent(ScriptedModel(script), ws, archive, who="ana", on_action=shown.append, **kw)
    return chat, shown


def log_lines(ws):
    path = ws.root / ".clade" / "chat" / "actions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_questions_are_answered_from_the_archive_through_tools(zoo):
    ws, archive, ids = zoo
    script = [
        '{"tool": "query_candidates", "args": {"status": "succeeded", "kind": "merge"}}',
        lambda msgs: json.dumps({"tool": "show", "args": {"id": json.loads(msgs[-1]["content"].split("\n", 1)[1])[0]["id"]}}),
        lambda msgs: json.dumps({"answer": "best is " + json.loads(msgs[-1]["content"].split("\n", 1)[1])["id"]}),
    ]
    chat, shown = agent(zoo, script)
    turn = chat.send("which merge is best?")
    assert turn.reply == f"best is {ids['ta']}"
    assert [a.tool for a in turn.actions] == ["query_candidates", "show"] == [a.tool for a in shown]
    assert turn.actions[1].result["metrics"]["test"]["fitness"] == 0.55
    system = chat.model.calls[0][0]["content"]
    assert ids["ta"] in system and "adder, reverser, sorter, base" in system  # the summary and the models
    assert [e["tool"] for e in log_lines(ws)] == ["query_candidates", "show"] and log_lines(ws)[0]["who"] == "ana"


def test_compare_lineage_failures(zoo):
    ws, archive, ids = zoo
    script = [
        json.dumps({"tool": "compare", "args": {"a": ids["ta"], "b": ids["lin"]}}),
        json.dumps({"tool": "lineage", "args": {"id": ids["lin"]}}),
        json.dumps({"tool": "failures", "args": {"n": 5}}),
        '{"answer": "done"}',
    ]
    chat, _ = agent(zoo, script)
    compare, lineage, failures = (a.result for a in chat.send("tell me").actions)
    assert "-merge_method: task_arithmetic" in compare["diff"] and compare["a"]["metrics"]["search"]["fitness"] == 0.6
    assert {a["name"] for a in lineage["ancestors"]} == {"adder", "sorter"} and lineage["descendants_total"] == 0
    assert failures == [{"id": ids["bad"], "kind": "merge", "status": "failed", "reason": "worker ran out of memory", "by": "llm"}]


def test_propose_records_a_queued_candidate(zoo):
    ws, archive, ids = zoo
    recipe = {
        **LINEAR,
        "models": [{"model": "reverser", "parameters": {"weight": 0.7}}, {"model": "sorter", "parameters": {"weight": 0.3}}],
    }
    script = [json.dumps({"tool": "propose", "args": {"recipe": recipe, "rationale": "more reverser"}}), '{"answer": "queued"}']
    chat, _ = agent(zoo, script)
    result = chat.send("propose 70/30 reverser sorter").actions[0].result
    assert archive.queued() == [result["id"]]
    c = archive.get(result["id"])
    assert c.status == "proposed" and c.proposer.strategy == "chat" and c.proposer.session is None
    assert c.proposer.rationale == "more reverser" and c.proposer.template_hash and c.proposer.model == "scripted"
    assert c.parents == [ids["reverser"], ids["sorter"]] and c.genotype.recipe == recipe


def test_invalid_or_duplicate_proposals_come_back_as_errors_and_record_nothing(zoo):
    ws, archive, ids = zoo
    script = [
        json.dumps({"tool": "propose", "args": {"recipe": {"merge_method": "linear", "models": [{"model": "nobody"}]}}}),
        json.dumps({"tool": "propose", "args": {"recipe": LINEAR}}),
        '{"answer": "sorry"}',
    ]
    chat, _ = agent(zoo, script)
    before = len(archive.candidates())
    first, second = (a.result for a in chat.send("propose").actions)
    assert "nobody" in first["error"]
    assert f"already candidate {ids['lin']}" in second["error"]
    assert len(archive.candidates()) == before and archive.queued() == []


def test_edit_brief_writes_the_file_and_logs_the_action(zoo):
    ws, archive, ids = zoo
    script = [
        '{"tool": "edit_brief", "args": {"text": "Maximise add."}}',
        '{"tool": "edit_brief", "args": {"append": "Keep sort above 0.5."}}',
        '{"answer": "brief updated"}',
    ]
    chat, shown = agent(zoo, script)
    chat.send("set the brief")
    assert (ws.root / "brief.md").read_text() == "Maximise add.\n\nKeep sort above 0.5.\n"
    assert [e["tool"] for e in log_lines(ws)] == ["edit_brief", "edit_brief"]
    assert log_lines(ws)[1]["args"] == {"append": "Keep sort above 0.5."}


def test_a_malformed_reply_gets_one_repair_then_fails(zoo):
    chat, _ = agent(zoo, ["I think adder", '```json\n{"answer": "adder"}\n```'])
    assert chat.send("best?").reply == "adder"
    assert "not understood" in chat.model.calls[1][-1]["content"]
    chat, _ = agent(zoo, ["nope", "still nope"], max_repairs=1)
    with pytest.raises(ChatFailed, match="after 1 repair"):
        chat.send("best?")


def test_tool_steps_and_tokens_are_bounded(zoo):
    chat, _ = agent(zoo, ['{"tool": "failures", "args": {}}'] * 3, max_steps=2)
    with pytest.raises(ChatFailed, match="2 tool calls without answering"):
        chat.send("loop")
    chat, _ = agent(zoo, ['{"answer": "a"}', '{"answer": "b"}'], max_tokens=10)
    chat.send("one")
    with pytest.raises(BudgetExceeded, match="10 of 10"):
        chat.send("two")


@pytest.mark.parametrize(
    "text, ok",
    [
        ('{"answer": "x"}', True),
        ('{"tool": "show", "args": {"id": "ab12"}}', True),
        ('{"tool": "show"}', True),
        ("[1]", False),
        ('{"answer": 3}', False),
        ('{"answer": "x", "tool": "show"}', False),
        ('sure! {"answer": "x"}', False),
    ],
)
def test_parse_reply(text, ok):
    assert isinstance(parse_reply(text), dict) == ok


def test_run_now_runs_the_proposal_through_the_local_sandbox_and_attaches_its_result(zoo):
    ws, archive, ids = zoo
    recipe = {**LINEAR, "models": [{"model": "adder", "parameters": {"weight": 0.9}}, {"model": "sorter", "parameters": {"weight": 0.1}}]}
    script = [
        json.dumps({"tool": "propose", "args": {"recipe": recipe, "rationale": "mostly adder", "run_now": True}}),
        '{"answer": "ran"}',
    ]
    chat, _ = agent(zoo, script)
    result = chat.send("try 90/10 adder sorter now").actions[0].result
    c = archive.get(result["id"])
    assert c.status == "succeeded" and result["status"] == "succeeded", c.reason
    assert 0.0 <= c.fitness("search") <= 1.0 and result["fitness"] == c.fitness("search")
    assert set(c.metrics["search"].tasks) == {"add", "reverse", "sort"} and c.cost.compute_s > 0
    assert archive.queued() == []


def test_a_code_proposal_in_a_merge_workspace_is_refused_and_nothing_is_queued(zoo):
    from tests.review.fixtures import add_code

    ws, archive, ids = zoo
    src, child = add_code(archive)
    edit = {
        "kind": "code",
        "parents": [child],
        "files": {"train.py": "lr = 0.02\n"},
        "rationale": "lower lr",
        "command": ["python", "train.py"],
    }
    chat, _ = agent(zoo, [json.dumps({"tool": "propose", "args": edit}), '{"answer": "refused"}'])
    [refused] = (a.result for a in chat.send("lower the lr").actions)
    assert "no code: section" in refused["error"] and archive.queued() == []


def test_a_long_tool_result_reaches_the_model_cut_and_says_so():
    from agents.chat.agent import RESULT_CHARS, result_text

    text = result_text(["x" * 100] * 500)
    assert len(text) < RESULT_CHARS + 200 and text.endswith("ask for less, e.g. a smaller top]")
    assert f"[... {len(json.dumps(['x' * 100] * 500)) - RESULT_CHARS} more characters left out" in text


def test_run_now_records_a_failed_job_and_a_sandbox_that_cannot_start(zoo):
    from sandbox.fake import FakeSandbox
    from tools.errors import BadInput

    def refuse(job):
        raise BadInput("sandbox.backend docker: docker is not installed")

    ws, archive, ids = zoo
    for sandbox, reason in (
        (FakeSandbox(), "FakeSandbox has no scripted result"),
        (FakeSandbox(refuse), "the sandbox could not run it: sandbox.backend docker"),
    ):
        weight = 0.8 if reason.startswith("Fake") else 0.7
        recipe = {
            **LINEAR,
            "models": [{"model": "adder", "parameters": {"weight": weight}}, {"model": "sorter", "parameters": {"weight": 0.2}}],
        }
        script = [json.dumps({"tool": "propose", "args": {"recipe": recipe, "run_now": True}}), '{"answer": "done"}']
        chat, _ = agent(zoo, script, sandbox=sandbox)
        result = chat.send("run it").actions[0].result
        failed = [c for c in archive.candidates(status="failed") if c.id != ids["bad"]]
        assert any(reason in archive.get(c.id).reason for c in failed), [archive.get(c.id).reason for c in failed]
        assert result["status"] == "failed" and reason in result["reason"]
        assert sandbox.jobs and sandbox.jobs[0].seed == ws.config.planner.seed


def test_an_action_that_breaks_midway_is_still_shown_and_recorded(zoo):
    ws, _, _ = zoo
    (ws.root / "brief.md").mkdir()  # the brief cannot be written: the tool raises an OSError
    chat, shown = agent(zoo, ['{"tool": "edit_brief", "args": {"text": "Maximise add."}}'])
    with pytest.raises(OSError):
        chat.send("set the brief")
    assert [a.tool for a in shown] == ["edit_brief"] and "Error" in shown[0].result["error"]
    assert [e["tool"] for e in log_lines(ws)] == ["edit_brief"]


def test_a_key_pasted_into_the_chat_never_reaches_the_brief(zoo):
    ws, _, _ = zoo
    key = "sk-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4"
    chat, _ = agent(zoo, [json.dumps({"tool": "edit_brief", "args": {"text": f"use key {key}"}}), '{"answer": "done"}'])
    chat.send("remember my key")
    brief = (ws.root / "brief.md").read_text()
    assert key not in brief and "[REDACTED]" in brief
