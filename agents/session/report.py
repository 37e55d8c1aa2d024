"""The session's figures: the live progress snapshot and the final held-out report.

The best candidate is chosen on the search split among the session's succeeded
candidates; it is then measured on the held-out `test` split (one more job, attached as
metrics["test"]) and compared with the best source on `test` (measured at the start).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from agents.session.display import Progress
from agents.session.executor import build_job
from agents.session.runtime import Runtime
from archive.record import FAILED_STATUSES, Candidate


class Summary(BaseModel):
    """What `clade run --json` prints at the end."""

    model_config = ConfigDict(extra="forbid")
    session: str
    candidates: int
    succeeded: int
    failed: int
    best_id: str | None
    best_fitness: float | None
    best_source_fitness: float | None


def best_on_search(history: list[Candidate]) -> Candidate | None:
    scored = [c for c in history if c.status == "succeeded" and c.fitness("search") is not None]
    return min(scored, key=lambda c: (-c.fitness("search"), c.id), default=None)


def best_fitness(candidates: list[Candidate], split: str) -> float | None:
    return max((c.fitness(split) for c in candidates if c.fitness(split) is not None), default=None)


def progress(rt: Runtime, session: str, running: list[str] | None = None) -> Progress:
    history = [rt.archive.get(cid) for cid in rt.archive.session_candidates(session)]
    best = best_on_search(history)
    return Progress(session=session, strategy=rt.strategy.name, candidates=len(history), budget=rt.budget.config.candidates,
                    running=running or [], best_id=best.id if best else None, best=best.fitness("search") if best else None,
                    best_source=best_fitness(rt.sources, "search"), tokens=rt.budget.spent.tokens, dollars=rt.budget.spent.dollars)


def final_report(rt: Runtime, session: str) -> Summary:
    """Measure the best candidate on the held-out split (unless done before a kill) and sum the session up."""
    history = [rt.archive.get(cid) for cid in rt.archive.session_candidates(session)]
    best = best_on_search(history)
    if best is not None and best.fitness("test") is None:
        best = _measure_test(rt, best)
    return Summary(session=session, candidates=len(history), succeeded=sum(c.status == "succeeded" for c in history),
                   failed=sum(c.status in FAILED_STATUSES for c in history), best_id=best.id if best else None,
                   best_fitness=best.fitness("test") if best else None, best_source_fitness=_best_source_test(rt.sources))


def _best_source_test(sources: list[Candidate]) -> float | None:
    """The held-out fitness of the source that is best on the search split (chosen like the best candidate)."""
    best = best_on_search(sources)
    return best.fitness("test") if best is not None else None


def _measure_test(rt: Runtime, best: Candidate) -> Candidate:
    from agents.session.sources import attach_split

    rt.display.line(f"measuring the best candidate {best.id} on the held-out test split")
    job = build_job(rt.workspace, best, split="test", seed=rt.seed, gpus=rt.gpus_per_job())
    reason = attach_split(rt.archive, best.id, rt.executor.run([job])[job.id], "test")
    if reason is not None:
        rt.display.line(f"the held-out measurement of {best.id} failed: {reason}")
    return rt.archive.get(best.id)
