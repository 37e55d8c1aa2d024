"""From proposals to recorded candidates: the validate node (schema, dedupe, static checks).

Every proposal becomes a candidate in the archive before anything runs: `invalid` (with
the reason) when it could not be made valid or fails a static check, `rejected`
("duplicate of <id>") when its genotype was tried before, else `proposed` and queued for
execution. All of them count against the candidate budget.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from agents.session.runtime import Runtime
from agents.session.state import SessionState
from agents.strategy import Proposal
from archive.record import Candidate, Proposer
from tools.errors import BadInput, describe_validation_error

EMPTY_GENOTYPE = {"merge": {"recipe": {}}, "code": {"files": {}}}


def to_candidates(proposals: list[Proposal], session: str, rt: Runtime) -> list[dict[str, Any]]:
    """Candidate records (JSON, `created_at` fixed now, so recording one again after a kill gives the same id)."""
    return [_candidate(p, session, rt).model_dump(mode="json", exclude={"id"}) for p in proposals]


def _candidate(p: Proposal, session: str, rt: Runtime) -> Candidate:
    proposer = Proposer(
        strategy=p.strategy, model=p.model, template_hash=p.template_hash, rationale=p.rationale, session=session, params=p.params
    )
    fields = dict(kind=p.kind, parents=_known_parents(p.parents, rt), proposer=proposer, cost=p.cost)
    reason = p.invalid or _unknown_parents(p.parents, rt)
    if reason is None:
        try:
            return Candidate(genotype=p.genotype, **fields)
        except ValidationError as exc:
            reason = f"the genotype does not fit the {p.kind} schema: {describe_validation_error(exc)}"
    genotype = p.genotype if _fits(p) else EMPTY_GENOTYPE[p.kind]
    return Candidate(genotype=genotype, status="invalid", reason=reason, **fields)


def _fits(p: Proposal) -> bool:
    try:
        Candidate(kind=p.kind, parents=["x"], genotype=p.genotype)
        return True
    except ValidationError:
        return False


def _unknown_parents(parents: list[str], rt: Runtime) -> str | None:
    missing = [p for p in parents if not _exists(p, rt)]
    return f"unknown parent candidate(s) {', '.join(missing)}" if missing else None


def _known_parents(parents: list[str], rt: Runtime) -> list[str]:
    known = [p for p in parents if _exists(p, rt)]
    return known or [c.id for c in rt.sources[:1]]


def _exists(ref: str, rt: Runtime) -> bool:
    try:
        rt.archive.resolve(ref)
        return True
    except BadInput:
        return False


def validate(state: SessionState, rt: Runtime) -> dict:
    """Record each proposal (invalid / rejected / proposed); the proposed ones are this round's batch."""
    pending = []
    for data in state.get("proposals", []):
        candidate = _checked(Candidate.model_validate(data), state["session"], rt)
        cid = rt.archive.record(candidate)
        rt.budget.spent.candidates = len(rt.archive.session_candidates(state["session"]))
        rt.display.line(f"{cid} {candidate.kind} {candidate.status}" + (f": {candidate.reason}" if candidate.reason else ""))
        if candidate.status == "proposed":
            pending.append(cid)
    return {"proposals": [], "pending": pending}


def _checked(candidate: Candidate, session: str, rt: Runtime) -> Candidate:
    if candidate.status == "invalid":
        return candidate
    earlier = [cid for cid in rt.archive.find_genotype(candidate.genotype_hash()) if _earlier(cid, candidate, rt)]
    if earlier:
        return candidate.model_copy(update={"status": "rejected", "reason": f"duplicate of {earlier[0]}"})
    problem = static_check(candidate, rt)
    return candidate.model_copy(update={"status": "invalid", "reason": problem}) if problem else candidate


def _earlier(cid: str, candidate: Candidate, rt: Runtime) -> bool:
    """An archived candidate this one duplicates: not this very record written before a kill (recording it
    again gives the same id), nor a later batch-mate recorded before the kill (it is the duplicate of this one)."""
    other = rt.archive.get(cid)
    return other.proposer.session != candidate.proposer.session or other.created_at < candidate.created_at


def static_check(candidate: Candidate, rt: Runtime) -> str | None:
    """A merge recipe is planned against the models' headers (schema, names, shapes) without loading weights."""
    if candidate.kind != "merge":
        return None
    problem = rt.recipes().problem(candidate.genotype.recipe)  # planned once: a strategy that checked it shares the plan
    return None if problem is None else f"the recipe fails the dry run: {problem}"
