"""The chat panel talks to the same ChatAgent as `clade chat`, here with a ScriptedModel."""

from __future__ import annotations

import json

from agents.errors import LLMUnavailable
from agents.llm.scripted import ScriptedModel
from tests.ui.conftest import serve


def test_a_question_goes_to_the_planner_and_its_tool_calls_come_back(workspace_dir, lineage):
    model = ScriptedModel(['{"tool": "query_candidates", "args": {"status": "failed"}}', '{"answer": "one merge failed: out of memory"}'])
    running = serve(workspace_dir, model=model)
    try:
        assert running.get("/api/chat")[1] == {"available": True, "message": None, "turns": []}
        status, turn = running.post("/api/chat", {"text": "what failed?"})
        assert status == 200 and turn["user"] == "what failed?" and turn["reply"] == "one merge failed: out of memory"
        assert [a["tool"] for a in turn["actions"]] == ["query_candidates"]
        assert lineage["failed"] in json.dumps(turn["actions"][0]["result"])
        assert "what failed?" in model.calls[0][-1]["content"]
        assert running.get("/api/chat")[1]["turns"] == [turn]
    finally:
        running.stop()


def test_without_an_llm_the_panel_says_so_and_the_rest_works(running):
    # `running` has a model injected; a workspace with no planner.llm and no model is the case here
    running.server.state.chat.model = None
    status, d = running.get("/api/chat")
    assert d["available"] is False and "no LLM configured" in d["message"]
    status, d = running.post("/api/chat", {"text": "hello"})
    assert status == 400 and "no LLM configured" in d["error"]
    assert running.get("/api/overview")[0] == 200


def test_an_unreachable_llm_is_a_503_with_its_reason(workspace_dir, lineage):
    running = serve(workspace_dir, model=ScriptedModel([LLMUnavailable("llm: connection refused by http://localhost:9/v1")]))
    try:
        status, d = running.post("/api/chat", {"text": "hi"})
        assert status == 503 and "connection refused" in d["error"]
        assert running.get("/api/chat")[1]["turns"] == []
    finally:
        running.stop()


def test_an_empty_message_is_refused(running):
    status, d = running.post("/api/chat", {"text": ""})
    assert status == 400 and d["error"].startswith("chat: field text")
