"""`planner.llm.model: scripted:<file>`: a ScriptedModel replaying replies from a JSON file.

For offline demos and CLI end-to-end tests (`clade run --planner llm` with no network). The
file holds a JSON list; each item is a reply text, or `{"if": TEXT, "reply": TEXT}` rules
in a list, answered by the first rule whose `if` occurs in the last message (a rule with
no `if` matches anything). Items are used in order, one per query; running out is an error.
The path is relative to the workspace. Running out of replies, or a reply none of whose rules
matches, raises LLMUnavailable (one line naming the file; a command exits non-zero).
"""

from __future__ import annotations

import json
from pathlib import Path

from agents.errors import LLMUnavailable
from agents.llm.scripted import ScriptedModel
from tools.errors import BadInput

PREFIX = "scripted:"


def is_scripted(model: str) -> bool:
    return model.startswith(PREFIX)


def load_scripted(model: str, workspace_root: Path) -> ScriptedModel:
    path = (workspace_root / model[len(PREFIX) :]).resolve()
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"planner.llm.model {model!r}: cannot read {path} as JSON ({exc})") from None
    if not isinstance(items, list) or not all(isinstance(i, (str, list)) for i in items):
        raise BadInput(f'{path}: expected a JSON list of reply texts or rule lists ({{"if": ..., "reply": ...}})')
    return ScriptedModel([_item(i, path) for i in items], name=model, exhausted=LLMUnavailable)


def _item(item, path: Path):
    if isinstance(item, str):
        return item
    rules = [(r.get("if", ""), r["reply"]) for r in item if isinstance(r, dict) and isinstance(r.get("reply"), str)]
    if len(rules) != len(item):
        raise BadInput(f"{path}: every rule needs a string `reply` (and optionally an `if`)")

    def answer(messages) -> str:
        last = messages[-1]["content"] if messages else ""
        for needle, reply in rules:
            if needle in last:
                return reply
        raise LLMUnavailable(f"{path}: no rule of this reply matches the prompt starting {' '.join(last[:120].split())!r}")

    return answer
