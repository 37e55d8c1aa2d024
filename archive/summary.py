"""The archive in a few hundred tokens, for the planner's context.

Three sections (best candidates, recent failures with their reasons, reviewer comments),
each entry one line. A merge is shown by its whole recipe in compact form (archive/compact.py:
every number of it) and a scored candidate by its score on each task, so a reader can tell two
recipes apart and see which skills each keeps; a rationale is cut at a sentence end. Tokens are estimated as characters / 4. Entries are taken in turn
from each section (best 1, failure 1, review 1, best 2, ...) while they fit, so no section
starves; an entry is kept whole or left out, never cut mid-line, and the last line says
how many were left out.
"""

from __future__ import annotations

from collections.abc import Mapping

from archive.compact import recipe_text, task_scores_text, whole_sentences
from archive.record import Candidate

CHARS_PER_TOKEN = 4
FIELD_CHARS = 160


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def render_summary(
    counts: dict[str, int],
    best: list[Candidate],
    failures: list[Candidate],
    reviewed: list[Candidate],
    *,
    split: str,
    max_tokens: int,
    metric_of: Mapping[str, str] | None = None,
) -> str:
    """`metric_of` (task -> its fitness metric) picks the per-task score shown; without it a task's only metric, or all."""
    total = sum(counts.values())
    header = f"Archive: {total} candidates ({', '.join(f'{s} {n}' for s, n in sorted(counts.items())) or 'none yet'})."
    sections = [
        (f"Best by fitness on split {split!r} [score per task]:", _best_lines(best, split, metric_of)),
        ("Recent failures:", [_failure_line(c) for c in failures]),
        ("Reviewer comments:", [line for c in reviewed for line in _review_lines(c)]),
    ]
    kept = _fit(header, sections, max_tokens)
    lines = [header]
    for (title, entries), n in zip(sections, kept):
        if n:
            lines += [title, *entries[:n]]
    left = sum(len(entries) for _, entries in sections) - sum(kept)
    if left:
        lines.append(f"({left} more entries left out to stay within {max_tokens} tokens)")
    return "\n".join(lines)


def _fit(header: str, sections: list[tuple[str, list[str]]], max_tokens: int) -> list[int]:
    """How many entries of each section fit, taking them in turn; room is kept for the footer."""
    budget = max_tokens * CHARS_PER_TOKEN - len(header) - 80
    kept = [0] * len(sections)
    progress = True
    while progress:
        progress = False
        for i, (title, entries) in enumerate(sections):
            if kept[i] < len(entries):
                cost = len(entries[kept[i]]) + 1 + (len(title) + 1 if kept[i] == 0 else 0)
                if cost <= budget:
                    budget -= cost
                    kept[i] += 1
                    progress = True
    return kept


def _clip(text: str | None, limit: int = FIELD_CHARS) -> str:
    return whole_sentences(text or "", limit)


def what(c: Candidate) -> str:
    """A candidate's genotype in one line: the compact recipe, the code files, or the source's name."""
    g = c.genotype
    if c.kind == "merge":
        return recipe_text(g.recipe)
    if c.kind == "code":
        return f"code, {len(g.files)} files"
    return f"source {g.name}"


def _best_lines(best: list[Candidate], split: str, metric_of: Mapping[str, str] | None) -> list[str]:
    """One line each; a rationale already given above (the members of one CMA-ES run share theirs) is not repeated."""
    lines, said = [], {}
    for c in best:
        why = _clip(c.proposer.rationale) if c.proposer.rationale else ""
        lines.append(_best_line(c, split, metric_of, f"as {said[why]}" if why in said else why))
        said.setdefault(why, c.id)
    return lines


def _best_line(c: Candidate, split: str, metric_of: Mapping[str, str] | None, why: str) -> str:
    parents = ",".join(c.parents) or "-"
    why = f"; why: {why}" if why else ""
    tasks = task_scores_text(c.metrics.get(split), metric_of)
    return (
        f"- {c.id} fitness {c.fitness(split):.4f}"
        + (f" [{tasks}]" if tasks else "")
        + f" {what(c)} (parents {parents}; by {c.proposer.strategy}){why}"
    )


def _failure_line(c: Candidate) -> str:
    return f"- {c.id} {c.status}: {what(c)}; reason: {_clip(c.reason)}"


def _review_lines(c: Candidate) -> list[str]:
    return [f"- {c.id} {r.verdict} by {r.who}: {_clip(r.comment) or '(no comment)'}" for r in c.reviews]
