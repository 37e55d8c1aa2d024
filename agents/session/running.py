"""Nodes execute, record and reflect: start jobs in free slots, collect the ended ones (results attached as each
job ends), say how they did, attach a lesson per result."""

from __future__ import annotations

from functools import partial

from agents import results
from agents.session.lessons import lesson_for
from agents.session.report import progress
from agents.session.runtime import Runtime
from agents.session.state import SessionState
from archive.record import SplitMetrics
from sandbox.job import Result
from tools.errors import CladeError


def execute(state: SessionState, rt: Runtime) -> dict:
    """Start each pending candidate's job (marked running) in a free slot, then collect the candidates whose jobs
    ended (their results already attached); wait for one when no slot is free or there was nothing to start."""
    started, not_built = [], []
    for cid in state.get("pending", []):
        c = rt.archive.get(cid)
        if c.status not in ("proposed", "running") or cid in rt.executor.in_flight:
            continue  # its result was attached before a kill, or it runs: never run twice
        try:
            job = rt.job(c, "search")
        except CladeError as exc:  # e.g. a queued code candidate in a merge workspace: its failure, not the session's
            rt.archive.attach_result(c.id, results.not_built(exc))
            not_built.append(c.id)  # said and reflected on like any ended candidate
            continue
        rt.archive.attach_result(c.id, results.running())
        rt.executor.start(c.id, job, partial(attach, rt.archive))
        started.append(cid)
    if started:
        rt.display.line(f"running {', '.join(started)}")
        rt.display.update(progress(rt, state["session"], running=sorted(rt.executor.in_flight)))
    done = rt.executor.wait(block=state.get("wait", False) or not started or rt.executor.free() <= 0)
    rt.unreflected(state["session"])  # found before the first wait at the latest (observe asks first)
    done += [cid for cid in rt.take_unreflected() if cid not in done and cid not in not_built]  # after a kill: said and reflected on now
    done += not_built
    return {"pending": [], "wait": False, "done": done}


def attach(archive, cid: str, result: Result) -> None:
    """A finished job's result on its candidate, the moment it ends (unless a result is there already)."""
    if archive.get(cid).status in ("proposed", "running"):
        results.attach(archive, cid, result, "search")


def record(state: SessionState, rt: Runtime) -> dict:
    """Say how each finished candidate did (its result is in the archive already)."""
    for cid in state.get("done", []):
        c = rt.archive.get(cid)
        m = c.metrics.get("search")
        rt.display.line(f"{cid} {c.status}" + (_said(m) if c.status == "succeeded" and m is not None else f": {c.reason}"))
    return {"results": {}}


def _said(m: SplitMetrics) -> str:
    cut = (
        f" (cut by the evaluation cascade after {max(m.examples.values(), default=0)} example(s) per task)" if m.stage == "cascade" else ""
    )
    return f" search fitness {m.fitness:.4f}{cut}"


def reflect(state: SessionState, rt: Runtime) -> dict:
    """A short lesson per result (LLM when the session has one, else a rule), kept on the candidate."""
    rt.history(state["session"])  # once for the round: each lesson compares with the session's best before it
    for cid in state.get("done", []):
        if rt.archive.get(cid).lesson is not None:
            continue  # reflected on before a kill: not paid for twice
        lesson, cost = lesson_for(rt.archive.get(cid), rt, fallback=state.get("fallback", False))
        rt.archive.attach_result(cid, results.lesson(lesson, cost))
    rt.display.update(progress(rt, state["session"]))
    return {"done": [], "rounds": state.get("rounds", 0) + 1}
