"""Issue 18 item 1: every place an LLM is used takes `scripted:FILE`, each example that mentions a
reply file ships it, and a failed chat turn exits non-zero."""

from __future__ import annotations

import io
import json
import re

import yaml

from agents.init_cmd import EXAMPLES, EXAMPLES_DIR, NEXT_STEPS
from agents.llm.config import LLMConfig
from agents.llm.scripted_file import load_scripted
from agents.planner_config import PlannerConfig
from tests.review.fixtures import clade
from tests.ui.conftest import serve
from tools.edit.apply import apply_edits
from tools.edit.parse import parse_edits

ANSWER = json.dumps({"answer": "the best is ta"})


def reply_file(root, items) -> str:
    (root / "replies.json").write_text(json.dumps(items))
    return "scripted:replies.json"


def set_llm(root, model: str) -> None:
    config = yaml.safe_load((root / "clade.yaml").read_text())
    config["planner"] = {"strategy": "evolution", "llm": {"model": model}}
    (root / "clade.yaml").write_text(yaml.safe_dump(config))


def test_chat_replays_a_scripted_model_named_in_clade_yaml(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    set_llm(ws.root, reply_file(ws.root, [json.dumps({"tool": "show", "args": {"id": "adder"}}), ANSWER]))
    assert clade(monkeypatch, "chat", "-m", "which is best?", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out
    assert "[show]" in out and "-> ok" in out and out.rstrip().endswith("planner> the best is ta")


def test_chat_model_flag_overrides_clade_yaml_without_an_llm_there(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    model = reply_file(ws.root, [ANSWER])
    assert clade(monkeypatch, "chat", "--model", model, "-m", "hi", "--workspace", str(ws.root)) == 0
    assert capsys.readouterr().out.strip() == "planner> the best is ta"


def test_a_missing_reply_file_is_one_line_and_exit_2(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    assert clade(monkeypatch, "chat", "--model", "scripted:nowhere.json", "-m", "hi", "--workspace", str(ws.root)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere.json" in err


def test_a_failed_repl_question_makes_the_exit_code_non_zero(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    model = reply_file(ws.root, [ANSWER])  # one reply: the second question finds the file run out
    monkeypatch.setattr("sys.stdin", io.StringIO("first\nsecond\n"))
    assert clade(monkeypatch, "chat", "--model", model, "--workspace", str(ws.root)) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["planner> the best is ta"]
    assert "no reply left" in captured.err and "Traceback" not in captured.err


def test_a_failed_one_shot_question_exits_non_zero_with_one_line(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    model = reply_file(ws.root, [[{"if": "never in the prompt", "reply": ANSWER}]])
    assert clade(monkeypatch, "chat", "--model", model, "-m", "hi", "--workspace", str(ws.root)) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no rule of this reply matches" in err and "replies.json" in err


def test_the_page_chat_replays_a_scripted_model(zoo):
    ws, archive, ids = zoo
    model = reply_file(ws.root, [json.dumps({"tool": "lineage", "args": {"id": "sorter"}}), ANSWER])
    running = serve(ws.root, llm=LLMConfig(model=model))
    try:
        assert running.get("/api/chat")[1]["available"] is True
        status, turn = running.post("/api/chat", {"text": "where does sorter lead?"})
        assert status == 200 and turn["reply"] == "the best is ta" and turn["actions"][0]["result"]["id"] == ids["sorter"]
        status, body = running.post("/api/chat", {"text": "and then?"})
        assert status == 503 and "no reply left" in body["error"]
    finally:
        running.stop()


def mentioned_reply_files(example: str) -> set[str]:
    texts = [(EXAMPLES_DIR / example / name).read_text() for name in ("README.md", "clade.yaml")] + [NEXT_STEPS.get(example, "")]
    return {m for text in texts for m in re.findall(r"scripted:([\w./-]+\.json)", text)}


def test_every_example_ships_the_reply_files_it_mentions():
    mentioned = {example: mentioned_reply_files(example) for example in EXAMPLES}
    assert all(mentioned.values()), f"an example mentions no reply file: {mentioned}"
    for example, files in mentioned.items():
        for name in files:
            model = load_scripted(f"scripted:{name}", EXAMPLES_DIR / example)
            assert model.script, f"{example}/{name} holds no replies"


def test_the_self_improve_replies_edit_planner_yaml_into_valid_settings():
    root = EXAMPLES_DIR / "self-improve"
    seed = {"planner.yaml": (root / "planner" / "planner.yaml").read_text()}
    edits = {
        rule["reply"]
        for item in json.loads((root / "offline-replies.json").read_text())
        for rule in item
        if rule.get("if") == "edit blocks"
    }
    assert len(edits) >= 3
    for reply in edits:
        outcome = apply_edits(seed, parse_edits(reply), editable=["planner.yaml"])
        assert outcome.ok and outcome.files != seed
        PlannerConfig.model_validate(yaml.safe_load(outcome.files["planner.yaml"]))


def test_the_tiny_zoo_chat_replies_drive_three_questions(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    (ws.root / "chat-replies.json").write_text((EXAMPLES_DIR / "tiny-zoo" / "chat-replies.json").read_text())
    monkeypatch.setattr("sys.stdin", io.StringIO("best?\nsorter?\nfailures?\n"))
    assert clade(monkeypatch, "chat", "--model", "scripted:chat-replies.json", "--workspace", str(ws.root)) == 0
    out = capsys.readouterr().out
    assert out.count("planner> ") == 3 and "[query_candidates]" in out and "[failures]" in out
    assert "[lineage]" in out and "error" not in out


def test_ui_reads_a_scripted_reply_file_at_start(zoo, monkeypatch, capsys):
    ws, archive, ids = zoo
    assert clade(monkeypatch, "ui", "--model", "scripted:missing.json", "--port", "0", "--workspace", str(ws.root)) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and "missing.json" in captured.err
