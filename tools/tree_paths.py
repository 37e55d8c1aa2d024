"""The rule for a file's path inside a candidate's tree (a code candidate's workspace files).

A path is relative, POSIX, and stays inside the tree: no '..', '.', '.git', backslash, NUL or
leading '/'. The archive refuses to store any other (archive/genotype.py) and the edit applier
refuses to write one (tools/edit/apply.py); both read it here, so the two cannot drift.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from tools.errors import BadInput


def check_path(path: str) -> tuple[str, ...]:
    """The path's parts; BadInput naming the path when it breaks the rule."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or any(p in ("..", ".", ".git") for p in parts) or "\\" in path or "\0" in path:
        raise BadInput(f"genotype file {path!r}: use a relative path inside the workspace (no '..', '.git' or absolute paths)")
    return parts


def plain_path(path: str) -> bool:
    """Whether `path` keeps the rule (check_path without the error)."""
    try:
        check_path(path)
    except BadInput:
        return False
    return True
