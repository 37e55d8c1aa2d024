"""The session graph's state: small, JSON-shaped, checkpointed after every node.

Everything heavy (archive, sandbox, strategy, budget) is injected into the nodes by the
factory (graph.py); the state holds only ids and counters, so a checkpoint is a few
hundred bytes and the archive stays the source of truth.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

AfterObserve = Literal["select", "execute", "stop"]  # execute: run what waits, or wait for a job in flight
AfterPropose = Literal["validate", "stop"]


class SessionState(TypedDict, total=False):
    session: str
    parents: list[str]  # chosen by the selection rule for this round
    parent_notes: dict[str, str]  # parent id -> why it was chosen (shown to the LLM)
    proposals: list[dict[str, Any]]  # candidate records built from proposals (created_at fixed), not yet recorded
    pending: list[str]  # candidate ids to start now (free slots are refilled at once; nothing waits for a batch)
    results: dict[str, dict[str, Any]]  # unused: results are attached as each job ends (kept so older checkpoints load)
    done: list[str]  # candidates whose jobs ended since the last step (their results attached; for record and reflect)
    wait: bool  # no slot free, or the session is ending: execute waits for a job in flight
    llm_failures: int  # consecutive LLMUnavailable from propose
    fallback: bool  # the session switched to evolution
    rounds: int
    stop: str | None  # why the session stopped (a budget limit, the strategy finished)
    ending: str | None  # why it will stop once the jobs in flight have ended


def initial_state(session: str, *, fallback: bool = False) -> SessionState:
    return SessionState(
        session=session,
        parents=[],
        parent_notes={},
        proposals=[],
        pending=[],
        results={},
        done=[],
        wait=False,
        llm_failures=0,
        fallback=fallback,
        rounds=0,
        stop=None,
        ending=None,
    )
