"""Review actions: what awaits review, approve, reject (recorded in the archive's notes).

A review is an `archive.Review` attached to the candidate (who, when, verdict, comment).
A candidate's verdict is its latest `approved` or `rejected` review; `comment` reviews do
not change it. The notes reach the planner through `archive.summary()` ("Reviewer comments").
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from agents import results
from archive.record import Candidate, Review
from tools.errors import BadInput

REVIEWABLE = ("merge", "code")


class ReviewItem(BaseModel):
    """One candidate awaiting review, with what a reviewer compares it against."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    candidate: Candidate
    parents: list[Candidate]
    best_source: Candidate | None
    genotype_text: str  # the recipe (YAML), or the code diff against the first parent


def verdict(candidate: Candidate) -> str | None:
    """'approved' or 'rejected' (the latest such review), or None when neither was given."""
    return candidate.verdict()


def approve(archive, ref: str, *, comment: str = "", who: str) -> Candidate:
    """Record an approval; only a succeeded merge or code candidate can be approved."""
    candidate = archive.get(ref)
    if candidate.kind not in REVIEWABLE:
        raise BadInput(f"candidate {candidate.id}: a {candidate.kind} cannot be approved; only merge and code candidates are reviewed")
    if candidate.status != "succeeded":
        why = f" ({candidate.reason})" if candidate.reason else ""
        raise BadInput(f"candidate {candidate.id}: its status is {candidate.status}{why}; only a succeeded candidate can be approved")
    archive.attach_review(candidate.id, Review(verdict="approved", comment=comment, who=who))
    return archive.get(candidate.id)


def reject(archive, ref: str, *, reason: str, who: str) -> Candidate:
    """Record a rejection with its reason (any merge or code candidate, whatever its status)."""
    if not reason.strip():
        raise BadInput("reject: --reason is empty; say why the candidate is rejected (the planner reads it)")
    candidate = archive.get(ref)
    if candidate.kind not in REVIEWABLE:
        raise BadInput(f"candidate {candidate.id}: a {candidate.kind} cannot be rejected; only merge and code candidates are reviewed")
    archive.attach_review(candidate.id, Review(verdict="rejected", comment=reason, who=who))
    if candidate.status == "proposed" and candidate.proposer.session is None:  # queued: rejecting it takes it off the queue
        archive.attach_result(candidate.id, results.rejected_before_run(who, reason))
    return archive.get(candidate.id)


def awaiting_review(archive, *, split: str = "search", top: int | None = None) -> list[ReviewItem]:
    """Succeeded merge and code candidates with no approval or rejection yet, best on `split` first
    (the `top` best of them, when given)."""
    rows = [r for r in archive.candidates(split=split, status="succeeded") if r.kind in REVIEWABLE]
    pending = [c for c in (archive.get(r.id) for r in rows) if verdict(c) is None][:top]
    best = best_source(archive, split=split)
    return [
        ReviewItem(candidate=c, parents=[archive.get(p) for p in c.parents], best_source=best, genotype_text=genotype_text(archive, c))
        for c in pending
    ]


def best_source(archive, *, split: str = "search") -> Candidate | None:
    """The source model with the best fitness on `split` (None when no source was measured)."""
    rows = [r for r in archive.candidates(split=split, kind="source") if r.fitness is not None]
    return archive.get(rows[0].id) if rows else None


def genotype_text(archive, candidate: Candidate) -> str:
    """A merge's recipe as YAML; a code candidate's diff against its first parent."""
    if candidate.kind == "code":
        return archive.diff(candidate.parents[0], candidate.id) or "(identical to its parent)\n"
    return archive.files(candidate.id).get("recipe.yaml", b"").decode("utf-8", "replace")
