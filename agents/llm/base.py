"""The planner's one port to a language model: `query(messages) -> Reply`.

Messages are OpenAI-style dicts (`{"role": "system"|"user"|"assistant", "content": str}`).
The real client (agents/llm/client.py, through litellm) and the scripted model used in
tests (agents/llm/scripted.py) both implement `Model`. Callers check the budget before
every call and charge it with the reply's tokens and dollars.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

Message = dict[str, str]


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    dollars: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Model(Protocol):
    name: str  # the model string recorded in the archive, e.g. "openai/gpt-4o-mini" or "scripted"

    def query(self, messages: list[Message]) -> Reply:
        """One completion. Raises agents.errors.LLMUnavailable when it fails after its retries."""
