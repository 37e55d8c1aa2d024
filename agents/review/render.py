"""`clade review` output (pure functions): by default a table, one line per candidate awaiting
review (fitness on both splits, the held-out gain over the best source, parents, proposer,
rationale); `--details` (and `clade show ID`) the full view: genotype, metrics beside its
parents' and the best source's, cost and a log excerpt."""

from __future__ import annotations

from agents.review.actions import ReviewItem
from archive.record import Candidate
from archive.render import columns

SPLITS = ("search", "test")
GENOTYPE_LINES = 60
LOG_LINES = 10


RATIONALE_CHARS = 72
FOOTER = (
    "details: `clade show ID`; compare: `clade diff A B`; approve: `clade approve ID [--comment TEXT]`; "
    "reject: `clade reject ID --reason TEXT`"
)


def review_table(items: list[ReviewItem]) -> str:
    """One line per candidate awaiting review, best search fitness first."""
    if not items:
        return NOTHING
    best = items[0].best_source
    gain = f"TEST-{_name(best)}" if best is not None else "TEST-SOURCE"
    body = [
        (
            _label(i.candidate),
            i.candidate.kind,
            _fit(i.candidate, "search"),
            _fit(i.candidate, "test"),
            _gain(i),
            ",".join(_name(p) for p in i.parents),
            _by(i.candidate),
            _short(i.candidate.proposer.rationale),
        )
        for i in items
    ]
    return columns(("ID", "KIND", "SEARCH", "TEST", gain, "PARENTS", "BY", "RATIONALE"), body) + f"\n{len(items)} awaiting review. {FOOTER}"


def _gain(item: ReviewItem) -> str:
    mine, best = item.candidate.fitness("test"), item.best_source.fitness("test") if item.best_source else None
    return "-" if mine is None or best is None else f"{mine - best:+.4f}"


def _by(c: Candidate) -> str:
    return c.proposer.strategy + (f"/{c.proposer.model}" if c.proposer.model else "")


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= RATIONALE_CHARS else flat[: RATIONALE_CHARS - 3] + "..."


def _name(c: Candidate) -> str:
    """A source's name (it works as its id), else the id."""
    return c.genotype.name if c.kind == "source" else c.id


def _label(c: Candidate) -> str:
    return f"{c.id} ({c.genotype.name})" if c.kind == "source" else c.id


def _fit(c: Candidate, split: str) -> str:
    value = c.fitness(split)
    return "-" if value is None else f"{value:.4f}"


def comparison(item: ReviewItem) -> list[tuple[str, Candidate]]:
    """(role, candidate) rows: the candidate, its parents, the best source (when not a parent)."""
    rows = [("candidate", item.candidate)] + [("parent", p) for p in item.parents]
    if item.best_source is not None and item.best_source.id not in item.candidate.parents:
        rows.append(("best source", item.best_source))
    return rows


def _excerpt(text: str, limit: int, what: str) -> list[str]:
    lines = text.rstrip("\n").splitlines()
    if len(lines) <= limit:
        return lines
    return lines[:limit] + [f"({len(lines) - limit} more {what} lines; `clade show ID` prints all)"]


def item_text(item: ReviewItem) -> str:
    c = item.candidate
    who = (
        c.proposer.strategy
        + (f" / {c.proposer.model}" if c.proposer.model else "")
        + (f", session {c.proposer.session}" if c.proposer.session else "")
    )
    lines = [f"== {c.id}  {c.kind}  fitness(search) {_fit(c, 'search')}  proposed by {who}"]
    if c.proposer.rationale:
        lines.append(f"rationale: {' '.join(c.proposer.rationale.split())}")
    lines.append("genotype:" if c.kind == "merge" else "diff against its parent:")
    lines += ["  " + line for line in _excerpt(item.genotype_text, GENOTYPE_LINES, "genotype")]
    rows = comparison(item)
    width = max(len(f"{role} {_label(x)}") for role, x in rows)
    lines.append(("metrics".ljust(width + 4) + "".join(s.ljust(10) for s in SPLITS)).rstrip())
    lines += [(f"  {role} {_label(x)}".ljust(width + 4) + "".join(_fit(x, s).ljust(10) for s in SPLITS)).rstrip() for role, x in rows]
    lines.append(f"cost: {c.cost.llm_tokens} LLM tokens, ${c.cost.dollars:.4f}, {c.cost.compute_s:.1f} s compute")
    if c.logs:
        tail = c.logs.rstrip("\n").splitlines()[-LOG_LINES:]
        lines += ["log (last lines):", *("  " + line for line in tail)]
    return "\n".join(lines)


NOTHING = "nothing awaits review (succeeded merge and code candidates without an approval or rejection)"


def review_text(items: list[ReviewItem]) -> str:
    """The full view of every item (`clade review --details`)."""
    if not items:
        return NOTHING
    footer = "approve with `clade approve ID [--comment TEXT]`, reject with `clade reject ID --reason TEXT`"
    return "\n\n".join([*map(item_text, items), footer])


def item_json(item: ReviewItem) -> dict:
    c = item.candidate
    return {
        "id": c.id,
        "kind": c.kind,
        "fitness": c.fitness("search"),
        "proposer": c.proposer.model_dump(mode="json"),
        "genotype": item.genotype_text,
        "cost": c.cost.model_dump(),
        "metrics": [
            {"role": role, "id": x.id, "name": x.genotype.name if x.kind == "source" else None, **{s: x.fitness(s) for s in SPLITS}}
            for role, x in comparison(item)
        ],
        "reviews": [r.model_dump(mode="json") for r in c.reviews],
        "log_tail": "\n".join(c.logs.rstrip("\n").splitlines()[-LOG_LINES:]),
    }
