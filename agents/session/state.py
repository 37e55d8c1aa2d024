"""The session graph's state: small, JSON-shaped, checkpointed after every node.

Everything heavy (archive, sandbox, strategy, budget) is injected into the nodes by the
factory (graph.py); the state holds only ids and counters, so a checkpoint is a few
hundred bytes and the archive stays the source of truth.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

AfterObserve = Literal["select", "execute", "stop"]
AfterPropose = Literal["validate", "stop"]


class SessionState(TypedDict, total=False):
    session: str
    parents: list[str]  # chosen by the selection rule for this round
    parent_notes: dict[str, str]  # parent id -> why it was chosen (shown to the LLM)
    proposals: list[dict[str, Any]]  # candidate records built from proposals (created_at fixed), not yet recorded
    pending: list[str]  # candidate ids to run in this round's batch
    results: dict[str, dict[str, Any]]  # candidate id -> sandbox Result (JSON) of this round's batch
    done: list[str]  # candidates whose results were recorded this round (for reflect)
    llm_failures: int  # consecutive LLMUnavailable from propose
    fallback: bool  # the session switched to evolution
    rounds: int
    stop: str | None  # why the session stopped (a budget limit, the strategy finished)


def initial_state(session: str, *, fallback: bool = False) -> SessionState:
    return SessionState(session=session, parents=[], parent_notes={}, proposals=[], pending=[], results={}, done=[],
                        llm_failures=0, fallback=fallback, rounds=0, stop=None)
