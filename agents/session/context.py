"""What the observe/select nodes read from the archive: the session's history, parents, Context."""

from __future__ import annotations

import random

from agents.chat.brief import read_brief
from agents.session.runtime import Runtime
from agents.strategy import Context
from archive import selection
from archive.record import Candidate

UNFINISHED = ("proposed", "running")
SUMMARY_TOKENS = 1500
LESSONS = 10


def history(rt: Runtime, session: str) -> list[Candidate]:
    return [rt.archive.get(cid) for cid in rt.archive.session_candidates(session)]


def unfinished(rt: Runtime, session: str) -> list[str]:
    """Candidates to run before anything new: chat's queue first, then this session's recorded but never finished ones."""
    mine = set(rt.archive.session_candidates(session))
    waiting = {c.id for status in UNFINISHED for c in rt.archive.candidates(status=status) if c.id in mine}
    return [*rt.archive.queued(), *sorted(waiting)]


def select_parents(rt: Runtime, rng: random.Random) -> list[str]:
    """Parents by `planner.selection.rule` over the search split (only succeeded candidates with a fitness)."""
    rule, k = rt.planner.selection.rule, rt.planner.selection.parents
    pool = [c for c in rt.archive.candidates(split="search") if c.status == "succeeded" and c.fitness is not None]
    if not pool:
        return []
    if rule == "best":
        return [c.id for c in sorted(pool, key=lambda c: (-c.fitness, c.id))[:k]]
    return getattr(selection, rule)(pool, k, rng)


def session_rng(rt: Runtime, done: int) -> random.Random:
    """Seeded by the session seed and how far it got, so a resumed session draws as a fresh one would."""
    return random.Random(f"{rt.seed}:{done}")


def build_context(rt: Runtime, session: str, parents: list[str], wanted: int, fallback: bool) -> Context:
    past = history(rt, session)
    return Context(workspace=rt.workspace, archive=rt.archive, session=session, budget=rt.budget,
                   rng=session_rng(rt, len(past)), wanted=wanted, history=past, sources=refresh_sources(rt),
                   parents=parents, summary=rt.archive.summary(max_tokens=SUMMARY_TOKENS), brief=read_brief(rt.workspace),
                   lessons=[c.lesson for c in past if c.lesson][-LESSONS:], model=None if fallback else rt.model)


def refresh_sources(rt: Runtime) -> list[Candidate]:
    rt.sources = [rt.archive.get(c.id) for c in rt.sources]
    return rt.sources
