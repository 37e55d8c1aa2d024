"""A model that replays canned replies: what agent tests (and offline demos) use.

Each script item is a reply text, an exception to raise (e.g. LLMUnavailable), or a
function of the messages returning a text. Every query is kept in `calls`, so a test can
assert what the planner showed the model. Running out of script is an error, never a
silent empty reply: an AssertionError in tests, or the `exhausted` exception given (a
reply file replayed by a command raises LLMUnavailable: one line, a non-zero exit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from agents.llm.base import Message, Reply

ScriptItem = str | BaseException | Callable[[list[Message]], str]


class ScriptedModel:
    def __init__(
        self,
        script: Iterable[ScriptItem],
        *,
        name: str = "scripted",
        tokens_per_reply: int = 10,
        dollars_per_reply: float = 0.0,
        exhausted: type[Exception] = AssertionError,
    ):
        self.script, self.name, self.exhausted = list(script), name, exhausted
        self.tokens_per_reply, self.dollars_per_reply = tokens_per_reply, dollars_per_reply
        self.calls: list[list[Message]] = []

    def query(self, messages: list[Message]) -> Reply:
        self.calls.append([dict(m) for m in messages])
        if not self.script:
            raise self.exhausted(
                f"scripted model {self.name!r}: no reply left for call {len(self.calls)} (the script holds {len(self.calls) - 1})"
            )
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        text = item(messages) if callable(item) else item
        half = self.tokens_per_reply // 2
        return Reply(
            text=text, model=self.name, prompt_tokens=half, completion_tokens=self.tokens_per_reply - half, dollars=self.dollars_per_reply
        )
