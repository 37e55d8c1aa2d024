"""Git objects written and read in-process: loose objects, trees and commits.

Writing a candidate must not cost several `git` subprocesses, so objects are encoded here
(the format git documents: `<type> <size>\\0<body>`, zlib-deflated, named by its SHA-1) and
written as loose objects: to a `tmp_obj_*` file in the object's fan-out directory, then
renamed into place, so a reader or `git fsck` never sees a partial object (git itself
tolerates and later prunes stale `tmp_obj_*` files). Reading tries the loose file first and
falls back to one long-lived `git cat-file --batch` child for packed objects.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path

from tools.errors import BadInput

BLOB_MODE = b"100644"
TREE_MODE = b"40000"


@dataclass(frozen=True)
class TreeEntry:
    name: str
    mode: bytes
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == TREE_MODE


def object_bytes(kind: str, body: bytes) -> tuple[str, bytes]:
    """(sha, raw) of an object: raw is the header and body, before compression."""
    raw = f"{kind} {len(body)}\0".encode() + body
    return hashlib.sha1(raw).hexdigest(), raw


def encode_tree(entries: list[TreeEntry]) -> bytes:
    """Git tree body; entries sorted the way git sorts them (a tree sorts as `name/`)."""
    key = lambda e: e.name.encode() + (b"/" if e.is_tree else b"")
    return b"".join(e.mode + b" " + e.name.encode() + b"\0" + bytes.fromhex(e.sha) for e in sorted(entries, key=key))


def parse_tree(body: bytes) -> list[TreeEntry]:
    entries, pos = [], 0
    while pos < len(body):
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        sha = body[nul + 1 : nul + 21].hex()
        entries.append(TreeEntry(body[space + 1 : nul].decode(), body[pos:space], sha))
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

    def write(self, kind: str, body: bytes) -> str:
        sha, raw = object_bytes(kind, body)
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

    def write_tree(self, entries: list[TreeEntry]) -> str:
        return self.write("tree", encode_tree(entries))

    def read(self, sha: str) -> tuple[str, bytes]:
        """(type, body) of an object, loose or packed; BadInput (a corrupt archive) if it is missing."""
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
            if len(cached) > 64:  # the notes fan-out root: read on every attach
                if len(self._trees) > 8:
                    self._trees.clear()
                self._trees[sha] = cached
        return dict(cached)

    def _read_batch(self, sha: str) -> tuple[str, bytes]:
        with self._batch_lock:
            proc = self._batch_process()
            proc.stdin.write(sha.encode() + b"\n")
            proc.stdin.flush()
            header = proc.stdout.readline().decode().split()
            if len(header) != 3:
                raise BadInput(f"object {sha} is missing from {self.git_dir}; the archive is corrupt (run `clade archive fsck`)")
            body = proc.stdout.read(int(header[2]) + 1)[:-1]
            return header[1], body

    def _batch_process(self) -> subprocess.Popen:
        if self._batch is None or self._batch.poll() is not None:
            self._batch = subprocess.Popen(
                ["git", "--git-dir", str(self.git_dir), "cat-file", "--batch"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            )
        return self._batch

    def close(self) -> None:
        if self._batch is not None:
            self._batch.stdin.close()
            self._batch.wait()
            self._batch = None
