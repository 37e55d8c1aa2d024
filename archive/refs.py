"""References of the archive repository, and the writers' lock.

Loose refs are read as files and `packed-refs` is parsed (after `git pack-refs` or a fetch,
refs may live there). A ref is written by writing its new value to a temporary file under
`clade-tmp/` and swapping it into place (`_swap_into_place`), so a ref is always either its old or its
new value, and it is updated only after every object it names is in place. All updates
happen under `WriterLock`, an exclusive `flock` on `clade.lock` that serialises writers
across threads and processes.
"""

from __future__ import annotations

import ctypes
import fcntl
import functools
import os
import threading
import uuid
from pathlib import Path

CANDIDATES = "refs/candidates/"
NOTES = "refs/notes/clade"
MARKER = "refs/clade/archive"
TMP_DIR = "clade-tmp"
LOCK_FILE = "clade.lock"


class RefStore:
    def __init__(self, git_dir: Path, *, fsync: bool = False):
        self.git_dir = git_dir
        self._git = str(git_dir)
        self.fsync = fsync
        self._dirs: set[str] = set()

    def read(self, name: str) -> str | None:
        """The SHA a ref names, or None when it does not exist."""
        try:
            with open(f"{self._git}/{name}") as f:
                value = f.read().strip()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return self.packed().get(name)
        if value.startswith("ref: "):
            return self.read(value[5:])
        return value or None

    def packed(self) -> dict[str, str]:
        try:
            text = (self.git_dir / "packed-refs").read_text()
        except FileNotFoundError:
            return {}
        refs = {}
        for line in text.splitlines():
            if line and line[0] not in "#^":
                sha, _, name = line.partition(" ")
                refs[name] = sha
        return refs

    def candidate_ids(self) -> set[str]:
        """Every id under refs/candidates/ (names only: a candidate ref never changes)."""
        ids = {n[len(CANDIDATES) :] for n in self.packed() if n.startswith(CANDIDATES)}
        try:
            with os.scandir(self.git_dir / CANDIDATES) as entries:
                ids.update(e.name for e in entries if not e.name.endswith(".lock"))
        except FileNotFoundError:
            pass
        return ids

    def candidate_refs(self) -> dict[str, str]:
        """id -> commit SHA of every candidate."""
        return {i: sha for i in self.candidate_ids() if (sha := self.read(CANDIDATES + i))}

    def write(self, name: str, sha: str) -> None:
        tmp = f"{self._ensure(f'{self._git}/{TMP_DIR}')}/ref-{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, (sha + "\n").encode())
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        target = f"{self._git}/{name}"
        self._ensure(os.path.dirname(target))
        _swap_into_place(tmp, target)

    def _ensure(self, directory: str) -> str:
        if directory not in self._dirs:
            os.makedirs(directory, exist_ok=True)
            self._dirs.add(directory)
        return directory

    def clean_tmp(self) -> None:
        """Remove temporaries a killed writer left (call only while holding WriterLock)."""
        for stale in (self.git_dir / TMP_DIR).glob("ref-*"):
            stale.unlink(missing_ok=True)


def _swap_into_place(tmp: str, target: str) -> None:
    """Atomically make `target` the file `tmp`. Renaming over an existing file makes ext4
    (`auto_da_alloc`) write the new file's data out first, about 2 ms a call: the notes ref
    is replaced on every attach. Exchanging the two names (`renameat2(RENAME_EXCHANGE)`) is
    just as atomic and skips that; the old value is then left at `tmp` and removed (a kill
    in between leaves it for `clean_tmp`). Elsewhere, or for a new ref, a plain rename."""
    exchange = _renameat2()
    if exchange is not None and exchange(-100, tmp.encode(), -100, target.encode(), 2) == 0:  # AT_FDCWD, RENAME_EXCHANGE
        os.unlink(tmp)
        return
    os.replace(tmp, target)  # target missing (ENOENT), or no renameat2 / filesystem without it (ENOSYS, EINVAL)


@functools.cache
def _renameat2():
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


class WriterLock:
    """Exclusive lock shared by every writer of one archive, in any thread or process."""

    _thread_locks: dict[Path, threading.RLock] = {}
    _guard = threading.Lock()

    def __init__(self, git_dir: Path):
        self.path = git_dir / LOCK_FILE
        with WriterLock._guard:
            self._thread_lock = WriterLock._thread_locks.setdefault(self.path.resolve(), threading.RLock())
        self._fd: int | None = None  # opened on first use, kept until close()
        self._depth = 0

    def __enter__(self) -> "WriterLock":
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                if self._fd is None:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
