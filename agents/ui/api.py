"""The page's JSON endpoints: plain functions of the server state, returning JSON-able data.

    GET  /api/version                  changes whenever a candidate, result, review or session changes
    GET  /api/overview?split=S         counts, spend (total and per session), sessions, best-fitness curve
    GET  /api/graph?split=S            the lineage: one node per candidate (column, row, fitness, status, verdict, name)
    GET  /api/candidate/ID?split=S     genotype files, diff against each parent, metrics per task beside the parents', logs, reviews
    GET  /api/compare/A/B, /api/pareto, /api/spend                                      (agents/ui/views.py)
    POST /api/candidate/ID/approve     {"comment": ""}   -> the candidate page after the review
    POST /api/candidate/ID/reject      {"reason": "..."} -> the same
    GET  /api/chat                     {available, message, turns}
    POST /api/chat                     {"text": "..."}   -> the planner's turn

Input the user can fix (an unknown id, approving a failed candidate) raises BadInput, which
the server answers with HTTP 400 and {"error": "<one line>"}.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.ui import sessions, views
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
    counts: dict[str, dict[str, int]] = {"status": {}, "kind": {}, "verdict": {}}
    for r in rows:
        counts["status"][r.status] = counts["status"].get(r.status, 0) + 1
        counts["kind"][r.kind] = counts["kind"].get(r.kind, 0) + 1
        if r.verdict:
            counts["verdict"][r.verdict] = counts["verdict"].get(r.verdict, 0) + 1
    total, by_session = spend(archive)
    found = sessions.read_sessions(state.workspace.root)
    for s in found:
        s["archive_spend"] = by_session.get(s["id"], _spend_row(0, 0, 0, 0))
    splits = sorted({"search", split} | {r[0] for r in archive.index.query("SELECT DISTINCT split FROM fitness")})
    return {
        "workspace": state.workspace.config.name,
        "root": str(state.workspace.root),
        "split": split,
        "splits": splits,
        "total": len(rows),
        "counts": counts,
        "spend": total,
        "sessions": found,
        "curve": curve(rows),
        "version": v,
    }


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
    group = views.groups(state.archive.get())
    placed = layout([(r.id, r.parents, r.created_at, group.get(r.id, "")) for r in rows.values()])
    nodes = [_node(p, rows[p.id], group.get(p.id, "")) for p in placed]
    scored = [n["fitness"] for n in nodes if n["fitness"] is not None]
    return {"split": split, "nodes": nodes, "fitness_range": [min(scored), max(scored)] if scored else None, "version": v}


def _node(p, r, group: str) -> dict:
    return {
        "id": p.id,
        "column": p.column,
        "row": p.row,
        "kind": r.kind,
        "status": r.status,
        "verdict": r.verdict,
        "name": r.name,
        "fitness": r.fitness,
        "parents": list(r.parents),
        "strategy": r.strategy,
        "session": r.session,
        "group": group,
        "reason": r.reason,
        "created_at": r.created_at,
    }


def candidate(state: UIState, ref: str, split: str) -> dict:
    from agents.review.actions import REVIEWABLE

    archive = state.archive.get()
    c = archive.get(ref)
    files = {path: data.decode("utf-8", "replace") for path, data in sorted(archive.files(c.id).items()) if path != "candidate.json"}
    parents = [archive.get(p) for p in c.parents]
    return {
        "candidate": c.model_dump(mode="json"),
        "split": split,
        "verdict": c.verdict(),
        "name": c.source_name(),
        "workspace": state.workspace.config.name,
        "root": str(state.workspace.root),
        "names": {p.id: p.source_name() for p in parents if p.source_name()},
        "children": archive.children_counts([c.id]).get(c.id, 0),
        "files": files,
        "tasks": task_table(c, parents, views.task_metrics(state, split)),
        "diffs": [_diff(archive, p.id, c.id) for p in parents],
        "reviewable": c.kind in REVIEWABLE,
        "approvable": c.kind in REVIEWABLE and c.status == "succeeded",
    }


def _diff(archive, parent: str, child: str) -> dict:
    note = archive.diff_note(parent, child)
    return {"parent": parent, "text": "" if note else archive.diff(parent, child), "note": note}


def task_table(c, parents: list, fitness_metrics: list[str]) -> list[dict]:
    """Per split and task metric: the candidate's score, each parent's, and `delta` (the candidate minus its best parent)."""
    rows = []
    for split in sorted(c.metrics, key=lambda s: (s != "search", s != "test", s)):
        flat = lambda x: {
            f"{t}/{k}": v for t, vals in (x.metrics[split].tasks.items() if split in x.metrics else ()) for k, v in vals.items()
        }
        mine, theirs = flat(c), [flat(p) for p in parents]
        for metric in sorted(mine, key=lambda m: (m not in fitness_metrics, m)):
            known = [t[metric] for t in theirs if metric in t]
            rows.append(
                {
                    "split": split,
                    "metric": metric,
                    "fitness_metric": metric in fitness_metrics,
                    "value": mine[metric],
                    "parents": [t.get(metric) for t in theirs],
                    "delta": mine[metric] - max(known) if known else None,
                }
            )
    return rows


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


def compare(state: UIState, a: str, b: str, split: str) -> dict:
    return views.compare(state, a, b, split)


def pareto(state: UIState, split: str) -> dict:
    v = version(state)["version"]
    return state.memo.get(("pareto", split), v, lambda: views.pareto(state, split))


def spend_curve(state: UIState) -> dict:
    v = version(state)["version"]
    return state.memo.get(("spend",), v, lambda: views.spend(state))


def chat_status(state: UIState) -> dict:
    return state.chat.status()


def chat_send(state: UIState, data: object) -> dict:
    return state.chat.send(parse_body(ChatBody, data, "chat").text)
