"""What the archive records of a measurement: the one place a sandbox `Result` (or a run that never gave one)
becomes result events on a candidate. Used by the session (each search job as it ends, the sources, the
held-out measurement of the best), `clade sources --remeasure`, chat's run-now and review.

A measurement on the search split decides the candidate's status: `succeeded` with the split's metrics (from
the typed evaluation: fitness, per task and metric, stage, examples), or `failed` with the reason; both with
the compute time and the tails of the logs. A measurement on another split (held out) adds that split's
metrics only; when it fails, its compute time and logs are kept and the status is left as it is (the next
session measures it again). Per-example scores are kept for the held-out split only, where claims are made
with intervals; the search split's would only grow the archive.
"""

from __future__ import annotations

from archive.record import Cost, ResultEvent, SplitMetrics
from sandbox.job import Result
from tools.evaluate.result import EvalResult, ExampleScores

LOG_TAIL = 4000
PER_EXAMPLE_SPLITS = ("test",)
STATUS_SPLIT = "search"  # the split whose measurement decides a candidate's status


def attach(archive, cid: str, result: Result, split: str) -> str | None:
    """`result` (a measurement of candidate `cid` on `split`) on the candidate; the failure reason, None when
    it was measured. See the module docstring for what a failure on each split records."""
    event = result_event(result, split)
    if split != STATUS_SPLIT:
        kept = (
            ResultEvent(metrics=event.metrics, cost=event.cost)
            if event.status == "succeeded"
            else ResultEvent(cost=event.cost, logs=event.logs)
        )
        archive.attach_result(cid, kept)
    else:
        archive.attach_result(cid, event)
    return None if event.status == "succeeded" else event.reason


def result_event(result: Result, split: str) -> ResultEvent:
    """A sandbox Result as the archive's result event: succeeded with the split's metrics, or failed with the reason."""
    logs = _tail(result.stdout, "stdout") + _tail(result.stderr, "stderr")
    cost = {"compute_s": result.timings.total_s}
    if result.status == "ok" and result.fitness is not None:
        metrics = {split: split_metrics(result.evaluation or _evaluation(result, split), split, fitness=result.fitness)}
        return ResultEvent(status="succeeded", metrics=metrics, cost=cost, logs=logs)
    reason = result.reason or f"sandbox status {result.status} with no fitness"
    return ResultEvent(status="failed", reason=reason, cost=cost, logs=logs)


def split_metrics(e: EvalResult, split: str, *, fitness: float | None = None) -> SplitMetrics:
    """An evaluation as one split's archived metrics (`fitness`: the result's own, when it has one)."""
    per_example = {t: s.rounded() for t, s in e.per_example.items()} if split in PER_EXAMPLE_SPLITS else {}
    return SplitMetrics(
        fitness=e.fitness if fitness is None else fitness, tasks=e.tasks, per_example=per_example, stage=e.stage, examples=e.examples
    )


def running() -> ResultEvent:
    """The job was handed to the sandbox."""
    return ResultEvent(status="running")


def not_built(error: Exception) -> ResultEvent:
    """No job could be built for the candidate (e.g. a code candidate in a merge workspace)."""
    return ResultEvent(status="failed", reason=f"could not build its job: {error}")


def not_run(error: BaseException) -> ResultEvent:
    """The sandbox raised instead of returning a result (it could not start, or the run was interrupted)."""
    return ResultEvent(status="failed", reason=f"the sandbox could not run it: {error}")


def rejected_before_run(who: str, reason: str) -> ResultEvent:
    """A queued candidate a person rejected: it never runs."""
    return ResultEvent(status="rejected", reason=f"rejected by {who} before it ran: {reason}")


def lesson(text: str, cost: Cost) -> ResultEvent:
    """The reflection on a result, with what it cost."""
    return ResultEvent(lesson=text, cost=cost)


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
