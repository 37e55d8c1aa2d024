"""The session brief (`planner.brief` in clade.yaml, default brief.md): read it, replace it, append to it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tools.errors import BadInput

SHOWN = 2000


def brief_path(workspace) -> Path:
    return workspace.path(workspace.config.planner.brief)


def read_brief(workspace) -> str:
    path = brief_path(workspace)
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def edit_brief(workspace, *, text: str | None = None, append: str | None = None) -> dict:
    """Replace the brief with `text`, or add `append` as a new paragraph; written atomically."""
    if (text is None) == (append is None):
        raise BadInput("edit_brief: give exactly one of text (replace the brief) or append (add to it)")
    path = brief_path(workspace)
    old = read_brief(workspace)
    new = text if text is not None else (old.rstrip("\n") + "\n\n" if old.strip() else "") + append
    new = new if new.endswith("\n") or not new else new + "\n"
    write_atomic(path, new)
    shown = new if len(new) <= SHOWN else new[:SHOWN] + f"\n[... {len(new) - SHOWN} more characters]"
    return {"brief": str(path), "chars": len(new), "was_chars": len(old), "text": shown}


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
