"""The page's JSON endpoints: plain functions of the server state, returning JSON-able data.

    GET  /api/version                  changes whenever a candidate, result, review or session changes
    GET  /api/overview?split=S         counts, spend (total and per session), sessions, best-fitness curve
    GET  /api/graph?split=S            the lineage: one node per candidate (column, row, fitness, status)
    GET  /api/candidate/ID?split=S     genotype files, diff against each parent, metrics, logs, reviews
    POST /api/candidate/ID/approve     {"comment": ""}   -> the candidate page after the review
    POST /api/candidate/ID/reject      {"reason": "..."} -> the same
    GET  /api/chat                     {available, message, turns}
    POST /api/chat                     {"text": "..."}   -> the planner's turn

Input the user can fix (an unknown id, approving a failed candidate) raises BadInput, which
the server answers with HTTP 400 and {"error": "<one line>"}.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.ui import sessions
from agents.ui.layout import layout
from agents.ui.state import UIState
from tools.errors import BadInput, describe_validation_error

SPEND_SQL = """
SELECT json_extract(r.base, '$.proposer.session'), COUNT(*), SUM(json_extract(r.state, '$.cost.llm_tokens')),
       SUM(json_extract(r.state, '$.cost.dollars')), SUM(json_extract(r.state, '$.cost.compute_s'))
FROM records r GROUP BY 1
"""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproveBody(_Body):
    comment: str = ""


class RejectBody(_Body):
    reason: str = ""


class ChatBody(_Body):
    text: str = Field(min_length=1)


def parse_body(model: type[_Body], data: object, what: str) -> _Body:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"{what}: {describe_validation_error(exc)}") from None


def version(state: UIState) -> dict:
    archive = state.archive.get()
    count = archive.index.query("SELECT COUNT(*) FROM candidates")[0][0]
    notes = archive.index.meta("notes_head") or ""
    return {"version": f"{count}:{notes}:{sessions.stamp(state.workspace.root)}"}


def overview(state: UIState, split: str) -> dict:
    v = version(state)["version"]
    return state.memo.get(("overview", split), v, lambda: _overview(state, split, v))


def _overview(state: UIState, split: str, v: str) -> dict:
    archive = state.archive.get()
    rows = sorted(_rows(state, split, v), key=lambda r: (r.created_at, r.id))
    counts: dict[str, dict[str, int]] = {"status": {}, "kind": {}}
    for r in rows:
        counts["status"][r.status] = counts["status"].get(r.status, 0) + 1
        counts["kind"][r.kind] = counts["kind"].get(r.kind, 0) + 1
    total, by_session = spend(archive)
    found = sessions.read_sessions(state.workspace.root)
    for s in found:
        s["archive_spend"] = by_session.get(s["id"], _spend_row(0, 0, 0, 0))
    splits = sorted({"search", split} | {r[0] for r in archive.index.query("SELECT DISTINCT split FROM fitness")})
    return {"workspace": state.workspace.config.name, "root": str(state.workspace.root), "split": split, "splits": splits,
            "total": len(rows), "counts": counts, "spend": total, "sessions": found, "curve": curve(rows), "version": v}


def _rows(state: UIState, split: str, v: str) -> list:
    """Every candidate's summary on `split` (shared by the overview and the graph of one version)."""
    return state.memo.get(("rows", split), v, lambda: state.archive.get().candidates(split=split))


def curve(rows) -> list[dict]:
    """Candidates in creation order: each one's fitness (None if unscored) and the best so far."""
    best, points = None, []
    for i, r in enumerate(rows):
        if r.fitness is not None and (best is None or r.fitness > best):
            best = r.fitness
        points.append({"i": i, "id": r.id, "status": r.status, "fitness": r.fitness, "best": best})
    return points


def spend(archive) -> tuple[dict, dict[str, dict]]:
    """(whole archive, session id -> its candidates') LLM tokens, dollars and compute seconds."""
    total, by_session = _spend_row(0, 0, 0, 0), {}
    for session, n, tokens, dollars, compute in archive.index.query(SPEND_SQL):
        row = _spend_row(n, tokens or 0, dollars or 0.0, compute or 0.0)
        if session is not None:
            by_session[session] = row
        total = {key: total[key] + row[key] for key in total}
    return total, by_session


def _spend_row(candidates: int, tokens: int, dollars: float, compute_s: float) -> dict:
    return {"candidates": candidates, "llm_tokens": tokens, "dollars": dollars, "compute_s": compute_s}


def graph(state: UIState, split: str) -> dict:
    v = version(state)["version"]
    return state.memo.get(("graph", split), v, lambda: _graph(state, split, v))


def _graph(state: UIState, split: str, v: str) -> dict:
    rows = {r.id: r for r in _rows(state, split, v)}
    placed = layout([(r.id, r.parents, r.created_at) for r in rows.values()])
    nodes = [{"id": p.id, "column": p.column, "row": p.row, "kind": rows[p.id].kind, "status": rows[p.id].status,
              "fitness": rows[p.id].fitness, "parents": list(rows[p.id].parents), "strategy": rows[p.id].strategy,
              "reason": rows[p.id].reason} for p in placed]
    scored = [n["fitness"] for n in nodes if n["fitness"] is not None]
    return {"split": split, "nodes": nodes, "fitness_range": [min(scored), max(scored)] if scored else None, "version": v}


def candidate(state: UIState, ref: str, split: str) -> dict:
    from agents.review.actions import REVIEWABLE, verdict

    archive = state.archive.get()
    c = archive.get(ref)
    files = {path: data.decode("utf-8", "replace") for path, data in sorted(archive.files(c.id).items()) if path != "candidate.json"}
    return {"candidate": c.model_dump(mode="json"), "split": split, "verdict": verdict(c),
            "children": archive.children_counts([c.id]).get(c.id, 0), "files": files,
            "diffs": [{"parent": p, "text": archive.diff(p, c.id)} for p in c.parents],
            "reviewable": c.kind in REVIEWABLE, "approvable": c.kind in REVIEWABLE and c.status == "succeeded"}


def approve(state: UIState, ref: str, data: object, split: str) -> dict:
    from agents.review import actions

    body = parse_body(ApproveBody, data, "approve")
    done = actions.approve(state.archive.get(), ref, comment=body.comment, who=state.who)
    return candidate(state, done.id, split)


def reject(state: UIState, ref: str, data: object, split: str) -> dict:
    from agents.review import actions

    body = parse_body(RejectBody, data, "reject")
    if not body.reason.strip():
        raise BadInput("reject: the reason is empty; say why the candidate is rejected (the planner reads it)")
    done = actions.reject(state.archive.get(), ref, reason=body.reason, who=state.who)
    return candidate(state, done.id, split)


def chat_status(state: UIState) -> dict:
    return state.chat.status()


def chat_send(state: UIState, data: object) -> dict:
    return state.chat.send(parse_body(ChatBody, data, "chat").text)
