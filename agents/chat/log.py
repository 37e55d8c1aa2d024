"""The chat's action log: `<workspace>/.clade/chat/actions.jsonl`, one JSON line per tool call.

Each line: at, who, tool, args, result (a summary: long results are cut, saying how much).
Every string is passed through the archive's redactor, so an API key never lands here.
"""

from __future__ import annotations

import json
from pathlib import Path

RESULT_CHARS = 1000


class ActionLog:
    def __init__(self, path: Path, redactor):
        self.path, self.redactor = path, redactor

    def append(self, action, *, who: str) -> None:
        result = json.dumps(action.result, default=str, ensure_ascii=False)
        if len(result) > RESULT_CHARS:
            result = result[:RESULT_CHARS] + f" [... {len(result) - RESULT_CHARS} more characters]"
        line = {"at": action.at.isoformat(), "who": who, "tool": action.tool, "args": action.args, "result": result}
        text = json.dumps(self.redactor.data(line), default=str, ensure_ascii=False)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")
