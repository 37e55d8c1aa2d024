"""Nodes execute, record and reflect: start jobs in free slots, collect the ended ones (results attached as each
job ends), say how they did, attach a lesson per result."""

from __future__ import annotations

from functools import partial

from agents.session.lessons import lesson_for
from agents.session.report import progress
from agents.session.runtime import Runtime
from agents.session.state import SessionState
from archive.record import ResultEvent, SplitMetrics
from sandbox.job import Result
from tools.errors import CladeError
from tools.evaluate.result import ExampleScores

LOG_TAIL = 4000
PER_EXAMPLE_SPLITS = ("test",)  # where claims are made (with intervals); the search split's would only grow the archive


def execute(state: SessionState, rt: Runtime) -> dict:
    """Start each pending candidate's job (marked running) in a free slot, then collect the candidates whose jobs
    ended (their results already attached); wait for one when no slot is free or there was nothing to start."""
    started = []
    for cid in state.get("pending", []):
        c = rt.archive.get(cid)
        if c.status not in ("proposed", "running") or cid in rt.executor.in_flight:
            continue  # its result was attached before a kill, or it runs: never run twice
        try:
            job = rt.job(c, "search")
        except CladeError as exc:  # e.g. a queued code candidate in a merge workspace: its failure, not the session's
            rt.archive.attach_result(c.id, ResultEvent(status="failed", reason=f"could not build its job: {exc}"))
            continue
        rt.archive.attach_result(c.id, ResultEvent(status="running"))
        rt.executor.start(c.id, job, partial(attach, rt.archive))
        started.append(cid)
    if started:
        rt.display.line(f"running {', '.join(started)}")
        rt.display.update(progress(rt, state["session"], running=sorted(rt.executor.in_flight)))
    done = rt.executor.wait(block=state.get("wait", False) or not started or rt.executor.free() <= 0)
    return {"pending": [], "wait": False, "done": done}


def attach(archive, cid: str, result: Result) -> None:
    """A finished job's result on its candidate, the moment it ends (unless a result is there already)."""
    if archive.get(cid).status in ("proposed", "running"):
        archive.attach_result(cid, result_event(result, "search"))


def record(state: SessionState, rt: Runtime) -> dict:
    """Say how each finished candidate did (its result is in the archive already)."""
    for cid in state.get("done", []):
        c = rt.archive.get(cid)
        m = c.metrics.get("search")
        rt.display.line(f"{cid} {c.status}" + (_said(m) if c.status == "succeeded" and m is not None else f": {c.reason}"))
    return {"results": {}}


def _said(m: SplitMetrics) -> str:
    cut = f" (cut by the evaluation cascade after {max(m.examples.values(), default=0)} example(s) per task)" if m.stage == "cascade" else ""
    return f" search fitness {m.fitness:.4f}{cut}"


def result_event(result: Result, split: str) -> ResultEvent:
    """A sandbox Result as the archive's result event: succeeded with the split's metrics, or failed with the reason."""
    logs = _tail(result.stdout, "stdout") + _tail(result.stderr, "stderr")
    cost = {"compute_s": result.timings.total_s}
    if result.status == "ok" and result.fitness is not None:
        metrics = {split: SplitMetrics(fitness=result.fitness, tasks=_tasks(result), per_example=_per_example(result, split),
                                       stage=_stage(result), examples=_examples(result))}
        return ResultEvent(status="succeeded", metrics=metrics, cost=cost, logs=logs)
    reason = result.reason or f"sandbox status {result.status} with no fitness"
    return ResultEvent(status="failed", reason=reason, cost=cost, logs=logs)


def _tasks(result: Result) -> dict[str, dict[str, float]]:
    """Merge jobs report task -> metric -> value; a code job's command prints flat metrics (kept as task `command`)."""
    tasks = result.metrics.get("tasks")
    if isinstance(tasks, dict):
        return {t: {m: float(v) for m, v in ms.items() if _number(v)} for t, ms in tasks.items() if isinstance(ms, dict)}
    flat = {k: float(v) for k, v in result.metrics.items() if _number(v)}
    return {"command": flat} if flat else {}


def _stage(result: Result) -> str:
    """"cascade" when the evaluation cascade cut the measurement short (a merge job's EvalResult says so)."""
    return "cascade" if result.metrics.get("stage") == "cascade" else "full"


def _examples(result: Result) -> dict[str, int]:
    found = result.metrics.get("examples")
    return {t: int(n) for t, n in found.items() if _number(n)} if isinstance(found, dict) else {}


def _per_example(result: Result, split: str) -> dict[str, ExampleScores]:
    """Each task's fitness metric example by example (rounded), on the held-out split only."""
    found = result.metrics.get("per_example")
    if split not in PER_EXAMPLE_SPLITS or not isinstance(found, dict):
        return {}
    return {task: ExampleScores.model_validate(scores).rounded() for task, scores in found.items()}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _tail(text: str, name: str) -> str:
    if not text:
        return ""
    cut = text[-LOG_TAIL:]
    head = f"[{name}, last {LOG_TAIL} of {len(text)} characters]\n" if len(text) > LOG_TAIL else f"[{name}]\n"
    return head + cut + "\n"


def reflect(state: SessionState, rt: Runtime) -> dict:
    """A short lesson per result (LLM when the session has one, else a rule), kept on the candidate."""
    rt.history(state["session"])  # once for the round: each lesson compares with the session's best before it
    for cid in state.get("done", []):
        if rt.archive.get(cid).lesson is not None:
            continue  # reflected on before a kill: not paid for twice
        lesson, cost = lesson_for(rt.archive.get(cid), rt, fallback=state.get("fallback", False))
        rt.archive.attach_result(cid, ResultEvent(lesson=lesson, cost=cost))
    rt.display.update(progress(rt, state["session"]))
    return {"done": [], "rounds": state.get("rounds", 0) + 1}

