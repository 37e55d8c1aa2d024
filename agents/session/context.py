"""What the observe/select nodes read from the archive: the session's history, parents, Context."""

from __future__ import annotations

import random

from agents.chat.brief import read_brief
from agents.session.runtime import Runtime
from agents.strategies.fitness_tasks import fitness_metrics
from agents.strategy import Context
from archive import selection
from archive.record import Candidate

UNFINISHED = ("proposed", "running")
SUMMARY_TOKENS = 1500
LESSONS = 10


def unfinished(rt: Runtime, session: str) -> list[str]:
    """Candidates to run before anything new: chat's queue first, then this session's recorded but never finished ones."""
    waiting = rt.archive.session_candidates(session, status=UNFINISHED)
    return [*rt.archive.queued(), *sorted(waiting)]


def select_parents(rt: Runtime, rng: random.Random) -> dict[str, str]:
    """Parents by `planner.selection.rule` over the search split (only succeeded candidates with a fitness),
    each with the reason it was chosen (shown to the LLM), in draw order."""
    config = rt.planner.selection
    pool = [c for c in rt.archive.candidates(split="search") if c.status == "succeeded" and c.fitness is not None]
    if not pool:
        return {}
    if config.rule == "mixed":
        picks = selection.mixed(pool, config.parents, rng, exploit=config.exploit, elites=config.elites)
    elif config.rule == "best":
        picks = [(c.id, "best") for c in selection.by_rank(pool)[: config.parents]]
    else:
        picks = [(cid, config.rule) for cid in getattr(selection, config.rule)(pool, config.parents, rng)]
    chosen: dict[str, str] = {}
    for cid, draw in picks:
        chosen.setdefault(cid, why_chosen(cid, draw, pool, config))
    return chosen


def why_chosen(cid: str, draw: str, pool: list, config) -> str:
    ranked = selection.by_rank(pool)
    rank = next(i for i, c in enumerate(ranked) if c.id == cid) + 1
    c = ranked[rank - 1]
    where = f"rank {rank} of {len(ranked)} scored candidates on the search split (fitness {c.fitness:.4f}), {c.children} child(ren) so far"
    if draw == "exploit":
        return f"exploit draw (probability {config.exploit:g}): among the {config.elites} best; {where}. Build on what makes it strong."
    if draw == "explore":
        chance = selection.dgm_robust_weights(pool)[cid]
        return (
            f"explore draw (probability {1 - config.exploit:g}, DGM rule: good candidates with few children are likelier; "
            f"this one had a {chance:.0%} chance): {where}. Try a direction its line has not tried yet."
        )
    if draw == "best":
        return f"selection rule best: {where}."
    return f"selection rule {draw}: {where}."


def session_rng(rt: Runtime, done: int) -> random.Random:
    """Seeded by the session seed and how far it got, so a resumed session draws as a fresh one would."""
    return random.Random(f"{rt.seed}:{done}")


def build_context(rt: Runtime, session: str, parents: dict[str, str], wanted: int, fallback: bool) -> Context:
    """`parents`: parent id -> why it was chosen (select_parents)."""
    past = rt.history(session)
    summary = rt.archive.summary(max_tokens=SUMMARY_TOKENS, metric_of=fitness_metrics(rt.workspace))
    return Context(
        workspace=rt.workspace,
        archive=rt.archive,
        session=session,
        budget=rt.budget,
        rng=session_rng(rt, len(past)),
        wanted=wanted,
        history=past,
        sources=refresh_sources(rt),
        parents=list(parents),
        parent_notes=dict(parents),
        in_flight=[c for c in past if c.status in UNFINISHED],
        summary=summary,
        brief=read_brief(rt.workspace),
        lessons=[f"{c.id}: {c.lesson}" for c in past if c.lesson][-LESSONS:],
        model=None if fallback else rt.model,
        recipes=rt.recipes() if rt.workspace.config.code is None else None,
    )


def refresh_sources(rt: Runtime) -> list[Candidate]:
    rt.sources = [rt.archive.get(c.id) for c in rt.sources]
    return rt.sources
