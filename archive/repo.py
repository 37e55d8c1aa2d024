"""Finding, creating and recognising an archive repository.

An archive is a bare git repository whose `refs/clade/archive` names the marker commit: a
tree with `clade-archive.json` (`{"format": 1}`), written with a fixed author and time so
that it is the same commit in every archive and archives can be pushed and pulled. A git
repository without it is foreign; one whose marker cannot be read is corrupt. Both are
refused with BadInput before anything is written.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from archive.gitobjects import BLOB_MODE, ObjectStore, TreeEntry, encode_commit, parse_commit
from archive.notes import AUTHOR
from archive.refs import MARKER, RefStore, WriterLock
from tools.errors import BadInput, CladeError

ARCHIVE_FORMAT = 1
MARKER_FILE = "clade-archive.json"


def git_dir_at(path: Path, create: bool) -> Path:
    """The git directory at `path` (a bare repository, or a work tree's .git); with `create`, a new one."""
    if (path / ".git").is_dir():
        path = path / ".git"
    if (path / "HEAD").is_file() and (path / "objects").is_dir() and (path / "refs").is_dir():
        return path.resolve()
    if create and (not path.exists() or (path.is_dir() and not any(path.iterdir()))):
        done = subprocess.run(["git", "init", "--bare", "-q", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise CladeError(f"{path}: `git init --bare` failed: {done.stderr.strip()}")
        return path.resolve()
    if not path.exists():
        raise BadInput(f"{path}: no archive here yet (the first `clade run` creates it; or check archive.path in clade.yaml)")
    raise BadInput(f"{path}: not a git repository, so not a Clade archive (check archive.path in clade.yaml)")


def check_marker(objects: ObjectStore, refs: RefStore, lock: WriterLock, *, create: bool) -> None:
    """Refuse a foreign, corrupt or newer repository; with `create`, mark an empty one."""
    git_dir = refs.git_dir
    sha = refs.read(MARKER)
    if sha is None and create and not _has_refs(refs):
        with lock:
            return write_marker(objects, refs)
    if sha is None:
        raise BadInput(
            f"{git_dir}: a git repository but not a Clade archive (no {MARKER}); point archive.path in clade.yaml at a Clade archive or at a new directory"
        )
    try:
        tree = parse_commit(objects.read_kind(sha, "commit"))[0]
        info = json.loads(objects.read_kind(objects.tree(tree)[MARKER_FILE].sha, "blob"))
    except (BadInput, KeyError, ValueError):
        raise BadInput(
            f"{git_dir}: corrupt Clade archive ({MARKER} cannot be read); check it with `git -C {git_dir} fsck` and restore it from a remote or bundle"
        ) from None
    if int(info.get("format", 0)) > ARCHIVE_FORMAT:
        raise BadInput(f"{git_dir}: archive format {info['format']} is newer than this Clade's ({ARCHIVE_FORMAT}); upgrade Clade")


def _has_refs(refs: RefStore) -> bool:
    return bool(refs.packed()) or any(p.is_file() for p in (refs.git_dir / "refs").rglob("*"))


def write_marker(objects: ObjectStore, refs: RefStore) -> None:
    blob = objects.write_blob(json.dumps({"format": ARCHIVE_FORMAT, "kind": "clade-lineage-archive"}).encode() + b"\n")
    tree = objects.write_tree([TreeEntry(MARKER_FILE, BLOB_MODE, blob)])
    message = "Clade lineage archive\n\nCandidates are commits under refs/candidates/; results and reviews are notes on refs/notes/clade."
    refs.write(MARKER, objects.write("commit", encode_commit(tree, [], AUTHOR, 0, message)))
