"""`ChatAgent`: a conversation with the planner about the archive, answering through tools.

Protocol: the model replies with one JSON object per step, `{"tool": NAME, "args": {...}}`
(the tool runs, its result goes back, the model is asked again) or `{"answer": "..."}`.
A reply that is not such an object gets one repair message (`max_repairs` per question);
a question takes at most `max_steps` tool calls. Every tool call is an action: shown
through `on_action` as it happens, appended to `<workspace>/.clade/chat/actions.jsonl`
(secrets redacted) and returned in the turn. The token budget is checked before every
model call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from agents.chat.brief import read_brief
from agents.chat.log import ActionLog
from agents.chat.tools import TOOL_DOCS, ChatTools
from agents.errors import BudgetExceeded
from archive.record import utcnow
from tools.errors import CladeError

SUMMARY_TOKENS = 1500
DEFAULT_MAX_TOKENS = 200_000
RESULT_CHARS = 12_000  # of one tool result, as sent to the model


class ChatAction(BaseModel):
    tool: str
    args: dict[str, Any]
    result: Any
    at: datetime = Field(default_factory=utcnow)


class ChatTurn(BaseModel):
    reply: str
    actions: list[ChatAction] = Field(default_factory=list)
    tokens: int = 0


class ChatFailed(CladeError):
    """The model gave no usable answer (malformed replies or too many tool calls)."""


class ChatAgent:
    def __init__(
        self,
        model,
        workspace,
        archive,
        *,
        who: str,
        max_steps: int = 8,
        max_repairs: int = 2,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        sandbox=None,
        on_action: Callable[[ChatAction], None] | None = None,
    ):
        self.model, self.workspace, self.archive, self.who = model, workspace, archive, who
        self.max_steps, self.max_repairs, self.max_tokens = max_steps, max_repairs, max_tokens
        self.tools = ChatTools(workspace, archive, who=who, sandbox=sandbox)
        self.tools.model_name = model.name
        self.log = ActionLog(workspace.root / ".clade" / "chat" / "actions.jsonl", archive.redactor)
        self.on_action = on_action
        self.history: list[dict[str, str]] = []  # user and assistant messages, tool results included
        self.tokens = 0

    def send(self, text: str) -> ChatTurn:
        """One question: tool calls until the model answers. Raises BudgetExceeded or ChatFailed."""
        self.history.append({"role": "user", "content": text})
        turn, repairs = ChatTurn(reply=""), 0
        while True:
            reply = self._ask()
            turn.tokens += reply.tokens
            parsed = parse_reply(reply.text)
            if isinstance(parsed, str):
                repairs += 1
                self._repair(parsed, repairs)
            elif "answer" in parsed:
                turn.reply = parsed["answer"]
                return turn
            elif len(turn.actions) == self.max_steps:
                raise ChatFailed(f"chat: the model made {self.max_steps} tool calls without answering; ask a narrower question")
            else:
                turn.actions.append(self._act(parsed["tool"], parsed["args"]))

    def _repair(self, problem: str, repairs: int) -> None:
        if repairs > self.max_repairs:
            raise ChatFailed(
                f"chat: the model's reply was still not a JSON tool call or answer after {self.max_repairs} repair(s): {problem}"
            )
        self.history.append(
            {
                "role": "user",
                "content": f"Your reply was not understood: {problem}. Reply with one JSON object: "
                '{"tool": NAME, "args": {...}} or {"answer": "..."}.',
            }
        )

    def _ask(self):
        if self.max_tokens is not None and self.tokens >= self.max_tokens:
            raise BudgetExceeded(f"chat tokens: {self.tokens} of {self.max_tokens} used (start a new chat or raise --max-tokens)")
        reply = self.model.query([{"role": "system", "content": self._system()}, *self.history])
        self.tokens += reply.tokens
        self.history.append({"role": "assistant", "content": reply.text})
        return reply

    def _system(self) -> str:
        from agents.prompts import render

        rendered = render(
            "chat_system.md",
            who=self.who,
            workspace=self.workspace.config.name,
            tools=TOOL_DOCS,
            max_steps=self.max_steps,
            models=", ".join(self.workspace.model_paths()) or "(none declared)",
            brief=read_brief(self.workspace).strip() or "(no brief yet)",
            summary=self.archive.summary(max_tokens=SUMMARY_TOKENS),
        )
        self.tools.template_hash = rendered.template_hash
        return rendered.text

    def _act(self, tool: str, args: dict[str, Any]) -> ChatAction:
        try:
            result = self.tools.run(tool, args)
        except Exception as exc:  # it may have changed the archive or the brief already: shown and recorded, then raised
            action = ChatAction(tool=tool, args=args, result={"error": f"{type(exc).__name__}: {exc}"})
            self._record(action)
            raise
        action = ChatAction(tool=tool, args=args, result=result)
        self._record(action)
        self.history.append({"role": "user", "content": f"Result of {tool}:\n{result_text(action.result)}"})
        return action

    def _record(self, action: ChatAction) -> None:
        self.log.append(action, who=self.who)
        if self.on_action is not None:
            self.on_action(action)


def result_text(result: Any) -> str:
    """A tool result as the model sees it: JSON, cut at RESULT_CHARS (saying how much was left out)."""
    text = json.dumps(result, default=str, ensure_ascii=False)
    if len(text) <= RESULT_CHARS:
        return text
    return text[:RESULT_CHARS] + f"\n[... {len(text) - RESULT_CHARS} more characters left out; ask for less, e.g. a smaller top]"


FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


def parse_reply(text: str) -> dict[str, Any] | str:
    """The reply as {"answer": str} or {"tool": str, "args": dict}; else a string saying what is wrong."""
    body = text.strip()
    fenced = FENCE.match(body)
    body = fenced.group(1) if fenced else body
    try:
        data = json.loads(body)
    except ValueError as exc:
        return f"not JSON ({exc})"
    if not isinstance(data, dict):
        return "a JSON value that is not an object"
    if isinstance(data.get("answer"), str) and set(data) == {"answer"}:
        return data
    if isinstance(data.get("tool"), str) and isinstance(data.get("args", {}), dict) and set(data) <= {"tool", "args"}:
        return {"tool": data["tool"], "args": data.get("args", {})}
    return 'an object that is neither {"answer": text} nor {"tool": name, "args": {...}}'
