"""The lineage archive: a bare git repository, one commit per candidate, notes for results.

    refs/clade/archive         marks the repository as a Clade archive (same commit everywhere)
    refs/candidates/<id>       one per candidate; <id> is the first 10 hex digits of its commit
    refs/notes/clade           results, re-evaluations and reviews, appended as JSON lines

Writing order makes `kill -9` harmless: objects first (each renamed into place), then the
ref (renamed into place), then the SQLite index (a cache, repaired on the next open when a
writer died before updating it). Writers hold `WriterLock` around ref and notes updates.
"""

from __future__ import annotations

import json
import os
import re
from datetime import UTC
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from archive.genotype import RECORD_FILE, genotype_files, read_files, write_tree
from archive.gitobjects import ObjectStore, encode_commit, object_bytes, parse_commit, parse_tree
from archive.index import INDEX_FILE, Index
from archive.notes import Notes
from archive.queries import ArchiveQueries
from archive.record import Candidate, Event, Proposer, ResultEvent, Review, ReviewEvent, fold
from archive.refs import CANDIDATES, RefStore, WriterLock
from archive.repo import check_marker, git_dir_at
from archive.secrets import Redactor
from tools.errors import BadInput, describe_validation_error

ID_LEN = 10
EVENTS = TypeAdapter(Event)


class Archive(ArchiveQueries):
    def __init__(self, git_dir: Path, *, fsync: bool = False, redactor: Redactor | None = None):
        self.git_dir = git_dir
        self.objects = ObjectStore(git_dir, fsync=fsync)
        self.refs = RefStore(git_dir, fsync=fsync)
        self.notes = Notes(self.objects, self.refs)
        self.lock = WriterLock(git_dir)
        self.redactor = redactor or Redactor()
        self.index: Index | None = None

    @classmethod
    def open(
        cls, path: str | Path, *, create: bool = False, fsync: bool = False, redactor: Redactor | None = None, repair: bool = True
    ) -> "Archive":
        """Open (or with `create`, make) the archive at `path`; repairs a missing or stale index
        (unless `repair` is False: for a caller about to `reindex` anyway)."""
        git_dir = git_dir_at(Path(path), create)
        archive = cls(git_dir, fsync=fsync, redactor=redactor or Redactor.from_environ(os.environ))
        try:
            check_marker(archive.objects, archive.refs, archive.lock, create=create)
            archive.index = Index(git_dir / INDEX_FILE, durable=fsync)
            if repair:
                archive.sync()
        except BaseException:
            archive.close()
            raise
        return archive

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
        self.objects.close()
        self.lock.close()

    def __enter__(self) -> "Archive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def record(self, candidate: Candidate) -> str:
        """Commit a new candidate; returns its id. Recording the identical record again returns the same id."""
        parents = [self.resolve(p) for p in candidate.parents]
        data = self.redactor.json(candidate.model_dump_json(exclude={"id", "reviews"}))
        data["parents"] = parents
        record_json = _validated(data, "the candidate to record").model_dump_json(indent=1, exclude={"id", "reviews"}) + "\n"
        data = json.loads(record_json)
        base = Candidate.model_validate(data)  # exactly what a reindex will read back from candidate.json
        commits = [self.index.row(p)[0] for p in parents]
        with self.objects.batch():
            tree = write_tree(self.objects, genotype_files(data, record_json))
            with self.lock:
                cid, commit, fresh = self._commit(tree, commits, base)
                self.objects.flush()
                self.refs.write(CANDIDATES + cid, commit)
                self.objects.compact()
                # Recording an existing candidate again keeps what was attached to it since.
                state = fold(base, []).model_copy(update={"id": cid}) if fresh else self._state(cid, record_json, self._note(commit), base)
                with self.index.transaction() as ix:
                    ix.put(commit, record_json, state, fresh=fresh)
        for review in candidate.reviews:
            self.attach_review(cid, review)
        return cid

    def attach_result(self, ref: str, result: ResultEvent) -> None:
        """Append a result or re-evaluation (status, metrics per split, cost, logs, reason)."""
        self._attach(ref, result)

    def attach_review(self, ref: str, review: Review) -> None:
        self._attach(ref, ReviewEvent(**review.model_dump()))

    def _attach(self, ref: str, event: ResultEvent | ReviewEvent) -> None:
        cid = self.resolve(ref)
        data = self.redactor.json(event.model_dump_json(exclude={"at", "event"}, exclude_none=True))
        line = {"at": _utc(event), "event": event.event, **data}
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
        with self.lock, self.objects.batch():
            head = self.notes.head()
            if (head or "") != (self.index.meta("notes_head") or ""):
                self.sync()  # a writer died between its notes and index updates, or a pull merged notes
                head = self.notes.head()
            commit, base, _ = self.index.row(cid)
            head, note = self.notes.append(commit, text.encode(), f"{event.event} for candidate {cid}", head=head)
            self.objects.compact()
            with self.index.transaction() as ix:
                ix.put(commit, base, self._state(cid, base, note), parents_known=True)
                ix.set_meta("notes_head", head)

    def _commit(self, tree: str, parents: list[str], base: Candidate) -> tuple[str, str, bool]:
        """Write the commit under a free id (the commit time moves on a 10-digit id clash); (id, sha, new?)."""
        when = int(base.created_at.timestamp())
        while True:
            body = encode_commit(tree, parents, _author(base.proposer), when, _message(base))
            sha = object_bytes("commit", body)[0]
            existing = self.refs.read(CANDIDATES + sha[:ID_LEN])
            if existing is None or existing == sha:
                return sha[:ID_LEN], self.objects.write("commit", body), existing is None
            when += 1

    # -- reading -------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The id of the one candidate whose id (or commit) starts with `ref`, or of the source named `ref`."""
        raw = str(ref).strip()
        ref = raw.lower()
        hexed = re.fullmatch(r"[0-9a-f]{4,40}", ref) is not None
        named = [] if hexed and len(ref) >= ID_LEN else self._named(raw)  # a full id is never a name
        matches = self._matches(ref) if hexed else []
        if not matches and not named and self.sync():
            named, matches = self._named(raw), self._matches(ref) if hexed else []
        if named and matches:
            raise BadInput(
                f"candidate {raw}: ambiguous, both the source named {raw} ({named[0][0]}) and the id {matches[0]}; type more digits"
            )
        if named:
            return self._one_named(raw, named)
        if not hexed:
            raise BadInput(
                f"candidate {raw!r}: neither a candidate id (4 to 40 hex digits) nor a source name; `clade candidates` lists both"
            )
        if not matches:
            raise BadInput(f"candidate {ref}: no such candidate in {self.git_dir} (list them with `clade candidates`)")
        if len(matches) > 1:
            raise BadInput(f"candidate {ref}: ambiguous, it starts {', '.join(matches)}; type more digits")
        return matches[0]

    def _matches(self, ref: str) -> list[str]:
        key = ref[:ID_LEN]
        rows = self.index.query("SELECT id, commit_sha FROM candidates WHERE id >= ? AND id < ? ORDER BY id LIMIT 5", (key, key + "g"))
        return [cid for cid, commit in rows if commit.startswith(ref)]

    def get(self, ref: str) -> Candidate:
        """The candidate's current state: its record with every result and review applied."""
        return self.index.state(self.resolve(ref))

    def commit_of(self, ref: str) -> str:
        return self.index.row(self.resolve(ref))[0]

    def files(self, ref: str) -> dict[str, bytes]:
        """The files of a candidate's git tree (candidate.json, recipe.yaml, workspace/...)."""
        tree = parse_commit(self.objects.read_kind(self.commit_of(ref), "commit"))[0]
        return read_files(self.objects, tree)

    def _note(self, commit: str) -> bytes:
        head = self.notes.head()
        return self.notes.read(commit, head) if head else b""

    def _state(self, cid: str, base: str, note: bytes, parsed: Candidate | None = None) -> Candidate:
        """The record (`base`, its JSON text, or already `parsed`) folded with the note's events, sorted."""
        lines = sorted({line for line in note.split(b"\n") if line.strip()})
        try:
            events = [EVENTS.validate_json(line) for line in lines]
        except ValidationError as exc:
            raise BadInput(
                f"candidate {cid}: a line of its note on refs/notes/clade is not a valid event ({exc.errors()[0]['msg']}); fix or remove it with `git notes --ref=clade edit`"
            ) from None
        return fold(parsed or Candidate.model_validate_json(base), events).model_copy(update={"id": cid})

    # -- the index -----------------------------------------------------------------------

    def sync(self) -> bool:
        """Repair the index where it is behind git; True if anything changed."""
        if self._fresh():
            return False
        with self.lock:
            if self._fresh():
                return False
            self.refs.clean_tmp()
            with self.index.transaction() as ix:
                self._repair(ix, self.index.ids(), self.index.meta("notes_head") or None)
            return True

    def reindex(self) -> int:
        """Rebuild the whole index from git; returns the number of candidates."""
        with self.lock, self.index.transaction() as ix:
            ix.clear()
            self._repair(ix, set(), None)
            return len(ix.ids())

    def _fresh(self) -> bool:
        head = self.notes.head() or ""
        return head == (self.index.meta("notes_head") or "") and self.refs.candidate_ids() == self.index.ids()

    def _repair(self, ix: Index, known: set[str], indexed_head: str | None) -> None:
        refs = self.refs.candidate_refs()
        head = self.notes.head()
        changed = self._changed_notes(indexed_head, head)
        for cid in known - refs.keys():
            ix.delete(cid)
        by_commit = {commit: cid for cid, commit in refs.items()}
        missing = sorted(refs.keys() - known)
        renoted = sorted({by_commit[c] for c in changed if c in by_commit} - set(missing))
        bases = self._bases({cid: refs[cid] for cid in missing})
        notes = self.objects.read_many([changed[refs[cid]] for cid in missing + renoted if refs[cid] in changed])
        note = lambda cid: notes[changed[refs[cid]]][1] if refs[cid] in changed else self.notes.read(refs[cid], head) if head else b""
        ix.put_many([(refs[cid], text, self._state(cid, text, note(cid), parsed)) for cid, (text, parsed) in bases.items()])
        for cid in renoted:
            base = ix.row(cid)[1]
            ix.put(refs[cid], base, self._state(cid, base, note(cid)))
        ix.set_meta("notes_head", head or "")

    def _bases(self, commits: dict[str, str]) -> dict[str, tuple[str, Candidate]]:
        """id -> (candidate.json text, parsed record), read from git in three batched rounds (commits, trees, blobs)."""
        bodies = self.objects.read_many(list(commits.values()))
        trees = {cid: parse_commit(_body(bodies[c], "commit", cid))[0] for cid, c in commits.items()}
        tree_bodies = self.objects.read_many(list(trees.values()))
        blobs = {cid: _record_blob(_body(tree_bodies[t], "tree", cid), cid) for cid, t in trees.items()}
        blob_bodies = self.objects.read_many(list(blobs.values()))
        return {cid: self._base(cid, _body(blob_bodies[b], "blob", cid)) for cid, b in blobs.items()}

    def _changed_notes(self, old: str | None, new: str | None) -> dict[str, str]:
        try:
            return self.notes.changed(old, new)
        except BadInput:  # the indexed notes commit is gone (notes rewritten): read them all
            return self.notes.all(new)

    def _base(self, cid: str, record: bytes) -> tuple[str, Candidate]:
        try:
            data = json.loads(record)
        except ValueError:
            raise BadInput(f"candidate {cid}: its candidate.json is not JSON; the archive is corrupt (run `clade archive fsck`)") from None
        return record.decode(), _validated(data, f"candidate {cid}")


def _body(found: tuple[str, bytes], kind: str, cid: str) -> bytes:
    if found[0] != kind:
        raise BadInput(f"candidate {cid}: expected a {kind} object, found a {found[0]}; the archive is corrupt (run `clade archive fsck`)")
    return found[1]


def _record_blob(tree: bytes, cid: str) -> str:
    entry = next((e for e in parse_tree(tree) if e.name == RECORD_FILE and not e.is_tree), None)
    if entry is None:
        raise BadInput(f"candidate {cid}: its tree has no {RECORD_FILE}; this commit is not a Clade candidate (run `clade archive fsck`)")
    return entry.sha


def _validated(data: dict, what: str) -> Candidate:
    version = data.get("schema_version") if isinstance(data, dict) else None
    if isinstance(version, int) and version > Candidate.model_fields["schema_version"].default:
        raise BadInput(f"{what}: record schema {version} is newer than this Clade's; upgrade Clade")
    try:
        return Candidate.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"{what}: {describe_validation_error(exc)}") from None


def _utc(event: ResultEvent | ReviewEvent) -> str:
    """Fixed-width UTC time stamp: lexical order is time order (what notes merging keeps)."""
    return event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _author(proposer: Proposer) -> str:
    name = proposer.strategy + (f" ({proposer.model})" if proposer.model else "")
    return re.sub(r"[<>\n]", "", name) + " <clade@localhost>"


def _message(c: Candidate) -> str:
    g = c.genotype
    what = {
        "source": lambda: g.name,
        "merge": lambda: str(g.recipe.get("merge_method", "recipe")),
        "code": lambda: f"{len(g.files)} files",
    }[c.kind]()
    rationale = c.proposer.rationale[:2000] + (" [... cut]" if len(c.proposer.rationale) > 2000 else "")
    return f"{c.kind}: {what} [{c.status}]" + (f"\n\n{rationale}" if rationale else "")
