"""The chat planner's tools: read the archive, propose candidates into the queue, edit the brief.

Each tool takes a pydantic argument model and returns JSON-able data. Input the model got
wrong (an unknown candidate, an invalid recipe) comes back to it as `{"error": "..."}`
so it can correct itself; nothing is written in that case.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.chat.propose import ProposeArgs, propose
from agents.review.actions import verdict
from archive.record import FAILED_STATUSES
from tools.errors import BadInput, describe_validation_error

LOG_TAIL = 2000

TOOL_DOCS = """\
- query_candidates {"status": null|"succeeded"|"failed"|..., "kind": null|"source"|"merge"|"code", "top": 10}: candidates, best search fitness first
- show {"id": ID}: one candidate: genotype, status, metrics per split, cost, reviews, log tail
- compare {"a": ID, "b": ID}: the diff of two genotypes and their metrics side by side
- lineage {"id": ID}: ancestors back to the source models (nearest first) and descendants
- failures {"n": 10}: the most recent failed, invalid or rejected candidates with their reasons
- propose {"kind": "merge", "recipe": {...mergekit recipe naming workspace models...}, "rationale": "...", "run_now": false}
  or {"kind": "code", "parents": [ID], "files": {path: text}, "command": [...], "rationale": "...", "run_now": false}:
  record a new candidate in the queue (the next `clade run` runs it first); run_now runs it at once (minutes)
- edit_brief {"text": "..."} replaces the session brief, {"append": "..."} adds to it: the goals and constraints every later proposal reads"""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueryArgs(_Args):
    status: Literal["proposed", "running", "succeeded", "failed", "invalid", "rejected"] | None = None
    kind: Literal["source", "merge", "code"] | None = None
    top: int = Field(10, gt=0, le=100)


class IdArgs(_Args):
    id: str


class CompareArgs(_Args):
    a: str
    b: str


class FailuresArgs(_Args):
    n: int = Field(10, gt=0, le=50)


class BriefArgs(_Args):
    text: str | None = None
    append: str | None = None


class ChatTools:
    """The tools over one workspace and its open archive; `run(name, args)` dispatches."""

    def __init__(self, workspace, archive, *, who: str, sandbox=None):
        self.workspace, self.archive, self.who, self.sandbox = workspace, archive, who, sandbox
        self.model_name: str | None = None  # set by the agent: recorded in proposals
        self.template_hash: str | None = None
        self.table = {
            "query_candidates": (QueryArgs, self.query_candidates),
            "show": (IdArgs, self.show),
            "compare": (CompareArgs, self.compare),
            "lineage": (IdArgs, self.lineage),
            "failures": (FailuresArgs, self.failures),
            "propose": (ProposeArgs, self.propose),
            "edit_brief": (BriefArgs, self.edit_brief),
        }

    def run(self, name: str, args: dict[str, Any]) -> Any:
        if name not in self.table:
            return {"error": f"no tool {name!r}; the tools are {', '.join(self.table)}"}
        schema, fn = self.table[name]
        try:
            return fn(schema.model_validate(args))
        except ValidationError as exc:
            return {"error": f"{name} arguments: {describe_validation_error(exc)}"}
        except BadInput as exc:
            return {"error": str(exc)}

    def query_candidates(self, a: QueryArgs) -> list[dict]:
        return [r.to_json() for r in self.archive.candidates(status=a.status, kind=a.kind, top=a.top)]

    def show(self, a: IdArgs) -> dict:
        c = self.archive.get(a.id)
        data = c.model_dump(mode="json", exclude={"logs"})
        data["verdict"] = verdict(c)
        data["log_tail"] = c.logs[-LOG_TAIL:]
        if len(c.logs) > LOG_TAIL:
            data["log_note"] = f"the first {len(c.logs) - LOG_TAIL} characters of the log are left out"
        return data

    def compare(self, a: CompareArgs) -> dict:
        left, right = self.archive.get(a.a), self.archive.get(a.b)
        return {"a": _side(left), "b": _side(right), "diff": self.archive.diff(left.id, right.id) or "(identical genotypes)"}

    def lineage(self, a: IdArgs) -> dict:
        """Ancestors back to the sources, and the first 50 descendants (nearest first)."""
        cid = self.archive.resolve(a.id)
        descendants = self.archive.descendants(cid)
        return {
            "id": cid,
            "ancestors": [self._line(i) for i in self.archive.ancestors(cid)],
            "descendants": [self._line(i) for i in descendants[:50]],
            "descendants_total": len(descendants),
        }

    def _line(self, cid: str) -> dict:
        c = self.archive.get(cid)
        name = c.genotype.name if c.kind == "source" else None
        return {
            "id": c.id,
            "kind": c.kind,
            "status": c.status,
            "fitness": c.fitness(),
            "parents": c.parents,
            **({"name": name} if name else {}),
        }

    def failures(self, a: FailuresArgs) -> list[dict]:
        rows = [r for s in FAILED_STATUSES for r in self.archive.candidates(status=s)]
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return [{"id": r.id, "kind": r.kind, "status": r.status, "reason": r.reason, "by": r.strategy} for r in rows[: a.n]]

    def propose(self, a: ProposeArgs) -> dict:
        return propose(self, a)

    def edit_brief(self, a: BriefArgs) -> dict:
        from agents.chat.brief import edit_brief

        # A key pasted into the chat must not reach the brief, which every later prompt reads.
        scrub = self.archive.redactor.text
        return edit_brief(
            self.workspace, text=None if a.text is None else scrub(a.text), append=None if a.append is None else scrub(a.append)
        )


def _side(c) -> dict:
    return {
        "id": c.id,
        "kind": c.kind,
        "status": c.status,
        "verdict": verdict(c),
        "metrics": {split: m.model_dump() for split, m in c.metrics.items()},
    }
