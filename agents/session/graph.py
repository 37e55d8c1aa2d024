"""The session graph (LangGraph): observe -> select -> propose -> validate -> execute -> record -> reflect -> observe.

`build_graph(rt)` compiles it over a `Runtime` (runtime.py: the archive, executor, strategy,
budget, ... injected by runner.py; nothing is built at import time). Nodes are plain functions
of (state, runtime) returning partial state updates; routing functions return typed literals.
With a checkpointer (SQLite in `clade run`), the state after every node is kept under
thread_id = the session id.

    graph = build_graph(rt, checkpointer=saver)
    graph.invoke(initial_state(session), config_for(session))
"""

from __future__ import annotations

from functools import partial
from typing import Any

from agents.session import planning, proposals, running
from agents.session.runtime import Runtime
from agents.session.state import SessionState

RECURSION_LIMIT = 1_000_000  # the budget ends a session, not LangGraph's step count


def build_graph(rt: Runtime, checkpointer: Any = None):
    from langgraph.graph import END, StateGraph

    graph = StateGraph(SessionState)
    for name, node in (
        ("observe", planning.observe),
        ("select", planning.select),
        ("propose", planning.propose),
        ("validate", proposals.validate),
        ("execute", running.execute),
        ("record", running.record),
        ("reflect", running.reflect),
    ):
        graph.add_node(name, partial(node, rt=rt))
    graph.set_entry_point("observe")
    graph.add_conditional_edges("observe", planning.route_observe, {"execute": "execute", "select": "select", "stop": END})
    graph.add_edge("select", "propose")
    graph.add_conditional_edges("propose", planning.route_propose, {"validate": "validate", "stop": END})
    for a, b in (("validate", "execute"), ("execute", "record"), ("record", "reflect"), ("reflect", "observe")):
        graph.add_edge(a, b)
    return graph.compile(checkpointer=checkpointer)


def config_for(session: str) -> dict:
    return {"configurable": {"thread_id": session}, "recursion_limit": RECURSION_LIMIT}
