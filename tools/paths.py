"""Rules for the folders and files Clade writes (`clade merge`, `clade export`, `clade init`,
`clade archive bundle`): one place that says which targets are refused and why.

A target is refused (BadInput, exit 2, nothing written) when it is the empty string, has a name
too long for the file system, lies under a file, or its nearest existing folder cannot be written.
An output directory Clade wrote carries a marker file (MARKER) listing the files written with it;
only such a directory may be replaced, and replacing it removes only the files it lists.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from pathlib import Path

from tools.errors import BadInput

MARKER = ".clade-output.json"
SCRATCH_SUFFIX = 28  # ".NAME.clade-tmp-xxxxxxxx": what a temporary sibling adds to a name
WRITE_ERRORS = {
    errno.EACCES: "permission denied",
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOTDIR: "a parent is not a directory",
    errno.EPERM: "operation not permitted",
}


def checked_target(raw, what: str = "OUT_DIR") -> Path:
    """`raw` as an absolute path, after the checks every written target shares (see module doc)."""
    if raw is None or str(raw).strip() == "":
        raise BadInput(f"{what}: an empty path; give a directory name (use '.' for the current directory where allowed)")
    text = str(raw)
    if "\0" in text:
        raise BadInput(f"{what} {text!r}: a path cannot hold a NUL character")
    path = Path(text).expanduser().absolute()
    path = Path(os.path.normpath(path))
    limit = _name_max(path)
    for i, part in enumerate(path.parts[1:], start=2):
        room = limit - (SCRATCH_SUFFIX if i == len(path.parts) else 0)
        if len(part.encode("utf-8", "surrogateescape")) > room:
            raise BadInput(f"{what} {_short(text)}: the name {_short(part)} is too long for the file system (at most {room} bytes here)")
    blocking = next((p for p in reversed(path.parents) if os.path.exists(p) and not os.path.isdir(p)), None)
    if blocking is not None:
        raise BadInput(f"{what} {path}: {blocking} is a file, not a directory; give a path whose parents are directories")
    existing = next((p for p in (path.parent, *path.parent.parents) if os.path.exists(p)), Path("/"))
    if not _writable(existing):
        raise BadInput(f"{what} {path}: {existing} is not writable; choose a folder you can write to")
    return path


def _name_max(path: Path) -> int:
    existing = next((p for p in (path, *path.parents) if os.path.exists(p)), Path("/"))
    try:
        return os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:40] + "..." + text[-12:]


def _writable(folder: Path) -> bool:
    """Whether a file can be created in `folder` (tried, since root passes os.access on read-only mounts)."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    probe = folder / f".clade-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    probe.rmdir()
    return True


def write_error(path: Path, exc: OSError, what: str = "OUT_DIR") -> BadInput:
    """An OSError met while writing `path` as one line (permission, read-only, full disk...)."""
    reason = WRITE_ERRORS.get(exc.errno, exc.strerror or type(exc).__name__)
    where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
    return BadInput(f"{what} {path}: cannot write: {reason}{where}; nothing was written")


def is_under(filename, folder: Path) -> bool:
    """Whether an OSError's filename lies in `folder` (so the error is the target's, not an input's)."""
    if not filename:
        return False
    path = Path(os.path.normpath(Path(os.fsdecode(filename)).absolute()))
    return path == folder or folder in path.parents


def marker_files(folder: Path) -> list[str] | None:
    """The files a Clade output directory lists in its marker; None when it has no valid marker."""
    try:
        data = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, list) or not all(isinstance(f, str) and _plain_name(f) for f in files):
        return None
    return files


def _plain_name(name: str) -> bool:
    return name not in ("", ".", "..", MARKER) and "/" not in name and "\\" not in name and "\0" not in name


def write_marker(folder: Path, written_by: str) -> None:
    """List every file now in `folder` (written by Clade) in its marker file."""
    files = sorted(p.name for p in folder.iterdir() if p.name != MARKER)
    (folder / MARKER).write_text(json.dumps({"written_by": written_by, "files": files}, indent=2) + "\n", encoding="utf-8")


def destination_state(out_dir: Path, command: str) -> str:
    """'new', 'empty' or 'replaces a previous output' for an output directory; BadInput for any other."""
    if out_dir.exists() and not out_dir.is_dir():
        raise BadInput(f"{out_dir}: exists and is not a directory; choose another output directory")
    if not out_dir.exists():
        return "new"
    try:
        entries = [p.name for p in out_dir.iterdir()]
    except OSError as exc:
        raise write_error(out_dir, exc) from None
    if not entries:
        return "empty"
    if marker_files(out_dir) is None:
        raise BadInput(
            f"{out_dir}: exists, is not empty and was not written by {command} (it has no {MARKER}); choose another output directory or empty it (nothing was written)"
        )
    return "replaces a previous output"


def replace_output(staging: Path, out_dir: Path, command: str) -> None:
    """Move the finished output `staging` (a sibling of `out_dir`) into place.

    A new or empty `out_dir` becomes `staging`. A previous output (marker present) loses only the
    files its marker lists; the user's other files stay, and a user file with the name of a new
    file refuses the replacement (nothing is changed then)."""
    if destination_state(out_dir, command) != "replaces a previous output":
        if out_dir.exists():
            out_dir.rmdir()
        staging.rename(out_dir)
        return
    ours = set(marker_files(out_dir) or [])
    theirs = {p.name for p in out_dir.iterdir()} - ours - {MARKER}
    new = {p.name for p in staging.iterdir()}
    clash = sorted(theirs & new)
    if clash:
        raise BadInput(
            f"{out_dir}: {clash[0]} is not a file {command} wrote there, and the new output has a file of that name; move it away first (nothing was written)"
        )
    if not theirs:  # nothing of the user's: swap the whole directory
        old = out_dir.parent / f".{out_dir.name}.clade-old-{uuid.uuid4().hex[:8]}"
        out_dir.rename(old)
        try:
            staging.rename(out_dir)
        except BaseException:
            old.rename(out_dir)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    _swap_files(staging, out_dir, ours)


def _swap_files(staging: Path, out_dir: Path, ours: set[str]) -> None:
    """File by file: the listed old files move aside, the new ones in; undone on any failure."""
    old = out_dir.parent / f".{out_dir.name}.clade-old-{uuid.uuid4().hex[:8]}"
    old.mkdir()
    moved_out: list[str] = []
    moved_in: list[str] = []
    try:
        for name in sorted(ours | {MARKER}):
            if (out_dir / name).exists() or (out_dir / name).is_symlink():
                (out_dir / name).rename(old / name)
                moved_out.append(name)
        for entry in sorted(staging.iterdir()):
            entry.rename(out_dir / entry.name)
            moved_in.append(entry.name)
    except BaseException:
        for name in moved_in:
            (out_dir / name).rename(staging / name)
        for name in moved_out:
            (old / name).rename(out_dir / name)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
