"""The search sessions of a workspace, as the page lists them.

Each `clade run` session keeps a record at `<workspace>/.clade/sessions/<id>.json`
(agents.session.records.SessionRecord, read with its own loader). A file that is not a
valid record is listed with what is wrong with it rather than hidden. What a session spent
is summed from its candidates in the archive (agents.ui.api.spend), the source of truth.
"""

from __future__ import annotations

from pathlib import Path

from agents.session.records import SESSIONS_DIR, load
from tools.errors import BadInput


def read_sessions(root: Path) -> list[dict]:
    """One entry per session file, newest first: the record's fields for the page, or `id` and `error`."""
    files = sorted((root / SESSIONS_DIR).glob("*.json"), key=lambda p: (-_mtime(p), p.name))
    return [_read(path) for path in files]


def stamp(root: Path) -> str:
    """Changes when a session file is added, removed or rewritten (part of the page's version)."""
    return ",".join(f"{p.name}@{_mtime(p)}" for p in sorted((root / SESSIONS_DIR).glob("*.json")))


def _read(path: Path) -> dict:
    try:
        record = load(path)
    except BadInput as exc:
        return {"id": path.stem, "error": str(exc)}
    except OSError as exc:  # unreadable (permissions), or removed since the listing
        return {"id": path.stem, "error": f"{path}: cannot read it ({exc.strerror})"}
    return {
        "id": record.id,
        "strategy": record.strategy,
        "status": record.status,
        "backend": record.backend,
        "budget": record.budget.model_dump(exclude_none=True),
        "budget_text": record.budget.describe(),
        "runs": len(record.runs),
        "wall_s": sum(r.wall_s for r in record.runs),
        "stop_reason": record.stop_reason,
        "fallback": record.fallback,
        "created_at": record.created_at.isoformat(),
    }


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:  # removed between the listing and now
        return 0
