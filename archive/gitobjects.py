"""Git objects written and read in-process: blobs, trees and commits.

Writing a candidate must not cost several `git` subprocesses, so objects are encoded here
(the format git documents: `<type> <size>\\0<body>`, named by its SHA-1). Inside
`ObjectStore.batch()` a thread's writes are collected and `flush()` writes them as one pack
(archive/packs.py); outside a batch an object is written loose: to a `tmp_obj_*` file in
its fan-out directory, then renamed into place, so a reader or `git fsck` never sees a
partial object. Reading tries the objects this process wrote, then a loose file, then one
long-lived `git cat-file --batch` child (which rescans the packs when it misses).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from archive.packs import maybe_merge, pack_entries, write_pack
from tools.errors import BadInput

RECENT_LIMIT = 4096

BLOB_MODE = b"100644"
TREE_MODE = b"40000"


class TreeEntry:
    """One entry of a git tree; `line` is its encoded form, kept from parsing or made once."""

    __slots__ = ("name", "mode", "sha", "_line")

    def __init__(self, name: str, mode: bytes, sha: str, line: bytes | None = None):
        self.name, self.mode, self.sha, self._line = name, mode, sha, line

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE

    @property
    def line(self) -> bytes:
        if self._line is None:
            self._line = b"%s %s\0%s" % (self.mode, self.name.encode(), bytes.fromhex(self.sha))
        return self._line

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TreeEntry) and (self.name, self.mode, self.sha) == (other.name, other.mode, other.sha)

    def __hash__(self) -> int:
        return hash((self.name, self.mode, self.sha))

    def __repr__(self) -> str:
        return f"TreeEntry({self.name!r}, {self.mode!r}, {self.sha!r})"


def object_bytes(kind: str, body: bytes) -> tuple[str, bytes]:
    """(sha, raw) of an object: raw is the header and body, before compression."""
    raw = f"{kind} {len(body)}\0".encode() + body
    return hashlib.sha1(raw).hexdigest(), raw


def encode_tree(entries: list[TreeEntry], *, presorted: bool = False) -> bytes:
    """Git tree body; entries sorted the way git sorts them (a tree sorts as `name/`; UTF-8 byte
    order is code point order, so sorting the str names is sorting their bytes). `presorted`:
    the caller knows they are in that order already (a parsed tree with one entry replaced)."""
    return b"".join(e.line for e in (entries if presorted else sorted(entries, key=_sort_key)))


def _sort_key(e: TreeEntry) -> str:
    return e.name + "/" if e.mode == TREE_MODE else e.name


def parse_tree(body: bytes) -> list[TreeEntry]:
    entries, pos = [], 0
    while pos < len(body):
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        sha = body[nul + 1 : nul + 21].hex()
        entries.append(TreeEntry(body[space + 1 : nul].decode(), body[pos:space], sha, body[pos : nul + 21]))
        pos = nul + 21
    return entries


def encode_commit(tree: str, parents: list[str], author: str, when: int, message: str) -> bytes:
    """Commit body; `author` is `Name <email>`, `when` seconds since the epoch (UTC)."""
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
    lines += [f"author {author} {when} +0000", f"committer {author} {when} +0000"]
    return ("\n".join(lines) + "\n\n" + message.rstrip("\n") + "\n").encode()


def parse_commit(body: bytes) -> tuple[str, list[str], str]:
    """(tree, parents, message) of a commit body."""
    head, _, message = body.partition(b"\n\n")
    tree, parents = "", []
    for line in head.split(b"\n"):
        if line.startswith(b"tree "):
            tree = line[5:].decode()
        elif line.startswith(b"parent "):
            parents.append(line[7:].decode())
    return tree, parents, message.decode()


class ObjectStore:
    """The `objects/` directory of one repository: write loose objects, read any object."""

    def __init__(self, git_dir: Path, *, fsync: bool = False):
        self.git_dir = git_dir
        self.objects = git_dir / "objects"
        self._objects = str(self.objects)
        self._dirs: set[str] = set()
        self._trees: dict[str, dict[str, TreeEntry]] = {}
        self.fsync = fsync
        self._batch: subprocess.Popen | None = None
        self._batch_lock = threading.Lock()
        self._local = threading.local()
        self._recent: dict[str, tuple[str, bytes]] = {}
        self._pack_sizes: dict[str, int] = {}
        self._flushes = 0
        self._pack_entries: dict[str, list] = {}

    def write(self, kind: str, body: bytes) -> str:
        sha, raw = object_bytes(kind, body)
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending[sha] = (kind, body)
            return sha
        return self._write_loose(sha, raw)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Collect this thread's writes; `flush()` (and a normal exit) writes them as one pack."""
        self._local.pending = {}
        try:
            yield
            self.flush()
        finally:
            self._local.pending = None

    def flush(self) -> None:
        """Write this thread's collected objects as one pack (before any ref may name them)."""
        pending = getattr(self._local, "pending", None)
        if pending:
            entries = pack_entries(pending)
            name = write_pack(self.objects / "pack", entries, fsync=self.fsync)
            if len(self._pack_entries) < 256:  # kept for merging without reading the pack back
                self._pack_entries[name] = entries
            if len(self._recent) > RECENT_LIMIT:
                self._recent = {}
            self._recent.update(pending)
            pending.clear()

    def compact(self) -> bool:
        """Merge small packs when enough have piled up (call while holding the writer lock; looks every 8th call)."""
        self._flushes += 1
        return self._flushes % 8 == 0 and maybe_merge(self.objects / "pack", self._pack_sizes, self._pack_entries, fsync=self.fsync)

    def _write_loose(self, sha: str, raw: bytes) -> str:
        directory = f"{self._objects}/{sha[:2]}"
        path = f"{directory}/{sha[2:]}"
        if os.path.exists(path):
            return sha
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)
        tmp = f"{directory}/tmp_obj_{os.getpid()}_{threading.get_ident()}_{sha[:8]}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o444)
        try:
            os.write(fd, zlib.compress(raw, 1))
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return sha

    def write_blob(self, data: bytes) -> str:
        return self.write("blob", data)

    def write_tree(self, entries: list[TreeEntry], *, presorted: bool = False) -> str:
        ordered = entries if presorted else sorted(entries, key=_sort_key)
        sha = self.write("tree", encode_tree(ordered, presorted=True))
        if len(ordered) > 64:  # the notes fan-out root: read back (in this sorted order) on the next attach
            self._cache_tree(sha, {e.name: e for e in ordered})
        return sha

    def read(self, sha: str) -> tuple[str, bytes]:
        """(type, body) of an object, loose or packed; BadInput (a corrupt archive) if it is missing."""
        recent = self._recent.get(sha)
        if recent is not None:
            return recent
        try:
            with open(f"{self._objects}/{sha[:2]}/{sha[2:]}", "rb") as f:
                raw = zlib.decompress(f.read())
        except FileNotFoundError:
            return self._read_batch(sha)
        except zlib.error as exc:
            raise BadInput(f"{self.objects / sha[:2] / sha[2:]}: corrupt loose object ({exc}); run `clade archive fsck`") from None
        header, _, body = raw.partition(b"\0")
        kind, _, _size = header.decode().partition(" ")
        return kind, body

    def read_many(self, shas: list[str]) -> dict[str, tuple[str, bytes]]:
        """Many objects at once: one `git cat-file --batch` run for those not in memory."""
        found, rest = {}, []
        for sha in dict.fromkeys(shas):
            if sha in self._recent:
                found[sha] = self._recent[sha]
            else:
                rest.append(sha)  # loose or packed: cat-file reads both
        if rest:
            found.update(self._cat_file(rest))
        return found

    def _cat_file(self, shas: list[str]) -> dict[str, tuple[str, bytes]]:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"], input="\n".join(shas).encode() + b"\n", capture_output=True
        )
        if done.returncode != 0:
            raise BadInput(
                f"{self.git_dir}: `git cat-file --batch` failed ({done.stderr.decode(errors='replace').strip()[:200]}); run `clade archive fsck`"
            )
        out, pos, found = done.stdout, 0, {}
        for sha in shas:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode().split()
            if len(header) != 3:
                raise BadInput(f"object {sha} is missing from {self.git_dir}; the archive is corrupt (run `clade archive fsck`)")
            size = int(header[2])
            found[sha] = (header[1], out[end + 1 : end + 1 + size])
            pos = end + 2 + size
        return found

    def prefetch(self, shas: list[str]) -> None:
        """Read objects ahead into the in-memory cache (the subtrees of a notes tree)."""
        if len(self._recent) + len(shas) > RECENT_LIMIT:
            self._recent = {}
        self._recent.update(self.read_many(shas))

    def read_kind(self, sha: str, expected: str) -> bytes:
        kind, body = self.read(sha)
        if kind != expected:
            raise BadInput(f"object {sha} is a {kind}, expected a {expected}; the archive is corrupt (run `clade archive fsck`)")
        return body

    def tree(self, sha: str) -> dict[str, TreeEntry]:
        """A tree's entries by name (a fresh dict the caller may change; big trees are cached)."""
        cached = self._trees.get(sha)
        if cached is None:
            cached = {e.name: e for e in parse_tree(self.read_kind(sha, "tree"))}
            if len(cached) > 64:
                self._cache_tree(sha, cached)
        return dict(cached)

    def _cache_tree(self, sha: str, entries: dict[str, TreeEntry]) -> None:
        if len(self._trees) > 8:
            self._trees = {}
        self._trees[sha] = entries

    def _read_batch(self, sha: str) -> tuple[str, bytes]:
        with self._batch_lock:
            for _ in range(2):  # a miss is retried once in a fresh child (packs merged away under it)
                proc = self._batch_process()
                try:
                    proc.stdin.write(sha.encode() + b"\n")
                    proc.stdin.flush()
                    header = proc.stdout.readline().decode().split()
                except BrokenPipeError:
                    header = []
                if len(header) == 3:
                    return header[1], proc.stdout.read(int(header[2]) + 1)[:-1]
                self.close()
            raise BadInput(f"object {sha} is missing from {self.git_dir}; the archive is corrupt (run `clade archive fsck`)")

    def _batch_process(self) -> subprocess.Popen:
        if self._batch is None or self._batch.poll() is not None:
            self._batch = subprocess.Popen(
                ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._batch

    def close(self) -> None:
        if self._batch is not None:
            try:
                self._batch.stdin.close()
            except BrokenPipeError:
                pass  # the child already exited
            self._batch.wait()
            self._batch = None
