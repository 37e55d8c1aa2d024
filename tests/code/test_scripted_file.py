import json

import pytest

from agents.llm.scripted_file import is_scripted, load_scripted
from tools.errors import BadInput


def test_replies_and_rules_replay_in_order(tmp_path):
    (tmp_path / "replies.json").write_text(json.dumps(["first", [{"if": "Diagnose", "reply": "d"}, {"reply": "edit"}]] * 1))
    model = load_scripted("scripted:replies.json", tmp_path)
    assert is_scripted(model.name)
    assert model.query([{"role": "user", "content": "x"}]).text == "first"
    assert model.query([{"role": "user", "content": "Diagnose it"}]).text == "d"


def test_a_bad_file_is_bad_input_naming_it(tmp_path):
    (tmp_path / "r.json").write_text("{")
    with pytest.raises(BadInput, match="r.json"):
        load_scripted("scripted:r.json", tmp_path)
