"""The page's views beyond the overview: two candidates side by side, the Pareto front over
tasks, spend over time, and the groups the lineage graph lays out in columns (plain functions).

    GET /api/compare/A/B?split=S   metrics per split and task side by side (B - A), the genotype diff (or why none)
    GET /api/pareto?split=S        every succeeded candidate's score on each task, and which are on the front
    GET /api/spend                 per session: cumulative compute seconds, LLM tokens and dollars over time
"""

from __future__ import annotations

from datetime import datetime

from agents.ui.state import UIState

GROUPS_SQL = """
SELECT c.id, c.session, json_extract(r.base, '$.proposer.params.run'), json_extract(r.base, '$.proposer.params.generation')
FROM candidates c JOIN records r ON r.id = c.id
"""
SPEND_SQL = """
SELECT c.id, c.session, c.created_at, json_extract(r.state, '$.cost.compute_s'), json_extract(r.state, '$.cost.llm_tokens'),
       json_extract(r.state, '$.cost.dollars')
FROM candidates c JOIN records r ON r.id = c.id WHERE c.session IS NOT NULL ORDER BY c.created_at, c.id
"""


def groups(archive) -> dict[str, str]:
    """Candidate id -> its column group in the lineage graph: the session and, for a CMA-ES member, its run and generation."""
    out = {}
    for cid, session, run, generation in archive.index.query(GROUPS_SQL):
        out[cid] = f"{session or ''}:{run}:g{generation}" if generation is not None else session or ""
    return out


def compare(state: UIState, a: str, b: str, split: str) -> dict:
    from archive.render import metric_rows

    archive = state.archive.get()
    left, right = archive.get(a), archive.get(b)
    note = archive.diff_note(left.id, right.id)
    side = lambda c: {
        "id": c.id,
        "name": c.source_name(),
        "kind": c.kind,
        "status": c.status,
        "verdict": c.verdict(),
        "fitness": c.fitness(split),
    }
    return {
        "a": side(left),
        "b": side(right),
        "split": split,
        "metrics": metric_rows(left, right),
        "diff": "" if note else archive.diff(left.id, right.id),
        "note": note,
    }


def task_metrics(state: UIState, split: str) -> list[str]:
    """The metric each task's fitness is read from (`task/metric`), as clade.yaml's suite says; [] when it cannot be read."""
    from tools.errors import BadInput

    if state.workspace.config.code is not None:
        return []
    try:
        from tools.evaluate.suite import load_suite

        return [f"{t.name}/{t.spec.fitness_metric}" for t in load_suite(state.workspace).tasks]
    except BadInput:
        return []


def pareto(state: UIState, split: str) -> dict:
    """Succeeded candidates' task scores and the front over them (every task's fitness metric, maximised)."""
    archive = state.archive.get()
    rows = [r for r in archive.candidates(split=split, status="succeeded", with_metrics=True) if r.metrics]
    objectives = [m for m in task_metrics(state, split) if any(m in r.metrics for r in rows)] or sorted(
        {m for r in rows for m in r.metrics}
    )
    front = {r.id for r in archive.pareto(split=split, objectives=objectives)} if objectives and rows else set()
    points = [
        {
            "id": r.id,
            "name": r.name,
            "kind": r.kind,
            "fitness": r.fitness,
            "front": r.id in front,
            "scores": {m: r.metrics.get(m) for m in objectives},
        }
        for r in rows
    ]
    return {"split": split, "objectives": objectives, "points": points, "front": len(front)}


def spend(state: UIState) -> dict:
    """Per session, in proposal order: seconds since the session's first candidate and the cumulative spend."""
    sessions: dict[str, list] = {}
    for cid, session, created, compute, tokens, dollars in state.archive.get().index.query(SPEND_SQL):
        points = sessions.setdefault(session, [])
        t = datetime.fromisoformat(created).timestamp()
        last = points[-1] if points else {"t0": t, "compute_s": 0.0, "llm_tokens": 0, "dollars": 0.0}
        points.append(
            {
                "id": cid,
                "t0": last["t0"],
                "t": round(t - last["t0"], 3),
                "compute_s": last["compute_s"] + (compute or 0.0),
                "llm_tokens": last["llm_tokens"] + (tokens or 0),
                "dollars": last["dollars"] + (dollars or 0.0),
            }
        )
    return {"sessions": [{"id": s, "points": [{k: v for k, v in p.items() if k != "t0"} for p in pts]} for s, pts in sessions.items()]}
