"""The prompt blocks that show candidates: parents (with why they were chosen), proposals in flight,
failures, lessons. Every candidate shown carries its exact compact recipe (archive/compact.py)
and, once scored, its search fitness and its score on each task.

`Shown` is what one prompt needs besides the Context: each task's fitness metric (to pick the
per-task score) and the proposals this strategy already made in the same call (siblings not
recorded yet, shown as in flight).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.strategy import Context, Proposal
from archive.compact import recipe_text, task_scores_text, whole_sentences
from archive.record import FAILED_STATUSES, Candidate
from archive.summary import what
from tools.errors import BadInput

FAILURES = 6
RATIONALE_CHARS = 400
ANCESTORS = 8


@dataclass
class Shown:
    metric_of: dict[str, str] = field(default_factory=dict)
    siblings: list[Proposal] = field(default_factory=list)


def scores(c: Candidate, shown: Shown, split: str = "search") -> str:
    """`search fitness 0.8476 [add 0.950, reverse 0.800, sort 0.790]`, or why there is none."""
    f = c.fitness(split)
    if f is None:
        return c.status if c.status in FAILED_STATUSES else "not scored yet"
    tasks = task_scores_text(c.metrics.get(split), shown.metric_of)
    return f"{split} fitness {f:.4f}" + (f" [{tasks}]" if tasks else "")


def label(c: Candidate) -> str:
    return f"{c.id} (source {c.genotype.name}" if c.kind == "source" else f"{c.id} ({c.kind}"


def find(ctx: Context, cid: str) -> Candidate | None:
    for c in (*ctx.history, *ctx.sources):
        if c.id == cid:
            return c
    if ctx.archive is None:
        return None
    try:
        return ctx.archive.get(cid)
    except BadInput:  # not an id (nor a source name) of this archive
        return None


def lineage_text(ctx: Context, shown: Shown) -> str:
    blocks = [_parent_block(ctx, pid, shown) for pid in ctx.parents]
    return "\n".join(blocks) or "(no parents chosen: this is a first proposal; start from the sources)"


def _parent_block(ctx: Context, pid: str, shown: Shown) -> str:
    c = find(ctx, pid)
    if c is None:
        return f"- {pid}: not found in the archive"
    lines = [f"- {label(c)} by {c.proposer.strategy}): {scores(c, shown)}"]
    if ctx.parent_notes.get(pid):
        lines.append(f"  why chosen: {ctx.parent_notes[pid]}")
    lines.append(f"  recipe: {what(c)}")
    if c.proposer.rationale:
        lines.append(f"  rationale: {whole_sentences(c.proposer.rationale, RATIONALE_CHARS)}")
    if c.lesson:
        lines.append(f"  lesson: {c.lesson}")
    lines.append(f"  ancestors: {_ancestors(ctx, c)}")
    return "\n".join(lines)


def _ancestors(ctx: Context, c: Candidate) -> str:
    if ctx.archive is None or c.id is None:
        return ", ".join(c.parents) or "(none: a source)"
    found = [find(ctx, a) for a in ctx.archive.ancestors(c.id)[:ANCESTORS]]
    text = ", ".join(f"{label(a)}, {_fitness(a)}" for a in found if a is not None)
    return text or "(none: a source)"


def _fitness(c: Candidate) -> str:
    f = c.fitness("search")
    return "not scored)" if f is None else f"{f:.4f})"


def in_flight_text(ctx: Context, shown: Shown) -> str:
    """This session's candidates not finished yet, then this call's earlier proposals (not recorded yet)."""
    lines = [f"- {c.id} ({c.status}): {what(c)}" + _why(c.proposer.rationale) for c in ctx.in_flight]
    lines += [
        f"- proposed just before this one, in the same round: {recipe_text(p.genotype.get('recipe', {}))}" + _why(p.rationale)
        for p in shown.siblings
        if not p.invalid
    ]
    return "\n".join(lines) or "(none)"


def _why(rationale: str) -> str:
    return f"\n  rationale: {whole_sentences(rationale, RATIONALE_CHARS)}" if rationale else ""


def failures_text(ctx: Context, limit: int = FAILURES) -> str:
    failed = [c for c in ctx.history if c.status in FAILED_STATUSES][-limit:]
    lines = [
        f"- {c.id} {c.status}: {whole_sentences(c.reason or 'no reason recorded', RATIONALE_CHARS)}\n  recipe: {what(c)}" for c in failed
    ]
    return "\n".join(lines) or "(none in this session)"


def lessons_text(ctx: Context) -> str:
    return "\n".join(f"- {lesson}" for lesson in ctx.lessons) or "(none yet)"
