"""The search sessions of a workspace, as the page lists them.

Each session keeps a record at `<workspace>/.clade/sessions/<id>.json` (written by
`clade run`). The page shows the fields below when present; a file that cannot be read
is listed with what is wrong with it rather than hidden. What a session spent is summed
from its candidates in the archive (agents.ui.api.spend), the source of truth.
"""

from __future__ import annotations

import json
from pathlib import Path

SESSIONS_DIR = Path(".clade") / "sessions"
SHOWN = ("id", "strategy", "status", "budget", "spent", "started_at", "updated_at", "finished_at", "stop_reason", "reason", "error")


def sessions_dir(root: Path) -> Path:
    return root / SESSIONS_DIR


def read_sessions(root: Path) -> list[dict]:
    """One entry per session file, newest file first: the shown fields, or `file` and `error`."""
    files = sorted(sessions_dir(root).glob("*.json"), key=lambda p: (-_mtime(p), p.name))
    return [_read(path) for path in files]


def stamp(root: Path) -> str:
    """Changes when a session file is added, removed or rewritten (part of the page's version)."""
    files = sorted(sessions_dir(root).glob("*.json"))
    return ",".join(f"{p.name}@{_mtime(p)}" for p in files)


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return {"id": path.stem, "file": str(path), "error": f"cannot read {path.name}: {exc}"}
    if not isinstance(data, dict):
        return {"id": path.stem, "file": str(path), "error": f"{path.name}: expected a JSON object, found {type(data).__name__}"}
    return {"id": path.stem, **{key: data[key] for key in SHOWN if key in data}}


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:  # removed between the listing and now
        return 0
