"""`clade sessions [--json]`: the workspace's search sessions, newest first.

Each `clade run` keeps a record in `.clade/sessions/<id>.json` (agents/session/records.py):
strategy, seed, budget, backend, status, its runs' wall time, why it stopped. Beside it this
lists what the archive holds of the session (the source of truth): its candidates by status
and its best one on the search split. `clade candidates --session ID` lists its candidates.
A record that cannot be read is listed with what is wrong with it, never hidden.
"""

from __future__ import annotations

import argparse
import json

STATUSES = ("succeeded", "failed", "invalid", "rejected", "proposed", "running")


def register(subparsers) -> None:
    p = subparsers.add_parser("sessions", help="search sessions with their strategy, budget and outcome")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(handler=cmd_sessions)


def cmd_sessions(args: argparse.Namespace) -> int:
    from agents.workspace import load_workspace

    workspace = load_workspace(getattr(args, "workspace", None))
    rows = session_rows(workspace)
    print(json.dumps(rows, indent=1) if args.json else sessions_table(rows))
    return 0


def session_rows(workspace) -> list[dict]:
    """One dict per session record, newest first, with the archive's counts and best candidate."""
    from agents.ui.sessions import read_sessions

    found = read_sessions(workspace.root)
    outcome = _outcomes(workspace, [s["id"] for s in found if "error" not in s])
    return [{**s, **outcome.get(s["id"], {"candidates": {}, "best": None, "best_fitness": None})} for s in found]


def _outcomes(workspace, ids: list[str]) -> dict[str, dict]:
    from archive.store import Archive

    path = workspace.path(workspace.config.archive.path)
    if not ids or not path.exists():
        return {}
    with Archive.open(path, fsync=workspace.config.archive.fsync) as archive:
        counts = archive.sessions()
        best = {sid: archive.candidates(session=sid, status="succeeded", top=1) for sid in ids}
    return {
        sid: {
            "candidates": counts.get(sid, {}),
            "best": best[sid][0].id if best[sid] else None,
            "best_fitness": best[sid][0].fitness if best[sid] else None,
        }
        for sid in ids
    }


def sessions_table(rows: list[dict]) -> str:
    from archive.render import columns

    if not rows:
        return "no sessions recorded yet (`clade run` starts one)"
    body = [_row(r) for r in rows]
    return columns(("SESSION", "STRATEGY", "STATUS", "BUDGET", "CANDIDATES", "BEST(search)", "WALL", "STOPPED BECAUSE"), body)


def _row(r: dict) -> tuple[str, ...]:
    if "error" in r:
        return (r["id"], "-", "unreadable", "-", "-", "-", "-", r["error"])
    counts = r["candidates"]
    total = sum(counts.values())
    detail = ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts.get(s))
    best = "-" if r["best"] is None else f"{r['best']} {r['best_fitness']:.4f}"
    status = r["status"] + (" (fell back to evolution)" if r.get("fallback") else "")
    return (
        r["id"],
        r["strategy"],
        status,
        r["budget_text"],
        f"{total}" + (f" ({detail})" if detail else ""),
        best,
        f"{r['wall_s']:.0f} s",
        r["stop_reason"] or "-",
    )
