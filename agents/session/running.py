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
from tools.evaluate.result import EvalResult, ExampleScores

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
    done += [cid for cid in rt.unreflected(state["session"]) if cid not in done]  # after a kill: said and reflected on now
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
    cut = (
        f" (cut by the evaluation cascade after {max(m.examples.values(), default=0)} example(s) per task)" if m.stage == "cascade" else ""
    )
    return f" search fitness {m.fitness:.4f}{cut}"


def result_event(result: Result, split: str) -> ResultEvent:
    """A sandbox Result as the archive's result event: succeeded with the split's metrics (from the typed
    evaluation: per task and metric, stage, examples), or failed with the reason."""
    logs = _tail(result.stdout, "stdout") + _tail(result.stderr, "stderr")
    cost = {"compute_s": result.timings.total_s}
    if result.status == "ok" and result.fitness is not None:
        e = result.evaluation or _evaluation(result, split)
        per_example = {t: s.rounded() for t, s in e.per_example.items()} if split in PER_EXAMPLE_SPLITS else {}
        metrics = {split: SplitMetrics(fitness=result.fitness, tasks=e.tasks, per_example=per_example, stage=e.stage, examples=e.examples)}
        return ResultEvent(status="succeeded", metrics=metrics, cost=cost, logs=logs)
    reason = result.reason or f"sandbox status {result.status} with no fitness"
    return ResultEvent(status="failed", reason=reason, cost=cost, logs=logs)


def _evaluation(result: Result, split: str) -> EvalResult:
    """A result with no typed evaluation (a stand-in sandbox): read from its metrics mapping, as a merge job's
    EvalResult dump (task -> metric -> value) or a command's flat metrics (kept as task `command`)."""
    m = result.metrics
    tasks = m.get("tasks")
    if isinstance(tasks, dict):
        tasks = {t: {k: float(v) for k, v in ms.items() if _number(v)} for t, ms in tasks.items() if isinstance(ms, dict)}
    else:
        flat = {k: float(v) for k, v in m.items() if _number(v)}
        tasks = {"command": flat} if flat else {}
    examples = m.get("examples")
    found = m.get("per_example")
    return EvalResult(
        fitness=result.fitness,
        split=split,
        tasks=tasks,
        stage="cascade" if m.get("stage") == "cascade" else "full",
        examples={t: int(n) for t, n in examples.items() if _number(n)} if isinstance(examples, dict) else {},
        per_example={t: ExampleScores.model_validate(s) for t, s in found.items()} if isinstance(found, dict) else {},
    )


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
