"""The session graph (LangGraph): observe -> select -> propose -> validate -> execute -> record -> reflect -> observe.

`build_planner` is the factory: the model, archive and sandbox are injected, nothing is
built at import time. Nodes are plain functions of (state, runtime) returning partial
state updates; routing functions return typed literals. With a checkpointer (SQLite in
`clade run`), the state after every node is kept under thread_id = the session id.

    graph = build_planner(model, archive, sandbox, workspace=ws, strategy=s, budget=b, checkpointer=saver)
    graph.invoke(initial_state(session), config_for(session))
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from agents.budget import Budget
from agents.config import Workspace
from agents.llm.base import Model
from agents.session import planning, proposals, running
from agents.session.display import Display, PlainDisplay
from agents.session.executor import Executor, make_executor
from agents.session.runtime import Hooks, Runtime
from agents.session.state import SessionState
from agents.strategy import Strategy
from archive.record import Candidate

RECURSION_LIMIT = 1_000_000  # the budget ends a session, not LangGraph's step count


def build_planner(model: Model | None, archive: Any, sandbox: Any, *, workspace: Workspace, strategy: Strategy,
                  budget: Budget, checkpointer: Any = None, fallback: Callable[[], Strategy] | None = None,
                  sources: list[Candidate] | None = None, display: Display | None = None, hooks: Hooks | None = None,
                  seed: int = 0, prompts_dir: Path | None = None):
    """The compiled session graph. `sandbox` is an Executor, or a backend (a fresh executor is made for it)."""
    executor = sandbox if isinstance(sandbox, Executor) else make_executor(workspace, sandbox)
    rt = Runtime(workspace=workspace, archive=archive, executor=executor, budget=budget, strategy=strategy,
                 make_fallback=fallback or partial(_evolution, workspace), model=model,
                 display=display or PlainDisplay(), hooks=hooks or Hooks(), seed=seed, sources=list(sources or []),
                 prompts_dir=prompts_dir)
    return build_graph(rt, checkpointer)


def build_graph(rt: Runtime, checkpointer: Any = None):
    from langgraph.graph import END, StateGraph

    graph = StateGraph(SessionState)
    for name, node in (("observe", planning.observe), ("select", planning.select), ("propose", planning.propose),
                       ("validate", proposals.validate), ("execute", running.execute), ("record", running.record),
                       ("reflect", running.reflect)):
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


def _evolution(workspace: Workspace) -> Strategy:
    from agents.strategies.registry import make_strategy

    return make_strategy("evolution", workspace.config.planner, workspace)
