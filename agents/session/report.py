"""The session's figures: the live progress snapshot and the final report, each number named by its split.

The best candidate is chosen on the search split among the session's succeeded candidates;
it is then measured on the held-out `test` split (one more job, attached as metrics["test"]).
It is compared on `test` with two sources: the one best on the search split (chosen the way
the candidate was, so the baseline is not flattered by the split it is reported on) and the
one best on `test` (the strongest single model held out, which a merge must beat to be worth
it). Every held-out figure comes with a 95% bootstrap interval over examples
(tools/evaluate/bootstrap.py): the fitness's own, and the paired difference for each
comparison. An interval is null only when per-example scores are missing (a command
evaluator, or a fake sandbox), and the sentence says so.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agents.session.display import Progress
from agents.session.runtime import Runtime
from agents.strategies.fitness_tasks import task_weights
from archive.record import Candidate
from tools.errors import BadInput

COUNTED = ("succeeded", "failed", "invalid", "rejected")


class SourceFigure(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    id: str
    search_fitness: float | None
    test_fitness: float | None


class HeldOutComparison(BaseModel):
    """The best candidate minus a source on the test split, with its 95% paired bootstrap interval."""

    model_config = ConfigDict(extra="forbid")
    source: str
    difference: float | None
    interval: list[float] | None = Field(None, description="[low, high], 95%, bootstrap over examples; null without per-example scores")


class TaskFigure(BaseModel):
    """One task held out: the best candidate's score (the task's fitness metric) and the source best on that task."""

    model_config = ConfigDict(extra="forbid")
    task: str
    best: float | None
    source: str | None
    source_score: float | None


class Summary(BaseModel):
    """What `clade run --json` prints at the end. `best_fitness` and `best_source_fitness` are the
    old names of `best_test_fitness` and `best_search_source.test_fitness`, kept for one release."""

    model_config = ConfigDict(extra="forbid")
    session: str
    candidates: int
    succeeded: int
    failed: int = Field(description="ran and failed (not invalid, not rejected)")
    invalid: int = 0
    rejected: int = 0
    best_id: str | None
    best_search_fitness: float | None = None
    best_test_fitness: float | None = None
    best_test_interval: list[float] | None = None
    best_search_source: SourceFigure | None = Field(None, description="the source best on the search split")
    best_test_source: SourceFigure | None = Field(None, description="the source best on the test split")
    vs_best_search_source: HeldOutComparison | None = None
    vs_best_test_source: HeldOutComparison | None = None
    per_task: list[TaskFigure] = Field(
        default_factory=list, description="held-out score of each task: the best candidate's, and the best source's on that task"
    )
    best_fitness: float | None = Field(None, description="deprecated alias of best_test_fitness")
    best_source_fitness: float | None = Field(None, description="deprecated alias of best_search_source.test_fitness")


def best_on(candidates: list[Candidate], split: str) -> Candidate | None:
    """The succeeded candidate with the highest fitness on `split`, measured in full (one the
    evaluation cascade cut short is never best: its figure covers only the first examples)."""
    scored = [c for c in candidates if c.status == "succeeded" and c.fitness(split) is not None and not c.cut(split)]
    return min(scored, key=lambda c: (-c.fitness(split), c.id), default=None)


def best_on_search(history: list[Candidate]) -> Candidate | None:
    return best_on(history, "search")


def progress(rt: Runtime, session: str, running: list[str] | None = None) -> Progress:
    history = rt.history(session)
    best, source = best_on_search(history), best_on_search(rt.sources)
    return Progress(
        session=session,
        strategy=rt.strategy.name,
        candidates=len(history),
        budget=rt.budget.config.candidates,
        running=running or [],
        best_id=best.id if best else None,
        best=best.fitness("search") if best else None,
        best_source=source.fitness("search") if source else None,
        best_source_name=_name(source) if source else None,
        tokens=rt.budget.spent.tokens,
        dollars=rt.budget.spent.dollars,
    )


def final_report(rt: Runtime, session: str) -> Summary:
    """Measure the best candidate on the held-out split (unless done before a kill) and sum the session up."""
    history = [rt.archive.get(cid) for cid in rt.archive.session_candidates(session)]
    best = best_on_search(history)
    if best is not None and needs_test(best, suite=rt.workspace.config.code is None):
        best = _measure_test(rt, best)
    counts = {s: sum(c.status == s for c in history) for s in COUNTED}
    by_search, by_test = best_on(rt.sources, "search"), best_on(rt.sources, "test")
    weights = task_weights(rt.workspace)
    summary = Summary(
        session=session,
        candidates=len(history),
        **counts,
        best_id=best.id if best else None,
        best_search_source=_figure(by_search),
        best_test_source=_figure(by_test),
    )
    if best is not None:
        summary.best_search_fitness, summary.best_test_fitness = best.fitness("search"), best.fitness("test")
        summary.best_test_interval = _own_interval(best, weights)
        summary.vs_best_search_source = _versus(best, by_search, weights)
        summary.vs_best_test_source = _versus(best, by_test, weights)
        summary.per_task = per_task(best, rt.sources)
    summary.best_fitness = summary.best_test_fitness
    summary.best_source_fitness = by_search.fitness("test") if by_search else None
    return summary


def per_task(best: Candidate, sources: list[Candidate]) -> list[TaskFigure]:
    """Each task of the best candidate's held-out measurement, beside the source best held out on that task."""
    scores = _task_scores(best)
    out = []
    for task, value in scores.items():
        measured = [(s, _task_scores(s).get(task)) for s in sources if s.status == "succeeded" and not s.cut("test")]
        top = max(((s, v) for s, v in measured if v is not None), key=lambda item: (item[1], item[0].id), default=None)
        out.append(TaskFigure(task=task, best=value, source=_name(top[0]) if top else None, source_score=top[1] if top else None))
    return out


def _task_scores(c: Candidate) -> dict[str, float]:
    m = c.metrics.get("test")
    return {} if m is None else {task: scores.value() for task, scores in m.per_example.items()}


def task_lines(s: Summary) -> list[str]:
    """The lines `clade run` prints before its sentence: each task held out, the best beside the best source on it."""
    if not s.per_task:
        return []
    width = max(len(f.task) for f in s.per_task) + 2
    lines = [f"held-out (test split) per task: best {s.best_id}, and the source best on each task"]
    for f in s.per_task:
        source = "-" if f.source is None else f"{f.source} {_f(f.source_score)}"
        lines.append(f"  {f.task:<{width}}{_f(f.best)}   {source}")
    return lines


def needs_test(c: Candidate, *, suite: bool) -> bool:
    """No held-out fitness yet, or (on a task suite) one without the per-example scores an interval needs."""
    m = c.metrics.get("test")
    return m is None or m.fitness is None or (suite and bool(m.tasks) and not m.per_example)


def _name(c: Candidate) -> str:
    return getattr(c.genotype, "name", None) or str(c.id)


def _figure(c: Candidate | None) -> SourceFigure | None:
    return None if c is None else SourceFigure(name=_name(c), id=c.id, search_fitness=c.fitness("search"), test_fitness=c.fitness("test"))


def _own_interval(c: Candidate, weights: dict[str, float]) -> list[float] | None:
    from tools.evaluate.bootstrap import fitness_interval

    scores = c.metrics["test"].per_example if "test" in c.metrics else {}
    try:
        found = fitness_interval(scores, weights) if scores and weights else None
    except BadInput:
        return None
    return None if found is None else [found.low, found.high]


def _versus(best: Candidate, source: Candidate | None, weights: dict[str, float]) -> HeldOutComparison | None:
    from tools.evaluate.bootstrap import difference_interval

    if source is None or source.fitness("test") is None or best.fitness("test") is None:
        return None
    out = HeldOutComparison(source=_name(source), difference=best.fitness("test") - source.fitness("test"))
    a, b = (c.metrics["test"].per_example for c in (best, source))
    if a and b and weights:
        try:
            found = difference_interval(a, b, weights)
            out.interval = [found.low, found.high]
        except BadInput:
            pass  # measured on different examples (the suite changed): no paired interval; the sentence says so
    return out


def _measure_test(rt: Runtime, best: Candidate) -> Candidate:
    from agents import results

    rt.display.line(f"measuring the best candidate {best.id} on the held-out test split")
    job = rt.job(best, "test")
    reason = results.attach(rt.archive, best.id, rt.executor.run([job])[job.id], "test")
    if reason is not None:
        rt.display.line(f"the held-out measurement of {best.id} failed: {reason}")
    return rt.archive.get(best.id)


def sentence(s: Summary) -> str:
    """The one line `clade run` prints at the end (without --json): every figure says its split."""
    counts = ", ".join(f"{getattr(s, k)} {k}" for k in COUNTED)
    head = f"session {s.session}: {s.candidates} candidates ({counts})"
    if s.best_id is None:
        return f"{head}; no candidate succeeded"
    best = (
        f"best {s.best_id} (chosen on the search split, {_f(s.best_search_fitness)}): held-out (test split) fitness "
        f"{_f(s.best_test_fitness)}{_ci(s.best_test_interval)}"
    )
    parts = [head, best]
    for cmp, fig, which in (
        (s.vs_best_search_source, s.best_search_source, "best on the search split"),
        (s.vs_best_test_source, s.best_test_source, "best held out"),
    ):
        if cmp is None or fig is None or (which == "best held out" and s.best_test_source.id == s.best_search_source.id):
            continue
        both = " and held out" if s.best_test_source and s.best_search_source and s.best_test_source.id == s.best_search_source.id else ""
        parts.append(
            f"vs {fig.name} (the source {which}{both}, held-out {_f(fig.test_fitness)}): "
            f"{cmp.difference:+.4f}{_ci(cmp.interval, signed=True)}"
        )
    return "; ".join(parts)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _ci(interval: list[float] | None, signed: bool = False) -> str:
    if interval is None:
        return " (no interval: no per-example scores)"
    f = "{:+.4f}" if signed else "{:.4f}"
    return f" (95% CI {f.format(interval[0])} to {f.format(interval[1])})"
