"""The page's chat panel: one conversation with the same planner as `clade chat`.

The panel holds one `agents.chat.agent.ChatAgent` for the server's lifetime (every browser
tab sees the same conversation) and sends one message at a time. The model is the one
injected (tests pass a ScriptedModel) or the one `llm` names (`planner.llm`, or `clade ui
--model`; `scripted:FILE` replays canned replies), built on the first message; without
either, the panel says no LLM is configured and the rest of the page works.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from agents.config import Workspace
from tools.errors import BadInput

NO_LLM = "no LLM configured: add planner.llm to clade.yaml (model, api_key_env) to chat with the planner"


class ChatPanel:
    def __init__(self, workspace: Workspace, archive: Callable[[], object], *, model=None, llm=None, who: str):
        self.workspace, self.archive, self.model, self.who = workspace, archive, model, who
        self.llm = llm if llm is not None else workspace.config.planner.llm
        self.turns: list[dict] = []
        self._agent = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.model is not None or self.llm is not None

    def status(self) -> dict:
        return {"available": self.available, "message": None if self.available else NO_LLM, "turns": list(self.turns)}

    def send(self, text: str) -> dict:
        """One message to the planner and its turn (`reply`, `actions`); raises BadInput without an LLM."""
        if not self.available:
            raise BadInput(NO_LLM)
        with self._lock:
            turn = {"user": text, **_plain(self._chat_agent().send(text))}
            self.turns.append(turn)
            return turn

    def _chat_agent(self):
        if self._agent is None:
            from agents.chat.agent import ChatAgent

            self._agent = ChatAgent(self._model(), self.workspace, self.archive(), who=self.who)
        return self._agent

    def _model(self):
        if self.model is None:
            from agents.llm.factory import planner_model

            self.model = planner_model(self.llm, self.workspace.root)
        return self.model


def _plain(turn) -> dict:
    """A ChatTurn (pydantic model or dataclass) as JSON-able data."""
    if hasattr(turn, "model_dump"):
        return turn.model_dump(mode="json")
    if dataclasses.is_dataclass(turn):
        return dataclasses.asdict(turn)
    raise TypeError(f"ChatAgent.send returned a {type(turn).__name__}, expected a ChatTurn")
