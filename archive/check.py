"""`clade archive fsck`: git's own object check plus Clade's structural rules.

Rules checked for every candidate: its ref name is the first 10 digits of its commit; the
commit's tree holds a valid `candidate.json`; the commit's git parents are exactly the
commits of the parents the record names, in order; its note (if any) is valid JSON lines
of events. Notes on commits that are not candidates are reported too. Nothing is written.
Problems name candidates, not git objects: a commit, tree, file or note that git fsck
reports is named by the candidate it belongs to (`4cf60f0899's recipe.yaml`).
"""

from __future__ import annotations

import json
import re
import subprocess

from pydantic import ValidationError

from archive.genotype import read_record
from archive.gitobjects import parse_commit, parse_tree
from archive.record import Candidate
from archive.refs import MARKER
from archive.store import EVENTS, ID_LEN, Archive
from tools.errors import BadInput


def git_fsck(archive: Archive) -> list[str]:
    done = subprocess.run(
        ["git", "--git-dir", str(archive.git_dir), "fsck", "--no-dangling", "--no-progress", "--strict"], capture_output=True, text=True
    )
    noise = ("notice:", "Checking", "checking")
    problems = [line for line in (done.stdout + done.stderr).splitlines() if line.strip() and not line.startswith(noise)]
    if done.returncode != 0 and not problems:
        problems = [f"git fsck exited with status {done.returncode} without saying why"]
    return problems


def check(archive: Archive) -> tuple[int, list[str]]:
    """(number of candidates, problems found); an empty list means the archive is sound."""
    refs = archive.refs.candidate_refs()
    problems = git_fsck(archive)
    for cid, commit in sorted(refs.items()):
        problems += _check_candidate(archive, cid, commit, refs)
    head = archive.notes.head()
    for commit, blob in sorted(archive.notes.all(head).items()):
        problems += _check_note(archive, commit, blob, set(refs.values()))
    problems = [p.replace(" (run `clade archive fsck`)", "") for p in problems]
    if any(SHA.search(p) for p in problems):
        names = object_names(archive, refs)
        problems = [_named(p, names) for p in problems]
    return len(refs), problems


def _named(problem: str, names: dict[str, str]) -> str:
    """Object ids in the text replaced by what they are; commands in backticks are left to run as written."""
    parts = problem.split("`")
    name = lambda m: f"{m[0][:ID_LEN]} ({names[m[0]]})" if m[0] in names else m[0]
    return "`".join(SHA.sub(name, part) if i % 2 == 0 else part for i, part in enumerate(parts))


SHA = re.compile(r"\b[0-9a-f]{40}\b")


def object_names(archive: Archive, refs: dict[str, str]) -> dict[str, str]:
    """git object id -> what it is in candidate terms: `candidate X`, `candidate X's tree`, `candidate X's recipe.yaml`, its note."""
    names = {commit: f"candidate {cid}" for cid, commit in refs.items()}
    marker = archive.refs.read(MARKER)
    if marker:
        names[marker] = f"the archive marker {MARKER}"
    for cid, commit in sorted(refs.items()):
        try:
            tree = parse_commit(archive.objects.read_kind(commit, "commit"))[0]
        except (BadInput, ValueError):
            continue
        names.setdefault(tree, f"candidate {cid}'s tree")
        _name_tree(archive, tree, f"candidate {cid}'s ", names)
    for commit, blob in archive.notes.all(archive.notes.head()).items():
        names.setdefault(blob, f"the note of {names.get(commit, 'commit ' + commit[:ID_LEN])}")
    return names


def _name_tree(archive: Archive, tree: str, prefix: str, names: dict[str, str]) -> None:
    try:
        entries = parse_tree(archive.objects.read_kind(tree, "tree"))
    except (BadInput, ValueError):  # missing or corrupt: git fsck says so, under the name it already has
        return
    for entry in entries:
        names.setdefault(entry.sha, prefix + entry.name)
        if entry.is_tree:
            _name_tree(archive, entry.sha, prefix + entry.name + "/", names)


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
        by_commit = {c: i for i, c in refs.items()}
        found = ", ".join(by_commit.get(c, f"{c[:ID_LEN]} (not a candidate)") for c in git_parents) or "none"
        return [f"candidate {cid}: its git parents ({found}) differ from the record's parents ({', '.join(parents)})"]
    return []


def _check_note(archive: Archive, commit: str, blob: str, candidates: set[str]) -> list[str]:
    if commit not in candidates:
        what = f"the archive marker ({MARKER})" if commit == archive.refs.read(MARKER) else f"commit {commit[:ID_LEN]}"
        return [
            f"refs/notes/clade: a note on {what}, which is not a candidate "
            f"(remove it with `git --git-dir {archive.git_dir} notes --ref=clade remove {commit}`)"
        ]
    try:
        for line in archive.objects.read_kind(blob, "blob").split(b"\n"):
            if line.strip():
                EVENTS.validate_json(line)
    except (BadInput, ValidationError) as exc:
        return [f"candidate {commit[:ID_LEN]}: invalid note line ({str(exc).splitlines()[0]})"]
    return []
