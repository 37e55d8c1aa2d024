"""Sharing the lineage: push to and pull from an ordinary git remote, export a bundle.

What travels: `refs/clade/archive` (the marker, the same commit in every archive),
`refs/candidates/*` (never rewritten, so a clash is an error, not a merge) and
`refs/notes/clade`. Pulled notes are merged with git's `cat_sort_uniq` strategy: both
sides only ever append time-stamped JSON lines, so the union of the lines, sorted, is the
merged note. A push is refused by the remote when its notes have moved on: pull first.
The SQLite index is local and never travels; it catches up after a pull.

The remote operations go through GitPython's command layer (`git.Repo(...).git.execute`):
git itself speaks to remotes (ssh, https, paths, bundles) and its credential helpers, and
GitPython gives the call, its environment and its exit status one place. Writes into the
archive stay on Clade's own pack writer (archive/README.md says why).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from archive.refs import CANDIDATES, MARKER, NOTES
from archive.store import Archive
from tools.errors import BadInput
from tools.paths import checked_target, write_error

INCOMING = "refs/notes/clade-incoming"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Clade",
    "GIT_AUTHOR_EMAIL": "clade@localhost",
    "GIT_COMMITTER_NAME": "Clade",
    "GIT_COMMITTER_EMAIL": "clade@localhost",
    "GIT_TERMINAL_PROMPT": "0",
}


def git(archive: Archive, *argv: str, what: str) -> str:
    """Run git on the archive (through GitPython); a failure is BadInput naming what was attempted and git's reason."""
    import git as gitpython

    # Git() with no working directory runs where the user runs clade: a relative remote or bundle path means theirs.
    status, out, err = gitpython.Git().execute(
        ["git", "--git-dir", str(archive.git_dir), *argv],
        with_extended_output=True,
        with_exceptions=False,
        env=GIT_ENV,
        strip_newline_in_stdout=False,
    )
    if status != 0:
        raise BadInput(f"{what} failed: {git_reason(err)}")
    return out


def git_reason(stderr: str) -> str:
    """git's reason in one line: its first line and its fatal:/error:/rejected lines (two at most); hints dropped.
    (git's last line is often the tail of a wrapped sentence, e.g. `and the repository exists.`)"""
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.strip().startswith("hint:")]
    key = [line for line in lines if line.startswith(("fatal:", "error:", "! [", "remote: error"))]
    first = lines[:1] if lines and lines[0] not in key else []  # e.g. `ssh: Could not resolve hostname ...`
    reasons = dict.fromkeys(line.removeprefix("fatal: ").removeprefix("error: ").rstrip(".") for line in (first + key)[:2])
    return "; ".join(reasons) or "git gave no reason"


def remote_refs(archive: Archive, remote: str) -> set[str]:
    out = git(archive, "ls-remote", remote, MARKER, NOTES, what=f"reading remote {remote}")
    return {line.split("\t")[1] for line in out.splitlines() if "\t" in line}


def push(archive: Archive, remote: str) -> None:
    """Push every candidate, the notes and the marker to `remote` (a URL, path or remote name)."""
    specs = [f"{MARKER}:{MARKER}", f"{CANDIDATES}*:{CANDIDATES}*"]
    if archive.notes.head():
        specs.append(f"{NOTES}:{NOTES}")
    git(archive, "push", "--quiet", remote, *specs, what=f"pushing to {remote} (if its notes moved on, pull first)")


def pull(archive: Archive, remote: str) -> int:
    """Fetch `remote`'s candidates and merge its notes; returns how many candidates arrived."""
    refs = remote_refs(archive, remote)
    if MARKER not in refs:
        raise BadInput(f"remote {remote}: not a Clade archive (no {MARKER}); push an archive to it first")
    before = len(archive.refs.candidate_ids())
    with archive.lock:
        specs = [f"{MARKER}:{MARKER}", f"{CANDIDATES}*:{CANDIDATES}*"] + ([f"+{NOTES}:{INCOMING}"] if NOTES in refs else [])
        git(
            archive,
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            *specs,
            what=f"fetching from {remote} (a candidate id that exists on both sides with different commits cannot be merged)",
        )
        if NOTES in refs:
            _merge_notes(archive)
    archive.sync()
    return len(archive.refs.candidate_ids()) - before


def _merge_notes(archive: Archive) -> None:
    incoming = archive.refs.read(INCOMING)
    try:
        if archive.notes.head() is None:
            git(archive, "update-ref", NOTES, incoming, what="adopting the remote's notes")
        else:
            git(archive, "notes", "--ref=clade", "merge", "--quiet", "-s", "cat_sort_uniq", INCOMING, what="merging the remote's notes")
    finally:
        git(archive, "update-ref", "-d", INCOMING, what="removing the fetched notes ref")


def bundle(archive: Archive, out: Path, *, force: bool = False) -> Path:
    """Write a git bundle of the whole lineage (clone or fetch from it like a remote). An existing
    file is replaced only with `force`; a folder, an unwritable place or a missing parent folder is
    refused (BadInput), and nothing is written then."""
    out = checked_target(out, "FILE")
    if os.path.isdir(out):
        raise BadInput(f"FILE {out}: is a directory; give the path of a bundle file to write")
    if not out.parent.is_dir():
        raise BadInput(f"FILE {out}: its folder {out.parent} does not exist; create it first")
    if (out.exists() or out.is_symlink()) and not force:
        raise BadInput(f"FILE {out}: exists; give a new file name, or --force to replace it")
    if not archive.refs.candidate_ids():
        raise BadInput(f"{archive.git_dir}: the archive has no candidates to bundle yet")
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        refs = [MARKER, "--glob=" + CANDIDATES + "*"] + ([NOTES] if archive.notes.head() else [])
        git(archive, "bundle", "create", "--quiet", str(tmp), *refs, what=f"writing bundle {out}")
        os.replace(tmp, out)
    except OSError as exc:
        raise write_error(out, exc, "FILE") from None
    finally:
        tmp.unlink(missing_ok=True)
    return out
