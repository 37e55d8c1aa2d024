"""`clade archive fsck`: git's own object check plus Clade's structural rules.

Rules checked for every candidate: its ref name is the first 10 digits of its commit; the
commit's tree holds a valid `candidate.json`; the commit's git parents are exactly the
commits of the parents the record names, in order; its note (if any) is valid JSON lines
of events. Notes on commits that are not candidates are reported too. Nothing is written.
"""

from __future__ import annotations

import json
import subprocess

from pydantic import ValidationError

from archive.genotype import read_record
from archive.gitobjects import parse_commit
from archive.record import Candidate
from archive.store import EVENTS, ID_LEN, Archive
from tools.errors import BadInput


def git_fsck(archive: Archive) -> list[str]:
    done = subprocess.run(["git", "--git-dir", str(archive.git_dir), "fsck", "--no-dangling", "--no-progress", "--strict"],
                          capture_output=True, text=True)
    noise = ("notice:", "Checking", "checking")
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and not line.startswith(noise)]
    if done.returncode != 0 and not problems:
        problems = [f"git fsck exited with status {done.returncode} without saying why"]
    return problems


def check(archive: Archive) -> tuple[int, list[str]]:
    """(number of candidates, problems found); an empty list means the archive is sound."""
    problems = git_fsck(archive)
    refs = archive.refs.candidate_refs()
    for cid, commit in sorted(refs.items()):
        problems += _check_candidate(archive, cid, commit, refs)
    head = archive.notes.head()
    for commit, blob in sorted(archive.notes.all(head).items()):
        problems += _check_note(archive, commit, blob, set(refs.values()))
    return len(refs), problems


def _check_candidate(archive: Archive, cid: str, commit: str, refs: dict[str, str]) -> list[str]:
    if commit[:ID_LEN] != cid:
        return [f"refs/candidates/{cid}: names commit {commit}, whose id would be {commit[:ID_LEN]}"]
    try:
        tree, git_parents, _ = parse_commit(archive.objects.read_kind(commit, "commit"))
        record = json.loads(read_record(archive.objects, tree))
        parents = Candidate.model_validate(record).parents
    except (BadInput, ValueError, ValidationError) as exc:
        return [f"candidate {cid}: {str(exc).splitlines()[0]}"]
    expected = [refs.get(p) for p in parents]
    if None in expected:
        return [f"candidate {cid}: parent {parents[expected.index(None)]} is not in the archive"]
    if expected != git_parents:
        return [f"candidate {cid}: git parents {git_parents} differ from the record's parents {parents}"]
    return []


def _check_note(archive: Archive, commit: str, blob: str, candidates: set[str]) -> list[str]:
    if commit not in candidates:
        return [f"refs/notes/clade: a note on {commit}, which is not a candidate"]
    try:
        for line in archive.objects.read_kind(blob, "blob").split(b"\n"):
            if line.strip():
                EVENTS.validate_json(line)
    except (BadInput, ValidationError) as exc:
        return [f"candidate {commit[:ID_LEN]}: invalid note line ({str(exc).splitlines()[0]})"]
    return []
