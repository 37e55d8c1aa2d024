"""Results and reviews as git notes on `refs/notes/clade`, appended without rewriting history.

Each candidate commit has at most one note: JSON lines, one event per line, each line
starting with its `"at"` time stamp so that lexical order is time order. A note is only
ever appended to. That is exactly what git's `cat_sort_uniq` notes-merge strategy
preserves, so two hosts' notes merge with `git notes merge -s cat_sort_uniq` on pull.
The notes tree is written with git's 2/38 fan-out (`ab/cdef...`); flat or deeper layouts
written by git itself are read too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from archive.gitobjects import BLOB_MODE, TREE_MODE, ObjectStore, TreeEntry, encode_commit, parse_commit
from archive.refs import NOTES, RefStore

AUTHOR = "Clade <clade@localhost>"


class Notes:
    def __init__(self, objects: ObjectStore, refs: RefStore):
        self.objects = objects
        self.refs = refs

    def head(self) -> str | None:
        return self.refs.read(NOTES)

    def root(self, notes_commit: str | None) -> str | None:
        if notes_commit is None:
            return None
        return parse_commit(self.objects.read_kind(notes_commit, "commit"))[0]

    def read(self, commit: str, notes_commit: str | None = None) -> bytes:
        """The note on `commit` (b"" when it has none)."""
        root = self.root(notes_commit or self.head())
        blob = self._find(root, commit) if root else None
        return self.objects.read_kind(blob, "blob") if blob else b""

    def _find(self, tree: str, rest: str) -> str | None:
        """The note blob for `rest` under a tree: flat, or under 2-digit fan-out levels as git writes them."""
        entries = self.objects.tree(tree)
        leaf = entries.get(rest)
        if leaf is not None and not leaf.is_tree:
            return leaf.sha
        sub = entries.get(rest[:2])
        return self._find(sub.sha, rest[2:]) if sub is not None and sub.is_tree and len(rest) > 2 else None

    def append(self, commit: str, lines: bytes, message: str, *, head: str | None) -> tuple[str, bytes]:
        """Append lines to the note on `commit`, given the current notes commit `head` (read under
        WriterLock); returns (new notes commit, whole note)."""
        root = self.root(head)
        entries = self.objects.tree(root) if root else {}
        entries.pop(commit, None)  # a flat note from `git notes`: folded into the fan-out below
        old = self.read(commit, head) if head else b""
        sub_name, leaf = commit[:2], commit[2:]
        existing = entries.get(sub_name)
        sub = self.objects.tree(existing.sha) if existing is not None and existing.is_tree else {}
        note = old + lines
        sub[leaf] = TreeEntry(leaf, BLOB_MODE, self.objects.write_blob(note))
        entries[sub_name] = TreeEntry(sub_name, TREE_MODE, self.objects.write_tree(list(sub.values())))
        # replacing a fan-out directory keeps the parsed (sorted) order: no need to sort 256 entries again
        new_root = self.objects.write_tree(list(entries.values()), presorted=existing is not None and existing.is_tree)
        body = encode_commit(new_root, [head] if head else [], AUTHOR, int(time.time()), message)
        new_head = self.objects.write("commit", body)
        self.objects.flush()
        self.refs.write(NOTES, new_head)
        return new_head, note

    def all(self, notes_commit: str | None) -> dict[str, str]:
        """commit -> note blob, for every note in a notes commit."""
        root = self.root(notes_commit)
        return dict(self._walk(root, "")) if root else {}

    def changed(self, old_commit: str | None, new_commit: str | None) -> dict[str, str]:
        """commit -> note blob for the notes that differ between two notes commits."""
        new_root, old_root = self.root(new_commit), self.root(old_commit)
        if new_root is None:
            return {}
        if old_root is None:
            return dict(self._walk(new_root, ""))
        return dict(self._diff(old_root, new_root, ""))

    def _walk(self, tree: str, prefix: str) -> Iterator[tuple[str, str]]:
        entries = self.objects.tree(tree).values()
        self.objects.prefetch([e.sha for e in entries if e.is_tree])
        for entry in entries:
            if entry.is_tree:
                yield from self._walk(entry.sha, prefix + entry.name)
            elif len(prefix + entry.name) == 40:
                yield prefix + entry.name, entry.sha

    def _diff(self, old: str, new: str, prefix: str) -> Iterator[tuple[str, str]]:
        old_entries, new_entries = self.objects.tree(old), self.objects.tree(new)
        self.objects.prefetch(
            [e.sha for n, e in new_entries.items() if e.is_tree and e != old_entries.get(n)]
            + [e.sha for n, e in old_entries.items() if e.is_tree and e != new_entries.get(n)]
        )
        for name, entry in new_entries.items():
            before = old_entries.get(name)
            if before is not None and before.sha == entry.sha:
                continue
            if entry.is_tree and before is not None and before.is_tree:
                yield from self._diff(before.sha, entry.sha, prefix + name)
            elif entry.is_tree:
                yield from self._walk(entry.sha, prefix + name)
            elif len(prefix + name) == 40:
                yield prefix + name, entry.sha
