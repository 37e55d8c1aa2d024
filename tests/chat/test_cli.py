from __future__ import annotations

import io
import json

import yaml

from tests.llm_stub import StubServer
from tests.review.fixtures import clade

KEY = "sk-test-0123456789abcdef"


def with_llm(ws, api_base: str) -> None:
    path = ws.root / "clade.yaml"
    config = yaml.safe_load(path.read_text())
    config["planner"] = {"llm": {"model": "openai/stub", "api_base": api_base, "api_key_env": "CLADE_TEST_KEY", "max_retries": 0}}
    path.write_text(yaml.safe_dump(config))


def test_without_an_llm_chat_says_so_in_one_line_and_exits_2(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    assert clade(monkeypatch, "chat", "--message", "hi", "--workspace", str(ws.root)) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "no planner.llm configured" in captured.err
    assert not (ws.root / ".clade" / "chat").exists()


def test_chat_through_the_openai_compatible_stub_server(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    monkeypatch.setenv("CLADE_TEST_KEY", KEY)
    with StubServer() as stub:
        with_llm(ws, stub.url)
        stub.reply(json.dumps({"tool": "show", "args": {"id": ids["ta"]}}))
        stub.reply(json.dumps({"tool": "edit_brief", "args": {"append": f"Prefer task arithmetic (key {KEY})."}}))
        stub.reply(json.dumps({"answer": f"{ids['ta']} scores 0.55 on the held-out split; brief updated."}))
        assert clade(monkeypatch, "chat", "--message", "how good is the task arithmetic merge?", "--workspace", str(ws.root)) == 0
        requests = stub.requests
    out = capsys.readouterr().out
    assert f'  [show] {{"id": "{ids["ta"]}"}} -> ok' in out
    assert "[edit_brief]" in out and "brief.md rewritten (0 ->" in out
    assert out.rstrip().endswith(f"planner> {ids['ta']} scores 0.55 on the held-out split; brief updated.")
    assert len(requests) == 3 and requests[0].headers.get("Authorization") == f"Bearer {KEY}"
    assert requests[0].messages[0]["role"] == "system" and ids["ta"] in requests[0].messages[0]["content"]
    assert '"fitness": 0.55' in requests[1].messages[-1]["content"]  # the show result went back to the model
    assert "Prefer task arithmetic" in (ws.root / "brief.md").read_text()
    log = (ws.root / ".clade" / "chat" / "actions.jsonl").read_text()
    assert [json.loads(line)["tool"] for line in log.splitlines()] == ["show", "edit_brief"] and KEY not in log


def test_the_repl_reads_questions_until_eof(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    monkeypatch.setenv("CLADE_TEST_KEY", KEY)
    with StubServer() as stub:
        with_llm(ws, stub.url)
        stub.reply('{"answer": "one"}')
        stub.reply("not json")
        stub.reply('{"answer": "two"}')
        monkeypatch.setattr("sys.stdin", io.StringIO("first\n\nsecond\n"))
        assert clade(monkeypatch, "chat", "--workspace", str(ws.root)) == 0
    assert capsys.readouterr().out.splitlines() == ["planner> one", "planner> two"]
