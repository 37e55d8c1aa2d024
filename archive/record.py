"""The candidate record: a versioned pydantic schema, importable without torch.

A `Candidate` is written once, as one git commit (its genotype and creation fields).
What is learnt later arrives as events appended to the candidate's git note:
`ResultEvent` (status, metrics, cost, logs, reason: a result or a re-evaluation) and
`ReviewEvent` (a person's approval, rejection or comment). `fold` applies them in time
order to give the candidate's current state, which is what `Archive.get` returns.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tools.evaluate.result import ExampleScores

SCHEMA_VERSION = 1
LOG_LIMIT = 20_000

Kind = Literal["source", "merge", "code"]
Status = Literal["proposed", "running", "succeeded", "failed", "invalid", "rejected"]
FAILED_STATUSES = ("failed", "invalid", "rejected")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class SourceGenotype(_Strict):
    """A root: a model directory a search starts from (or, for code, the initial workspace files)."""

    name: str
    path: str = ""
    files: dict[str, str] = Field(default_factory=dict)


class MergeGenotype(_Strict):
    """A merge recipe, kept opaque here: a mapping the merge engine validates."""

    recipe: dict[str, Any]


class CodeGenotype(_Strict):
    """A workspace tree (relative path -> text) and the command that evaluates it."""

    files: dict[str, str]
    command: list[str] = Field(default_factory=list)


Genotype = Union[MergeGenotype, CodeGenotype, SourceGenotype]
_GENOTYPE_OF: dict[str, type] = {"source": SourceGenotype, "merge": MergeGenotype, "code": CodeGenotype}


class Proposer(_Strict):
    strategy: str = "human"
    model: str | None = None
    template_hash: str | None = None
    rationale: str = ""
    session: str | None = Field(None, description="the search session that proposed it (None: a person, chat's queue)")
    params: dict[str, Any] = Field(default_factory=dict, description="strategy-private data, e.g. CMA-ES generation and vector")


class SplitMetrics(_Strict):
    """One split's evaluation, the shape of tools.evaluate's EvalResult: fitness and task -> metric -> value.

    `per_example` (task -> its fitness metric example by example, 4 decimals) is kept for the
    held-out split only, where a session claims one model beats another with an interval.
    `stage` is "cascade" when the evaluation cascade cut the measurement short (its figures cover
    only the first examples of each task, counted in `examples`): such a split is never "best"."""

    fitness: float | None = None
    tasks: dict[str, dict[str, float]] = Field(default_factory=dict)
    per_example: dict[str, ExampleScores] = Field(default_factory=dict)
    stage: Literal["full", "cascade"] = "full"
    examples: dict[str, int] = Field(default_factory=dict)


class Cost(_Strict):
    llm_tokens: int = 0
    dollars: float = 0.0
    compute_s: float = 0.0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            llm_tokens=self.llm_tokens + other.llm_tokens, dollars=self.dollars + other.dollars, compute_s=self.compute_s + other.compute_s
        )


class Review(_Strict):
    verdict: Literal["approved", "rejected", "comment"]
    comment: str = ""
    who: str = "unknown"
    at: datetime = Field(default_factory=utcnow)


def truncate_log(text: str, limit: int = LOG_LIMIT) -> str:
    """Keep the head and tail of a long log, saying how much was cut (never silently)."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut by the archive ...]\n{text[-half:]}"


class Candidate(_Strict):
    schema_version: Literal[1] = SCHEMA_VERSION
    id: str | None = None
    kind: Kind
    parents: list[str] = Field(default_factory=list)
    genotype: Genotype
    proposer: Proposer = Field(default_factory=Proposer)
    status: Status = "proposed"
    reason: str | None = None
    metrics: dict[str, SplitMetrics] = Field(default_factory=dict)
    cost: Cost = Field(default_factory=Cost)
    logs: str = ""
    lesson: str | None = Field(None, description="the planner's short reflection on the result, fed to later proposals")
    reviews: list[Review] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _genotype_by_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("genotype"), dict) and data.get("kind") in _GENOTYPE_OF:
            data = {**data, "genotype": _GENOTYPE_OF[data["kind"]].model_validate(data["genotype"])}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> "Candidate":
        if not isinstance(self.genotype, _GENOTYPE_OF[self.kind]):
            raise ValueError(f"a {self.kind} candidate needs a {_GENOTYPE_OF[self.kind].__name__} genotype")
        if (self.kind == "source") != (not self.parents):
            raise ValueError("a source candidate has no parents; merge and code candidates have at least one")
        if self.status in FAILED_STATUSES and not self.reason:
            raise ValueError(f"a {self.status} candidate needs a reason")
        self.logs = truncate_log(self.logs)
        return self

    def fitness(self, split: str = "search") -> float | None:
        m = self.metrics.get(split)
        return m.fitness if m else None

    def cut(self, split: str = "search") -> bool:
        """Measured on `split` by a first pass only (the evaluation cascade skipped the rest)."""
        m = self.metrics.get(split)
        return m is not None and m.stage == "cascade"

    def verdict(self) -> str | None:
        """'approved' or 'rejected' (the latest such review), or None when neither was given.
        Not the status: status `rejected` is the planner refusing a proposal before it ran."""
        decided = [r.verdict for r in self.reviews if r.verdict in ("approved", "rejected")]
        return decided[-1] if decided else None

    def source_name(self) -> str | None:
        """A source's name (clade.yaml's `sources:` name, or `base`): what people call it."""
        return self.genotype.name if self.kind == "source" else None

    def genotype_hash(self) -> str:
        return genotype_hash(self.kind, self.genotype)


def genotype_hash(kind: str, genotype: BaseModel) -> str:
    """SHA-256 of the canonical JSON of a genotype: equal genotypes, equal hashes (dedupe key)."""
    canonical = json.dumps({"kind": kind, "genotype": genotype.model_dump(mode="json")}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class ResultEvent(_Strict):
    """A result or re-evaluation: `metrics` replace those of the same split, `cost` adds up."""

    event: Literal["result"] = "result"
    at: datetime = Field(default_factory=utcnow)
    status: Status | None = None
    reason: str | None = None
    metrics: dict[str, SplitMetrics] = Field(default_factory=dict)
    cost: Cost = Field(default_factory=Cost)
    logs: str | None = None
    lesson: str | None = None

    @model_validator(mode="after")
    def _reasoned(self) -> "ResultEvent":
        if self.status in FAILED_STATUSES and not self.reason:
            raise ValueError(f"a {self.status} result needs a reason")
        if self.logs is not None:
            self.logs = truncate_log(self.logs)
        return self


class ReviewEvent(Review):
    event: Literal["review"] = "review"


Event = Annotated[Union[ResultEvent, ReviewEvent], Field(discriminator="event")]


def fold(candidate: Candidate, events: list[ResultEvent | ReviewEvent]) -> Candidate:
    """The candidate's current state: its record with every event applied in order (`candidate` is changed)."""
    state = candidate
    for ev in events:
        if isinstance(ev, ReviewEvent):
            state.reviews.append(Review(**ev.model_dump(exclude={"event"})))
            continue
        state.status = ev.status or state.status
        state.reason = ev.reason if ev.status else (ev.reason or state.reason)
        state.metrics.update(ev.metrics)
        state.cost = state.cost + ev.cost
        state.logs = ev.logs if ev.logs is not None else state.logs
        state.lesson = ev.lesson if ev.lesson is not None else state.lesson
    return state
