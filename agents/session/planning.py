"""Nodes observe, select, propose and their routing: each a plain function returning a partial state update."""

from __future__ import annotations

from agents.errors import BudgetExceeded, LLMUnavailable
from agents.session import context
from agents.session.proposals import to_candidates
from agents.session.runtime import Runtime
from agents.session.state import AfterObserve, AfterPropose, SessionState
from agents.strategy import Proposal


def observe(state: SessionState, rt: Runtime) -> dict:
    """Count what the session spent; start what waits (chat's queue, unfinished candidates); else, with a slot
    free and no limit reached, go on to propose; else wait for a job in flight, or stop when none is."""
    rt.hooks.on_round()
    session = state["session"]
    rt.budget.spent.candidates = len(rt.archive.session_candidates(session))
    waiting = [cid for cid in context.unfinished(rt, session) if cid not in rt.executor.in_flight]
    if waiting or rt.unreflected(session):  # results a kill left unreflected are said and reflected on before anything ends
        return {"pending": waiting, "stop": None, "wait": not waiting}  # (execute collects them; nothing runs yet to wait for)
    ending = state.get("ending")
    if ending is None:
        try:
            rt.budget.check_job()
        except BudgetExceeded as exc:
            ending = f"budget reached ({exc})"
    if ending is not None:
        return {"pending": [], **_end(rt, ending)}
    return {"pending": [], "stop": None, "wait": rt.executor.free() <= 0}


def _end(rt: Runtime, reason: str) -> dict:
    """Stop now, or once the jobs in flight have ended (their results are recorded and reflected on first)."""
    if rt.executor.in_flight:
        return {"stop": None, "ending": reason, "wait": True}
    return {"stop": reason, "ending": reason, "wait": False}


def route_observe(state: SessionState) -> AfterObserve:
    if state.get("pending") or state.get("wait"):
        return "execute"
    return "stop" if state.get("stop") else "select"


def select(state: SessionState, rt: Runtime) -> dict:
    done = len(rt.history(state["session"], fresh=False))
    chosen = context.select_parents(rt, context.session_rng(rt, done))
    return {"parents": list(chosen), "parent_notes": chosen}


def propose(state: SessionState, rt: Runtime) -> dict:
    """Ask the strategy for up to one proposal per free slot, within the candidate budget (the candidates in
    flight are in the context: the strategy plans around them)."""
    strategy = rt.current_strategy(state.get("fallback", False))
    remaining = rt.budget.remaining_candidates()
    free = max(1, rt.executor.free())
    wanted = free if remaining is None else min(free, remaining)
    notes = state.get("parent_notes") or {}
    parents = {p: notes.get(p, "") for p in state.get("parents", [])}
    ctx = context.build_context(rt, state["session"], parents, wanted, state.get("fallback", False))
    try:
        proposals = strategy.propose(ctx)
    except BudgetExceeded as exc:
        return {"proposals": [], **_end(rt, f"budget reached ({exc})")}
    except LLMUnavailable as exc:
        return _llm_failed(state, rt, exc)
    if not proposals and rt.executor.in_flight:  # it waits on results (a CMA-ES generation still running): ask again after one
        return {"proposals": [], "llm_failures": 0, "wait": True}
    if not proposals:
        return {"proposals": [], "llm_failures": 0, **_end(rt, f"strategy {strategy.name} has nothing more to propose")}
    return {"proposals": to_candidates(_within(proposals, wanted, strategy.name, rt), state["session"], rt), "llm_failures": 0}


def _within(proposals: list[Proposal], wanted: int, name: str, rt: Runtime) -> list[Proposal]:
    """The first `wanted` proposals; what the others cost is charged to the last one kept (it was paid for)."""
    if len(proposals) <= wanted:
        return proposals
    extra = proposals[wanted:]
    rt.display.line(
        f"strategy {name} returned {len(proposals)} proposals for {wanted} wanted; keeping the first {wanted}, "
        f"their cost charged to the last one kept"
    )
    last = proposals[wanted - 1]
    cost = sum((p.cost for p in extra), last.cost)
    params = {**last.params, "dropped_proposals": len(extra)}
    return [*proposals[: wanted - 1], last.model_copy(update={"cost": cost, "params": params})]


def _llm_failed(state: SessionState, rt: Runtime, exc: LLMUnavailable) -> dict:
    failures = state.get("llm_failures", 0) + 1
    limit = rt.planner.llm.fallback_after if rt.planner.llm else 1
    rt.display.line(f"LLM failed ({failures} in a row): {exc}")
    if failures < limit:
        return {"proposals": [], "llm_failures": failures}
    if rt.make_fallback is None:
        return {
            "proposals": [],
            "llm_failures": failures,
            **_end(rt, f"{failures} consecutive LLM failures (last: {exc}); no fallback for a code search"),
        }
    reason = f"{failures} consecutive LLM failures (last: {exc}); falling back to evolution for the rest of the session"
    rt.display.line(reason)
    rt.hooks.on_fallback(reason)
    return {"proposals": [], "llm_failures": 0, "fallback": True}


def route_propose(state: SessionState) -> AfterPropose:
    return "stop" if state.get("stop") else "validate"
